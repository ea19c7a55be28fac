//! The streaming rules and the rolling state they read.
//!
//! Layout: this file holds what a legal result is ([`LegalResult`], [`is_legal`],
//! [`counted_dose`], the calendar-month arithmetic); `state` keeps the rolling state
//! ([`Rules`] and its upserts); `evaluate` turns the state into alerts, one function per rule;
//! [`replay`] rebuilds the state from the lake at start-up.
//!
//! The rules are those of the detection views (`queries/legal_results.sql`,
//! `rolling_12_months.sql`, `overexposure.sql`), restated over an in-memory state so they can
//! run on every flush; the same numbers come from `[limits]`. The state is built by replaying
//! the lake through the same upserts as the stream, so a restart sees what the stream saw. Each
//! evaluation is a function of the state alone, never of arrival order: the conditions a
//! reading touches are recomputed from scratch, and their ids (see [`crate::alert`]) say
//! whether they are new.
//!
//! **Legal results** (what counts toward limits): Hp10 from a passive badge not worn over the
//! apron or at the collar; Hp3 and Hp007 from any non-operational dosimeter. One copy per
//! identity `(source, reading_id)` (highest revision, then first ingested), then one result per
//! dosimeter and wearing period (a result with a dose over a missing one, then the highest
//! revision, then the latest ingested). Each result has a body site (`whole_body` for Hp10,
//! else `position/laterality`: the lens and extremity limits apply to each eye, each hand) and
//! a calendar month, the month holding the last instant of its period. Below-threshold results
//! count 0, missing ones (lost, not returned…) count nothing and are reported.
//! Apprentices are compared with their own limits, from the worker version valid when the
//! result ended (the earliest version for older results).
//!
//! | rule | level | fires when | window (part of the id) |
//! |---|---|---|---|
//! | `single_result` | `esr` | one legal result ≥ `esr_fraction` × the annual limit | the wearing period |
//! | `rolling_12_months` | `investigation`, `limit` | the sum over a result's month and the 11 before exceeds the level while the window at the previous month with results did not (one alert per episode, on its first window) | the 12 calendar months |
//! | `pregnancy` | `pregnancy` | Hp10 results starting from the declaration date, while a worker version carries the declaration (and within `pregnancy_months` of it when not 0), add up to more than `pregnancy_msv` | the declaration date (open end) |
//! | `operational_alarm` | `alarm` | one operational entry with a dose ≥ the alarm level | entry → exit |
//!
//! Sums are rounded to 1e-6 mSv before they are compared, as the views do, so that two-decimal
//! results adding up to exactly a limit are not "above" it by floating-point noise. When both
//! levels of a sum cross at the same window, only `limit` is raised.

use std::collections::BTreeMap;

use alara_model::{BodySite, Laterality, Monitoring, Position, Quantity, Status};
use chrono::{DateTime, Datelike, NaiveDate, Utc};

pub use state::Rules;

pub mod checkpoint;
mod evaluate;
pub mod replay;
mod state;
#[cfg(test)]
mod tests;

/// The identity of a reading: `(source, reading_id)`.
pub type Key = (String, String);

/// One dosimeter and wearing period, within a series.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Slot {
    dosimeter_id: String,
    period_start: DateTime<Utc>,
    period_end: DateTime<Utc>,
}

/// Worker × quantity × body site.
pub type SeriesKey = (String, Quantity, String);

/// A series' results: per calendar month, per dosimeter and period, the identities present.
pub(crate) type ByMonth = BTreeMap<i32, BTreeMap<Slot, Vec<Key>>>;

/// What the rules keep of one legal result: a reading that counts toward the limits.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct LegalResult {
    pub(crate) worker_id: String,
    pub(crate) department: String,
    pub(crate) quantity: Quantity,
    pub(crate) monitoring: Monitoring,
    pub(crate) body_site: String,
    pub(crate) dosimeter_id: String,
    pub(crate) status: Status,
    pub(crate) revision: i64,
    /// The dose counted in sums: the value of a measured or estimated result, 0 below the
    /// recording threshold, `None` for a missing result.
    pub(crate) counted: Option<f64>,
    pub(crate) period_start: DateTime<Utc>,
    pub(crate) period_end: DateTime<Utc>,
    pub(crate) ingested_at: DateTime<Utc>,
    pub(crate) origin: String,
}

impl LegalResult {
    pub(crate) fn series(&self) -> SeriesKey {
        (self.worker_id.clone(), self.quantity, self.body_site.clone())
    }

    pub(crate) fn slot(&self) -> Slot {
        Slot { dosimeter_id: self.dosimeter_id.clone(), period_start: self.period_start, period_end: self.period_end }
    }

    pub(crate) fn is_missing(&self) -> bool {
        matches!(self.status, Status::NotReturned | Status::Lost | Status::Damaged | Status::NoResult)
    }
}

/// What the rules keep of one worker version (`valid_from` is its key in the state).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct WorkerVersion {
    pub(crate) ingested_at: DateTime<Utc>,
    pub(crate) department: String,
    pub(crate) apprentice: bool,
    pub(crate) pregnancy_declared_on: Option<NaiveDate>,
}

/// Whether a reading counts toward the limits (see the module documentation).
pub(crate) fn is_legal(monitoring: Monitoring, quantity: Quantity, position: Option<Position>) -> bool {
    match quantity {
        Quantity::Hp10 => {
            monitoring == Monitoring::Passive && !matches!(position, Some(Position::OverApron | Position::Collar))
        }
        Quantity::Hp3 | Quantity::Hp007 => monitoring != Monitoring::Operational,
    }
}

/// `whole_body` for Hp10, else `position/laterality` (`unspecified` when absent): the spelling
/// of [`BodySite`], used as part of a series' key and of alert ids.
pub(crate) fn body_site(quantity: Quantity, position: Option<Position>, laterality: Option<Laterality>) -> String {
    BodySite::of(quantity, position, laterality).to_string()
}

/// The dose counted in sums.
pub(crate) fn counted_dose(status: Status, dose_msv: Option<f64>) -> Option<f64> {
    match status {
        Status::Measured | Status::Estimated => dose_msv,
        Status::BelowThreshold => Some(0.0),
        _ => None,
    }
}

/// The calendar month (year × 12 + month − 1) holding the last instant of a period ending at
/// `end`, whichever convention the lab uses (last day, or midnight of the next day).
pub(crate) fn month_of(end: DateTime<Utc>) -> i32 {
    let last = end - chrono::Duration::microseconds(1);
    last.year() * 12 + last.month0() as i32
}

/// Midnight UTC of the first day of a month number.
pub(crate) fn month_start(month: i32) -> DateTime<Utc> {
    let (y, m) = (month.div_euclid(12), month.rem_euclid(12) as u32 + 1);
    // Month numbers come from valid dates, so the first of the month exists.
    NaiveDate::from_ymd_opt(y, m, 1).map(midnight).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

pub(crate) fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// Long name of a quantity and body site for alert summaries.
pub(crate) fn quantity_label(q: Quantity, site: &str) -> String {
    match q {
        Quantity::Hp10 => "Hp10 (whole body)".into(),
        Quantity::Hp3 => format!("Hp3 (eye lens, {site})"),
        Quantity::Hp007 => format!("Hp007 (skin/extremities, {site})"),
    }
}

/// One 12-month window evaluated.
pub(crate) struct Sum {
    pub(crate) month: i32,
    pub(crate) dose: f64,
    pub(crate) apprentice: bool,
    pub(crate) missing: usize,
}
