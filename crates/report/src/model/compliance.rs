//! Department compliance: the share of expected results received, and its inspection band.

use std::collections::BTreeMap;

use crate::table::Table;

/// Inspection bands for a compliance rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Band {
    /// Above 85 %.
    Satisfactory,
    /// 65–85 %.
    Progress,
    /// Below 65 %.
    Priority,
}

impl Band {
    /// Band of a rate in [0, 1].
    pub fn of(rate: f64) -> Band {
        if rate > 0.85 {
            Band::Satisfactory
        } else if rate >= 0.65 {
            Band::Progress
        } else {
            Band::Priority
        }
    }

    /// The band's label, as shown on its pill (the words of ASNR's inspection letters).
    pub fn label(self, lang: crate::i18n::Lang) -> &'static str {
        lang.t(match self {
            Band::Satisfactory => "band.satisfactory",
            Band::Progress => "band.progress",
            Band::Priority => "band.priority",
        })
    }

    /// CSS class.
    pub fn class(self) -> &'static str {
        match self {
            Band::Satisfactory => "ok",
            Band::Progress => "soon",
            Band::Priority => "act",
        }
    }
}

/// A department's compliance over the last 12 months.
#[derive(Debug, Clone, PartialEq)]
pub struct Department {
    /// The department's name.
    pub name: String,
    /// Workers with a legal badge result.
    pub workers: i64,
    /// Badge periods issued (legal dosimeters).
    pub badges_issued: i64,
    /// Badges read by the lab.
    pub badges_read: i64,
    /// Not returned, lost, damaged or without result.
    pub badges_not_returned: i64,
    /// Attendances at fluoroscopy procedures.
    pub attendances: i64,
    /// Of which with an operational reading that day.
    pub attendances_with_dosimeter: i64,
}

impl Department {
    /// Share of badges returned and read.
    pub fn return_rate(&self) -> Option<f64> {
        (self.badges_issued > 0).then(|| self.badges_read as f64 / self.badges_issued as f64)
    }

    /// Share of fluoroscopy attendances with an operational dosimeter.
    pub fn wearing_rate(&self) -> Option<f64> {
        (self.attendances > 0).then(|| self.attendances_with_dosimeter as f64 / self.attendances as f64)
    }

    /// The worse of the two bands.
    pub fn band(&self) -> Option<Band> {
        let rates: Vec<f64> = [self.return_rate(), self.wearing_rate()].into_iter().flatten().collect();
        rates.into_iter().reduce(f64::min).map(Band::of)
    }
}

/// Departments from `department_compliance`.
pub fn departments(tables: &BTreeMap<String, Table>) -> Vec<Department> {
    let Some(t) = tables.get("department_compliance") else { return Vec::new() };
    t.iter()
        .map(|r| Department {
            name: r.str("department"),
            workers: r.int("workers").unwrap_or(0),
            badges_issued: r.int("badges_issued").unwrap_or(0),
            badges_read: r.int("badges_read").unwrap_or(0),
            badges_not_returned: r.int("badges_not_returned").unwrap_or(0),
            attendances: r.int("fluoroscopy_attendances").unwrap_or(0),
            attendances_with_dosimeter: r.int("attendances_with_dosimeter").unwrap_or(0),
        })
        .collect()
}
