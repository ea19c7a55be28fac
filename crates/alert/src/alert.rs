//! An alert: what a person is told, with a stable identity.
//!
//! The identity of an alert is its condition: `alert_id` is a hash of the rule, the level, the
//! worker, the quantity and the window. The same condition always gets the same id (after a
//! restart, a replayed Kafka batch, a file ingested twice), so the outbox raises it once and a
//! receiver can deduplicate on it.

use alara_model::Quantity;
pub use alara_model::{Level, Window};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Which rule fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Rule {
    /// One result at or above a quarter of the annual limit (the ESR declaration criterion).
    #[serde(rename = "single_result")]
    SingleResult,
    /// A sum over 12 consecutive months crossing the investigation level or the limit.
    #[serde(rename = "rolling_12_months")]
    Rolling12Months,
    /// Dose since a declared pregnancy above the unborn child's limit.
    #[serde(rename = "pregnancy")]
    Pregnancy,
    /// One operational (active dosimeter) entry above the local alarm level.
    #[serde(rename = "operational_alarm")]
    OperationalAlarm,
    /// Not a rule: the notice that an earlier alert no longer holds, because the results it
    /// rested on were corrected (its `withdraws` names the alert).
    #[serde(rename = "withdrawal")]
    Withdrawal,
}

impl Rule {
    /// The spelling in the outbox and payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::SingleResult => "single_result",
            Rule::Rolling12Months => "rolling_12_months",
            Rule::Pregnancy => "pregnancy",
            Rule::OperationalAlarm => "operational_alarm",
            Rule::Withdrawal => "withdrawal",
        }
    }
}

/// A reading that caused an alert (for a sum: every result of the window).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cause {
    /// Lab or system.
    pub source: String,
    /// Id at the source.
    pub reading_id: String,
    /// Revision counted.
    pub revision: i64,
    /// `passive`, `operational`, `extremity`, `lens`.
    pub monitoring: String,
    /// Lab status.
    pub status: String,
    /// Dose counted (0 for a result below the recording threshold, null for a missing one).
    pub dose_msv: Option<f64>,
    /// Wearing period start.
    pub period_start: DateTime<Utc>,
    /// Wearing period end.
    pub period_end: DateTime<Utc>,
    /// Where the record came from (file:line or topic/partition@offset).
    pub origin: String,
}

/// One alert, as stored in the outbox `payload` column and delivered to hooks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable identity of the condition (see the module documentation).
    pub alert_id: String,
    /// Pseudonymous worker id.
    pub worker_id: String,
    /// Department of the latest reading involved.
    pub department: String,
    /// The rule that fired.
    pub rule: Rule,
    /// Its level.
    pub level: Level,
    /// The quantity (`Hp10`, `Hp3`, `Hp007`).
    pub quantity: Quantity,
    /// `whole_body` for Hp10; `position/laterality` for Hp3 and Hp007, whose limits apply to
    /// each eye and each hand.
    #[serde(default)]
    pub body_site: String,
    /// The dose compared (one result, or a sum).
    pub dose_msv: f64,
    /// What it was compared with.
    pub threshold_msv: f64,
    /// The period concerned.
    pub window: Window,
    /// Results of the period with no dose (lost, not returned…): the sum may be higher.
    #[serde(default)]
    pub missing_results: usize,
    /// The readings that caused it.
    pub readings: Vec<Cause>,
    /// One line a person can act on.
    pub summary: String,
    /// Ids of the lower-level alerts this one supersedes (same worker, quantity and
    /// overlapping period).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supersedes: Vec<String>,
    /// For a withdrawal notice: the alert that no longer holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdraws: Option<String>,
    /// When alara raised it.
    pub raised_at: DateTime<Utc>,
}

/// The stable id of a condition: 32 hex characters of SHA-256 over its parts.
pub fn alert_id(
    rule: Rule,
    level: Level,
    worker_id: &str,
    quantity: Quantity,
    body_site: &str,
    window: &Window,
) -> String {
    let mut h = Sha256::new();
    for part in [
        rule.as_str(),
        level.as_str(),
        worker_id,
        quantity.as_str(),
        body_site,
        &window.start.timestamp_micros().to_string(),
        &window.end.map(|e| e.timestamp_micros().to_string()).unwrap_or_default(),
    ] {
        h.update(part.as_bytes());
        h.update([0x1f]); // a separator no part contains, so ("ab","c") and ("a","bc") differ
    }
    hex::encode(&h.finalize()[..16])
}

