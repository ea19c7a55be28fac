//! The nightly report of alara: what a radiation protection advisor, an occupational physician
//! and an inspector read each morning.
//!
//! This crate renders; it does not query and depends on `alara-model` alone. `alara-detect`
//! gathers the data over the lake "as of" a date (`alara_detect::gather`) into the model's
//! [`Table`]s, and the caller hands them to [`build`]. Out come, in one directory:
//!
//! | file | what |
//! |---|---|
//! | `report.html` | one self-contained page: inline CSS and SVG charts, no script, no network, print-friendly |
//! | `<query>.csv` | every table behind the page, complete (the page may show the first rows only) |
//! | `summary.json` | the headline numbers and every finding with its key, read back by the next report to tell what is new |
//!
//! Output is a pure function of the tables and the as-of date: no clock, every list sorted,
//! every number printed with a fixed number of decimals; the same lake and as-of date give
//! byte-identical files.
//!
//! Layout: [`table`] (query results as rows, and CSV), [`model`] (findings, who needs
//! attention, dose series, compliance), [`svg`] (charts), `html` (the page, its style sheet in
//! `report.css`), [`summary`] (JSON and baselines), [`fmt`] (stable text forms), [`i18n`] (French, the
//! default, and English).
#![deny(missing_docs)]

pub mod fmt;
mod html;
pub mod i18n;
pub mod model;
pub mod summary;
pub mod svg;
pub mod table;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

pub use summary::{Baseline, BaselinePlan, Summary, plan_baseline, since_baseline};
pub use table::{Table, Value};

use crate::fmt::{iso_date, iso_time, json_float};
use crate::model::{Attention, Department, Finding, Kind, Monthly, Person, Severity, Thresholds, Totals};
use crate::summary::{Counts, FindingEntry};
use alara_model::ReportPeriod as Bounds;

/// Errors of the report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Writing an output file failed.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The previous summary could not be read.
    #[error("reading the previous report's summary {path}: {message}")]
    Previous {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

/// Result with the report's error.
pub type Result<T> = std::result::Result<T, Error>;

/// The names of the gathered tables exported as CSV, in the order of the report.
pub const EXPORTED: &[&str] = &[
    "overexposure",
    "missing_badge",
    "unexplained_heterogeneity",
    "explained_findings",
    "explanations",
    "worker_doses",
    "dose_by_period",
    "department_compliance",
    "badges_not_returned",
    "missing_results",
    "late_results",
    "ingest_lag",
    "rejects_by_reason",
    "alerts",
    "thresholds",
];

/// Name of the HTML file.
pub const HTML_FILE: &str = "report.html";
/// Name of the JSON summary.
pub const SUMMARY_FILE: &str = "summary.json";

/// What the caller gathered.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Report date.
    pub as_of: NaiveDate,
    /// Query results by query name (`alara_detect::gather::Query::name`).
    pub tables: BTreeMap<String, Table>,
    /// Queries that could not run, with a reason a reader understands (a view not installed).
    pub unavailable: BTreeMap<String, String>,
    /// What "new" is measured against; `None` for a first report.
    pub baseline: Option<Baseline>,
    /// Version string printed in the footer (`alara 0.1.0`).
    pub generator: String,
    /// The language of the page (French by default); the CSV and JSON files do not change with it.
    pub lang: i18n::Lang,
    /// Data files of the lake left out because they are truncated or corrupt (`lake_faults`):
    /// the figures are computed without their rows, which the page says.
    pub quarantined_files: usize,
}

/// A rendered report, not yet written.
#[derive(Debug, Clone)]
pub struct Report {
    /// The page.
    pub html: String,
    /// CSV files: (file name, contents), in report order.
    pub csv: Vec<(String, String)>,
    /// The summary.
    pub summary: Summary,
}

/// Everything the page is built from.
pub(crate) struct Ctx<'a> {
    pub inputs: &'a Inputs,
    /// The page's language (`inputs.lang`).
    pub lang: i18n::Lang,
    /// The tables, sorted and cut at the as-of date.
    pub tables: BTreeMap<String, Table>,
    pub bounds: Bounds,
    pub findings: Vec<Finding>,
    pub attention: Vec<Attention>,
    pub people: BTreeMap<String, Person>,
    pub thresholds: Thresholds,
    pub totals: BTreeMap<model::SiteKey, Totals>,
    pub monthly: Monthly,
    pub departments: Vec<Department>,
    /// Row indices of `alerts` still open.
    pub open_alerts: Vec<usize>,
    /// Row indices of `alerts` acknowledged since the baseline.
    pub acknowledged: Vec<usize>,
    pub counts: Counts,
}

