//! `summary.json`: the machine-readable side of the report, and the memory that lets the next
//! report tell what is new.
//!
//! "New" is decided against a *baseline*: the findings of an earlier report. With `--since D`
//! the baseline is what a report as of `D` shows (the caller gathers it); otherwise it is the
//! previous `summary.json` found in the output directory. A re-run for the same as-of date
//! reuses the baseline that the first run used, so re-running a night gives the same bytes.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Version tag of the file format.
pub const FORMAT: &str = "alara-report-summary/1";

/// The findings of an earlier report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    /// Its as-of date.
    pub as_of: NaiveDate,
    /// `previous report` or `--since`.
    pub source: String,
    /// Keys of its findings.
    pub finding_keys: Vec<String>,
    /// Latest alert event it had seen (RFC 3339): acknowledgements after it are "since the
    /// last report".
    pub alerts_seen_until: Option<String>,
}

/// Headline numbers. Fields missing from an older summary read as 0.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counts {
    /// Workers with a legal dose result in the lake up to the as-of date.
    pub workers_monitored: u64,
    /// Workers with a finding.
    pub workers_needing_attention: u64,
    /// Workers over a limit (12-month limit or pregnancy).
    pub workers_over_limit: u64,
    /// Findings that are declaration (ESR) candidates.
    pub esr_candidates: u64,
    /// Every finding.
    pub findings: u64,
    /// Findings not in the baseline.
    pub new_findings: u64,
    /// Findings by view and level or signal.
    pub by_level: BTreeMap<String, u64>,
    /// Badge periods without a result in the last 12 months.
    pub badges_not_returned: u64,
    /// Expected results missing 20 days after their period.
    pub missing_results: u64,
    /// Results received more than 20 days after their period.
    pub late_results: u64,
    /// Rejected input records.
    pub rejected_records: u64,
    /// Alerts raised and not acknowledged.
    pub open_alerts: u64,
    /// Alerts acknowledged since the baseline.
    pub acknowledged_since_last_report: u64,
    /// Alerts withdrawn because corrected results no longer support them, and withdrawal notices.
    pub withdrawn_alerts: u64,
}

/// A finding in the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingEntry {
    /// Identity across reports.
    pub key: String,
    /// Source view.
    pub view: String,
    /// Level or signal.
    pub level_or_signal: String,
    /// The pseudonymous worker id.
    pub worker_id: String,
    /// The worker's department.
    pub department: String,
    /// The quantity concerned, when the finding has one.
    pub quantity: Option<String>,
    /// Period or window start (date).
    pub period_start: Option<String>,
    /// Period or window end (date).
    pub period_end: Option<String>,
    /// Dose (mSv).
    pub value_msv: Option<f64>,
    /// Threshold or reference (mSv).
    pub threshold_msv: Option<f64>,
    /// `act_today`, `this_week` or `check`.
    pub severity: String,
    /// Not in the baseline.
    pub new: bool,
}

/// `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// [`FORMAT`].
    pub format: String,
    /// Report date.
    pub as_of: NaiveDate,
    /// What "new" was measured against (none for a first report).
    pub baseline: Option<Baseline>,
    /// Headline numbers.
    pub counts: Counts,
    /// Workers who need attention, most urgent first.
    pub attention: Vec<String>,
    /// Workers over a limit.
    pub workers_over_limit: Vec<String>,
    /// Keys of the findings that are declaration candidates.
    pub esr_candidates: Vec<String>,
    /// Every finding, in key order.
    pub findings: Vec<FindingEntry>,
    /// Latest alert event in the lake (RFC 3339).
    pub alerts_seen_until: Option<String>,
    /// Sections that could not be built, with why.
    pub unavailable: BTreeMap<String, String>,
    /// Files written, with their number of data rows (CSV) or 1 (HTML).
    pub files: BTreeMap<String, u64>,
}

impl Summary {
    /// This report as a baseline for a later one.
    pub fn as_baseline(&self) -> Baseline {
        Baseline {
            as_of: self.as_of,
            source: "previous report".to_string(),
            finding_keys: self.findings.iter().map(|f| f.key.clone()).collect(),
            alerts_seen_until: self.alerts_seen_until.clone(),
        }
    }
}