/// A date (or date and time when it is not midnight) for summaries.
pub fn when(t: &DateTime<Utc>) -> String {
    if t.time() == chrono::NaiveTime::MIN {
        t.format("%Y-%m-%d").to_string()
    } else {
        t.to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}

/// A sum rounded to 1e-6 mSv, far below any dosimeter's resolution, as the SQL views round
/// theirs (`round(SUM(..), 6)`): without the floating-point noise of its additions.
pub fn round_sum_msv(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// A dose for summaries: at most three decimals, no trailing zeros.
pub fn msv(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s} mSv")
}

impl Alert {
    /// The notice that this alert no longer holds (`why`: what the corrected results give now).
    /// It travels like an alert, to the hooks that wanted this one, with its own id.
    pub fn withdrawal(&self, why: &str, now: DateTime<Utc>) -> Alert {
        let mut h = Sha256::new();
        h.update(b"withdrawal\x1f");
        h.update(self.alert_id.as_bytes());
        Alert {
            alert_id: hex::encode(&h.finalize()[..16]),
            rule: Rule::Withdrawal,
            readings: Vec::new(),
            summary: format!("WITHDRAWN ({why}): {}", self.summary),
            supersedes: Vec::new(),
            withdraws: Some(self.alert_id.clone()),
            raised_at: now,
            ..self.clone()
        }
    }
}

/// A delivery: the most severe of a worker's alerts waiting together, with the others.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery<'a> {
    /// The leading alert's fields at the top level, so a simple receiver reads `summary`.
    #[serde(flatten)]
    pub head: &'a Alert,
    /// Other alerts of the same worker delivered with it, oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grouped: Vec<&'a Alert>,
}

impl Delivery<'_> {
    /// The JSON body sent to hooks.
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_vec(self).expect("alert payload serialises")
    }

    /// Every alert id of the delivery, head first.
    pub fn ids(&self) -> Vec<&str> {
        std::iter::once(self.head.alert_id.as_str()).chain(self.grouped.iter().map(|a| a.alert_id.as_str())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn ids_are_stable_and_separate_every_part() {
        let w = Window { start: t("2025-01-01T00:00:00Z"), end: Some(t("2025-01-31T00:00:00Z")) };
        let id = |w: &str, q, site: &str, win: &Window| alert_id(Rule::SingleResult, Level::Esr, w, q, site, win);
        let a = id("W1", Quantity::Hp3, "eye/left", &w);
        assert_eq!(a, id("W1", Quantity::Hp3, "eye/left", &w));
        assert_eq!(a.len(), 32);
        assert_ne!(a, id("W2", Quantity::Hp3, "eye/left", &w));
        assert_ne!(a, id("W1", Quantity::Hp10, "eye/left", &w));
        assert_ne!(a, id("W1", Quantity::Hp3, "eye/right", &w));
        let open = Window { end: None, ..w };
        assert_ne!(a, id("W1", Quantity::Hp3, "eye/left", &open));
    }

    #[test]
    fn rules_serialise_as_spelled_in_the_outbox() {
        for r in [Rule::SingleResult, Rule::Rolling12Months, Rule::Pregnancy, Rule::OperationalAlarm, Rule::Withdrawal]
        {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        for l in [Level::Alarm, Level::Investigation, Level::Esr, Level::Pregnancy, Level::Limit] {
            assert_eq!(serde_json::to_value(l).unwrap(), l.as_str());
        }
    }

    #[test]
    fn formats_for_people() {
        assert_eq!(msv(20.0), "20 mSv");
        assert_eq!(msv(5.25), "5.25 mSv");
        assert_eq!(when(&t("2025-05-31T00:00:00Z")), "2025-05-31");
        assert_eq!(when(&t("2025-05-31T10:02:00Z")), "2025-05-31T10:02:00Z");
    }
}