impl Ctx<'_> {
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(name)
    }

    pub fn department_of(&self, worker: &str) -> String {
        self.people.get(worker).map(|p| p.department.clone()).unwrap_or_default()
    }
}

/// A finding counts as "over a limit" when a 12-month limit or the pregnancy limit is exceeded.
fn over_limit(f: &Finding) -> bool {
    f.kind == Kind::Overexposure && matches!(f.level.as_str(), "limit" | "pregnancy")
}

/// A declaration (ESR) candidate: a limit exceeded (guide 11 criterion 1a) or one result at a
/// quarter of the annual limit (criterion 1b).
fn esr_candidate(f: &Finding) -> bool {
    f.kind == Kind::Overexposure && matches!(f.level.as_str(), "limit" | "pregnancy" | "esr")
}

fn parse_time(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp_micros())
}

/// Sorts the results whose order the SQL does not fix (whole views) and drops alerts about
/// windows after the as-of date.
fn normalise(inputs: &Inputs, bounds: &Bounds) -> BTreeMap<String, Table> {
    let mut tables = inputs.tables.clone();
    let keys: [(&str, &[&str]); 5] = [
        ("overexposure", &["worker_id", "quantity", "body_site", "level", "window_start", "window_end"]),
        ("missing_badge", &["worker_id", "signal", "period_start", "period_end"]),
        ("unexplained_heterogeneity", &["worker_id", "signal", "quantity", "period_start", "period_end"]),
        ("explained_findings", &["worker_id", "signal", "period_start", "period_end"]),
        ("alerts", &["raised_at", "alert_id"]),
    ];
    for (name, k) in keys {
        if let Some(t) = tables.get_mut(name) {
            t.sort_by_columns(k);
        }
    }
    if let Some(t) = tables.get_mut("alerts") {
        let cutoff = fmt::midnight(bounds.cutoff);
        t.retain(|r| r.time("window_end").or(r.time("raised_at")).is_none_or(|w| w < cutoff));
    }
    tables
}

