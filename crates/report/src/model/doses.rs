//! Who the workers are, the thresholds in force, and the dose series: 12-month totals per
//! body site, monthly sums, and the rolling series the charts draw.

use std::collections::BTreeMap;

use alara_model::ReportPeriod as Bounds;
use chrono::{Datelike, Months, NaiveDate};

use crate::fmt::date_of;
use crate::table::Table;

/// What is known of a worker.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Person {
    /// Department (current version, else that of the latest reading).
    pub department: String,
    /// The worker's job, when known.
    pub role: Option<String>,
    /// Category A/B/none.
    pub category: Option<String>,
    /// Apprentice aged 16–18 (lower limits).
    pub apprentice: bool,
    /// Declared pregnancy date.
    pub pregnancy_declared_on: Option<i64>,
}

/// Workers by id.
pub fn people(tables: &BTreeMap<String, Table>) -> BTreeMap<String, Person> {
    let mut out = BTreeMap::new();
    if let Some(t) = tables.get("people") {
        for r in t.iter() {
            out.insert(
                r.str("worker_id"),
                Person {
                    department: r.str("department"),
                    role: r.text("role"),
                    category: r.text("category"),
                    apprentice: r.bool("apprentice").unwrap_or(false),
                    pregnancy_declared_on: r.time("pregnancy_declared_on"),
                },
            );
        }
    }
    out
}

/// Thresholds in force: (population, quantity, level) → mSv.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Thresholds(pub BTreeMap<(String, String, String), f64>);

impl Thresholds {
    /// From the `thresholds` table, with the regulatory defaults where it is absent.
    pub fn from_tables(tables: &BTreeMap<String, Table>) -> Thresholds {
        let mut m = BTreeMap::new();
        for (pop, lim, inv) in [("adult", [20.0, 20.0, 500.0], [6.0, 15.0, 150.0])] {
            for (i, q) in ["Hp10", "Hp3", "Hp007"].into_iter().enumerate() {
                m.insert((pop.to_string(), q.to_string(), "limit".to_string()), lim[i]);
                m.insert((pop.to_string(), q.to_string(), "investigation".to_string()), inv[i]);
            }
        }
        for (i, q) in ["Hp10", "Hp3", "Hp007"].into_iter().enumerate() {
            m.insert(("apprentice".into(), q.into(), "limit".into()), [6.0, 15.0, 150.0][i]);
        }
        if let Some(t) = tables.get("thresholds") {
            for r in t.iter() {
                if let Some(v) = r.float("threshold_msv") {
                    m.insert((r.str("population"), r.str("quantity"), r.str("level")), v);
                }
            }
        }
        Thresholds(m)
    }

    /// A threshold for a worker (apprentices have their own limits).
    pub fn get(&self, person: Option<&Person>, quantity: &str, level: &str) -> Option<f64> {
        let pop = if person.is_some_and(|p| p.apprentice) { "apprentice" } else { "adult" };
        self.0
            .get(&(pop.to_string(), quantity.to_string(), level.to_string()))
            .or_else(|| self.0.get(&("adult".to_string(), quantity.to_string(), level.to_string())))
            .copied()
    }
}

/// A worker's doses for one quantity at one body site.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    /// Since 1 January of the as-of year.
    pub year_to_date: f64,
    /// Over the 12 months that end at the as-of date.
    pub rolling_12: f64,
    /// Everything in the lake.
    pub career: f64,
    /// Periods with no result (not returned, lost…) in the last 12 months.
    pub missing_12: i64,
    /// Last period with a result.
    pub last_period_end: Option<i64>,
}

/// (worker, quantity, body site).
pub type SiteKey = (String, String, String);

/// Totals per worker, quantity and body site.
pub fn totals(tables: &BTreeMap<String, Table>) -> BTreeMap<SiteKey, Totals> {
    let mut out = BTreeMap::new();
    if let Some(t) = tables.get("worker_doses") {
        for r in t.iter() {
            out.insert(
                (r.str("worker_id"), r.str("quantity"), r.str("body_site")),
                Totals {
                    year_to_date: r.float("year_to_date_msv").unwrap_or(0.0),
                    rolling_12: r.float("rolling_12_months_msv").unwrap_or(0.0),
                    career: r.float("career_msv").unwrap_or(0.0),
                    missing_12: r.int("missing_12_months").unwrap_or(0),
                    last_period_end: r.time("last_period_end"),
                },
            );
        }
    }
    out
}

