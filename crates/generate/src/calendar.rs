//! The months of the generated period.
//!
//! The data set covers `months` whole calendar months ending just before `end` (which must be
//! the first day of a month). Month `i` (0-based) is the `i`-th calendar month of the period;
//! every monthly badge is worn from its first to its last day, so a reading belongs to exactly
//! one month whichever of its dates a consumer looks at.

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeZone, Timelike, Utc, Weekday};

/// The months of the period.
#[derive(Debug, Clone)]
pub(crate) struct Calendar {
    start: NaiveDate,
    months: u32,
}

impl Calendar {
    /// The period of `months` months ending just before `end`; `None` when `end` is not the
    /// first day of a month or the arithmetic leaves chrono's range.
    pub(crate) fn new(end: NaiveDate, months: u32) -> Option<Calendar> {
        if end.day() != 1 {
            return None;
        }
        let start = end.checked_sub_months(Months::new(months))?;
        Some(Calendar { start, months })
    }

    /// Number of months.
    pub(crate) fn len(&self) -> u32 {
        self.months
    }

    /// First day of month `i` (`i == len()` gives the exclusive end).
    pub(crate) fn month_start(&self, i: u32) -> NaiveDate {
        // The range was checked in `new`; later months lie between start and end.
        self.start.checked_add_months(Months::new(i)).unwrap_or(NaiveDate::MAX)
    }

    /// Last day of month `i`.
    pub(crate) fn month_last_day(&self, i: u32) -> NaiveDate {
        self.month_start(i + 1).pred_opt().unwrap_or(NaiveDate::MIN)
    }

    /// Calendar month (1 = January) of month `i`.
    pub(crate) fn calendar_month(&self, i: u32) -> u32 {
        self.month_start(i).month()
    }

    /// `yyyymm` of month `i`, used in reading ids.
    pub(crate) fn yyyymm(&self, i: u32) -> String {
        let d = self.month_start(i);
        format!("{:04}{:02}", d.year(), d.month())
    }

    /// Monday-to-Friday days of month `i`, when scheduled procedures happen.
    pub(crate) fn working_days(&self, i: u32) -> Vec<NaiveDate> {
        let first = self.month_start(i);
        let next = self.month_start(i + 1);
        first
            .iter_days()
            .take_while(|d| *d < next)
            .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
            .collect()
    }

    /// The latest month index whose calendar month is `cal_month` and that still leaves `len`
    /// months of data from it.
    pub(crate) fn latest_start_in(&self, cal_month: u32, len: u32) -> Option<u32> {
        (0..=self.months.checked_sub(len)?).rev().find(|i| self.calendar_month(*i) == cal_month)
    }
}

/// Midnight UTC of a date.
pub(crate) fn midnight(d: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
}

/// `yyyymmdd`, used in ids.
pub(crate) fn compact(d: NaiveDate) -> String {
    format!("{:04}{:02}{:02}", d.year(), d.month(), d.day())
}

/// RFC 3339 with a `Z` and whole seconds, the form every timestamp is written in.
pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    // Hand-rolled: chrono's strftime parses the pattern on every call, and millions of
    // timestamps are written.
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", t.year(), t.month(), t.day(), t.hour(), t.minute(), t.second())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_period_runs_november_to_october() {
        let c = Calendar::new(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(), 24).unwrap();
        assert_eq!(c.month_start(0).to_string(), "2024-11-01");
        assert_eq!(c.month_last_day(23).to_string(), "2026-10-31");
        assert_eq!(c.month_last_day(3).to_string(), "2025-02-28");
        assert_eq!(c.latest_start_in(6, 12), Some(7)); // June 2025 → May 2026
        assert_eq!(c.latest_start_in(4, 6), Some(17)); // April 2026 → September 2026
        assert_eq!(c.working_days(0).len(), 21); // November 2024
        assert!(Calendar::new(NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(), 24).is_none());
        let t = midnight(NaiveDate::from_ymd_opt(2025, 3, 9).unwrap()) + chrono::Duration::seconds(7 * 3600 + 65);
        assert_eq!(rfc3339(t), "2025-03-09T07:01:05Z");
    }
}