/// Renders the report.
pub fn build(inputs: &Inputs) -> Report {
    let bounds = Bounds::new(inputs.as_of);
    let tables = &normalise(inputs, &bounds);
    let mut findings = model::findings(tables);
    let known: Option<BTreeSet<&str>> =
        inputs.baseline.as_ref().map(|b| b.finding_keys.iter().map(String::as_str).collect());
    for f in &mut findings {
        f.new = known.as_ref().is_none_or(|k| !k.contains(f.key.as_str()));
    }
    let attention = model::attention(&findings);
    let people = model::people(tables);
    let thresholds = Thresholds::from_tables(tables);
    let totals = model::totals(tables);
    let monthly = model::monthly(tables);
    let departments = model::departments(tables);

    let seen_until = inputs.baseline.as_ref().and_then(|b| b.alerts_seen_until.as_deref()).and_then(parse_time);
    let mut open_alerts = Vec::new();
    let mut acknowledged = Vec::new();
    let mut alerts_seen_until: Option<i64> = None;
    let mut withdrawn_alerts = 0u64;
    if let Some(t) = tables.get("alerts") {
        for (i, r) in t.iter().enumerate() {
            for col in ["raised_at", "acknowledged_at", "state_at"] {
                if let Some(ts) = r.time(col) {
                    alerts_seen_until = Some(alerts_seen_until.map_or(ts, |m| m.max(ts)));
                }
            }
            let withdrawn = r.str("state") == "withdrawn" || r.str("rule") == "withdrawal";
            match r.time("acknowledged_at") {
                None if withdrawn => withdrawn_alerts += 1,
                None => open_alerts.push(i),
                Some(at) if seen_until.is_none_or(|s| at > s) => acknowledged.push(i),
                Some(_) => {}
            }
        }
    }

    let count = |name: &str| tables.get(name).map(|t| t.len() as u64).unwrap_or(0);
    let mut by_level = BTreeMap::new();
    for f in &findings {
        *by_level.entry(format!("{}.{}", f.kind.view(), f.level)).or_insert(0u64) += 1;
    }
    let over: BTreeSet<String> = findings.iter().filter(|f| over_limit(f)).map(|f| f.worker_id.clone()).collect();
    let counts = Counts {
        workers_monitored: tables
            .get("lake_overview")
            .and_then(|t| t.iter().next())
            .and_then(|r| r.int("workers"))
            .unwrap_or(0)
            .max(0) as u64,
        workers_needing_attention: attention.len() as u64,
        workers_over_limit: over.len() as u64,
        esr_candidates: findings.iter().filter(|f| esr_candidate(f)).count() as u64,
        findings: findings.len() as u64,
        new_findings: findings.iter().filter(|f| f.new).count() as u64,
        by_level,
        badges_not_returned: count("badges_not_returned"),
        missing_results: count("missing_results"),
        late_results: count("late_results"),
        rejected_records: tables
            .get("rejects_by_reason")
            .map(|t| t.iter().filter_map(|r| r.int("records")).sum::<i64>().max(0) as u64)
            .unwrap_or(0),
        open_alerts: open_alerts.len() as u64,
        acknowledged_since_last_report: acknowledged.len() as u64,
        withdrawn_alerts,
    };

    let ctx = Ctx {
        inputs,
        lang: inputs.lang,
        tables: tables.clone(),
        bounds,
        findings,
        attention,
        people,
        thresholds,
        totals,
        monthly,
        departments,
        open_alerts,
        acknowledged,
        counts,
    };
    let html = html::render(&ctx);

    let mut csv = Vec::new();
    let mut files = BTreeMap::new();
    for name in EXPORTED {
        if let Some(t) = ctx.tables.get(*name) {
            let file = format!("{name}.csv");
            files.insert(file.clone(), t.len() as u64);
            csv.push((file, table::to_csv(t)));
        }
    }
    files.insert(HTML_FILE.to_string(), 1);

    let severity = |s: Severity| match s {
        Severity::Act => "act_today",
        Severity::Soon => "this_week",
        Severity::Check => "check",
    };
    let mut entries: Vec<FindingEntry> = ctx
        .findings
        .iter()
        .map(|f| FindingEntry {
            key: f.key.clone(),
            view: f.kind.view().to_string(),
            level_or_signal: f.level.clone(),
            worker_id: f.worker_id.clone(),
            department: ctx.department_of(&f.worker_id),
            quantity: f.quantity.clone(),
            period_start: f.start.map(iso_date),
            period_end: f.end.map(iso_date),
            value_msv: f.value_msv.map(json_float),
            threshold_msv: f.threshold_msv.map(json_float),
            severity: severity(f.severity()).to_string(),
            new: f.new,
        })
        .collect();
    entries.sort_by(|a, b| a.key.cmp(&b.key));
    let summary = Summary {
        format: summary::FORMAT.to_string(),
        as_of: inputs.as_of,
        baseline: inputs.baseline.clone(),
        counts: ctx.counts.clone(),
        attention: ctx.attention.iter().map(|a| a.worker_id.clone()).collect(),
        workers_over_limit: over.into_iter().collect(),
        esr_candidates: ctx.findings.iter().filter(|f| esr_candidate(f)).map(|f| f.key.clone()).collect(),
        findings: entries,
        alerts_seen_until: alerts_seen_until.map(iso_time).or_else(|| {
            // No alert yet: keep the previous watermark so that later acknowledgements of
            // older alerts still count as new.
            inputs.baseline.as_ref().and_then(|b| b.alerts_seen_until.clone())
        }),
        unavailable: inputs.unavailable.clone(),
        files,
    };
    Report { html, csv, summary }
}

/// Reads `summary.json` from an output directory, if there is one.
pub fn read_previous(dir: &Path) -> Result<Option<Summary>> {
    let path = dir.join(SUMMARY_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::Previous { path, message: e.to_string() }),
    };
    serde_json::from_str(&text).map(Some).map_err(|e| Error::Previous { path, message: e.to_string() })
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let err = |source| Error::Write { path: path.to_path_buf(), source };
    std::fs::write(&tmp, bytes).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

impl Report {
    /// Writes every file into `dir` (created if needed), each atomically, the summary last, and
    /// removes CSV extracts of an earlier run that this run did not produce (a section that
    /// became unavailable must not leave stale data behind). Returns the path of the page.
    pub fn write(&self, dir: &Path) -> Result<PathBuf> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Write { path: dir.to_path_buf(), source })?;
        for (name, text) in &self.csv {
            write_atomic(&dir.join(name), text.as_bytes())?;
        }
        for name in EXPORTED {
            let file = format!("{name}.csv");
            if !self.csv.iter().any(|(n, _)| *n == file) {
                let p = dir.join(&file);
                if p.exists() {
                    std::fs::remove_file(&p).map_err(|source| Error::Write { path: p.clone(), source })?;
                }
            }
        }
        let page = dir.join(HTML_FILE);
        write_atomic(&page, self.html.as_bytes())?;
        let mut json = serde_json::to_string_pretty(&self.summary).unwrap_or_default();
        json.push('\n');
        write_atomic(&dir.join(SUMMARY_FILE), json.as_bytes())?;
        Ok(page)
    }
}