/// One calendar month of a worker's record for one quantity and body site (periods by the
/// month holding their last instant).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Month {
    /// Sum of the counted doses of the month's periods.
    pub dose: f64,
    /// Periods with a result (measured, below threshold or estimated).
    pub read: i64,
    /// Below-threshold results.
    pub below_threshold: i64,
    /// Periods without a result.
    pub missing: i64,
    /// Doses assigned by the occupational physician.
    pub estimated: i64,
}

/// (worker, quantity, body site) → first day of month → month.
pub type Monthly = BTreeMap<SiteKey, BTreeMap<NaiveDate, Month>>;

/// First day of the month of a date.
pub fn month_of(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

/// The month a wearing period belongs to: the one holding its last instant, so that a period
/// ending at midnight of the 1st belongs to the month before.
pub fn period_month(period_end: i64) -> Option<NaiveDate> {
    date_of(period_end - 1).map(month_of)
}

/// Monthly records from `dose_by_period`.
pub fn monthly(tables: &BTreeMap<String, Table>) -> Monthly {
    let mut out: Monthly = BTreeMap::new();
    if let Some(t) = tables.get("dose_by_period") {
        for r in t.iter() {
            let Some(month) = r.time("period_end").and_then(period_month) else { continue };
            let key = (r.str("worker_id"), r.str("quantity"), r.str("body_site"));
            let m = out.entry(key).or_default().entry(month).or_default();
            let status = r.str("status");
            if r.bool("is_missing").unwrap_or(false) {
                m.missing += 1;
            } else {
                m.read += 1;
            }
            m.dose += r.float("counted_msv").unwrap_or(0.0);
            if status == "below_threshold" {
                m.below_threshold += 1;
            }
            if status == "estimated" {
                m.estimated += 1;
            }
        }
    }
    out
}

/// The months a chart shows: 24 calendar months ending with the as-of month.
pub fn chart_months(b: &Bounds) -> Vec<NaiveDate> {
    let last = month_of(b.as_of);
    (0..24).rev().filter_map(|i| last.checked_sub_months(Months::new(i))).collect()
}

/// One point of a rolling series.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// First day of the month.
    pub month: NaiveDate,
    /// Dose of periods ending in that month.
    pub month_dose: f64,
    /// Sum over the 12 months ending with it.
    pub rolling: f64,
    /// Some period of the month has no result.
    pub missing: bool,
}

/// The 12-month rolling dose at the end of each chart month.
pub fn rolling_series(months: &BTreeMap<NaiveDate, Month>, b: &Bounds) -> Vec<Point> {
    chart_months(b)
        .into_iter()
        .map(|m| {
            let from = m.checked_sub_months(Months::new(11)).unwrap_or(m);
            let rolling = months.range(from..=m).map(|(_, v)| v.dose).sum();
            let cur = months.get(&m);
            Point {
                month: m,
                month_dose: cur.map(|c| c.dose).unwrap_or(0.0),
                rolling,
                missing: cur.is_some_and(|c| c.missing > 0),
            }
        })
        .collect()
}

/// The dose accumulated since a pregnancy declaration, at the end of each chart month: results
/// of periods that start on or after the declaration count (for monthly badges, from the month
/// after the declaration unless it was made on the 1st).
pub fn since_series(months: &BTreeMap<NaiveDate, Month>, b: &Bounds, declared: NaiveDate) -> Vec<Point> {
    let first = if declared.day() == 1 {
        declared
    } else {
        month_of(declared).checked_add_months(Months::new(1)).unwrap_or(declared)
    };
    chart_months(b)
        .into_iter()
        .map(|m| {
            let cur = months.get(&m);
            let counted = m >= first;
            Point {
                month: m,
                month_dose: if counted { cur.map(|c| c.dose).unwrap_or(0.0) } else { 0.0 },
                rolling: if counted { months.range(first..=m).map(|(_, v)| v.dose).sum() } else { 0.0 },
                missing: cur.is_some_and(|c| c.missing > 0),
            }
        })
        .collect()
}