/// How the caller obtains the baseline.
#[derive(Debug, Clone, PartialEq)]
pub enum BaselinePlan {
    /// First report: everything is new.
    None,
    /// Taken from a previous summary.
    Previous(Baseline),
    /// Gather the findings as of this date (the caller runs the detection queries for it and
    /// calls [`since_baseline`]).
    Since(NaiveDate),
}

/// Chooses the baseline: `--since` when given; else the latest report before `as_of` that the
/// previous summary knows of (itself, or for a re-run of the same date, the baseline it used).
pub fn plan_baseline(previous: Option<&Summary>, since: Option<NaiveDate>, as_of: NaiveDate) -> BaselinePlan {
    if let Some(d) = since {
        return BaselinePlan::Since(d);
    }
    let Some(prev) = previous else { return BaselinePlan::None };
    let mut candidates = vec![prev.as_baseline()];
    candidates.extend(prev.baseline.clone());
    candidates
        .into_iter()
        .filter(|b| b.as_of < as_of)
        .max_by_key(|b| b.as_of)
        .map(BaselinePlan::Previous)
        .unwrap_or(BaselinePlan::None)
}

/// The baseline for `--since D`, from the findings the caller gathered as of `D`.
pub fn since_baseline(since: NaiveDate, finding_keys: Vec<String>) -> Baseline {
    let cutoff = since.succ_opt().unwrap_or(since);
    Baseline {
        as_of: since,
        source: "--since".to_string(),
        finding_keys,
        alerts_seen_until: Some(format!("{}T00:00:00Z", cutoff.format("%Y-%m-%d"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(as_of: &str, keys: &[&str], baseline: Option<Baseline>) -> Summary {
        Summary {
            format: FORMAT.into(),
            as_of: as_of.parse().unwrap(),
            baseline,
            counts: Counts::default(),
            attention: vec![],
            workers_over_limit: vec![],
            esr_candidates: vec![],
            findings: keys
                .iter()
                .map(|k| FindingEntry {
                    key: k.to_string(),
                    view: String::new(),
                    level_or_signal: String::new(),
                    worker_id: String::new(),
                    department: String::new(),
                    quantity: None,
                    period_start: None,
                    period_end: None,
                    value_msv: None,
                    threshold_msv: None,
                    severity: String::new(),
                    new: false,
                })
                .collect(),
            alerts_seen_until: None,
            unavailable: BTreeMap::new(),
            files: BTreeMap::new(),
        }
    }

    #[test]
    fn next_night_compares_with_the_previous_report() {
        let prev = summary("2026-10-30", &["a"], None);
        let plan = plan_baseline(Some(&prev), None, "2026-10-31".parse().unwrap());
        let BaselinePlan::Previous(b) = plan else { panic!("{plan:?}") };
        assert_eq!(b.as_of.to_string(), "2026-10-30");
        assert_eq!(b.finding_keys, vec!["a".to_string()]);
    }

    #[test]
    fn a_rerun_reuses_the_baseline_of_the_first_run() {
        let first_baseline = summary("2026-10-30", &["a"], None).as_baseline();
        let prev = summary("2026-10-31", &["a", "b"], Some(first_baseline.clone()));
        let plan = plan_baseline(Some(&prev), None, "2026-10-31".parse().unwrap());
        assert_eq!(plan, BaselinePlan::Previous(first_baseline));
        let first_report = summary("2026-10-31", &["a"], None);
        assert_eq!(plan_baseline(Some(&first_report), None, "2026-10-31".parse().unwrap()), BaselinePlan::None);
    }

    #[test]
    fn since_wins() {
        let prev = summary("2026-10-30", &["a"], None);
        let d: NaiveDate = "2026-09-30".parse().unwrap();
        assert_eq!(plan_baseline(Some(&prev), Some(d), "2026-10-31".parse().unwrap()), BaselinePlan::Since(d));
    }
}
