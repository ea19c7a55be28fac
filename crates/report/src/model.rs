//! What the report says, derived from the gathered tables: findings folded per worker, who needs
//! attention and why, monthly dose series, department compliance and the thresholds in force.
//! Pure functions of the tables; the HTML, CSV and JSON writers only format what is here.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Months, NaiveDate};

use crate::fmt::{date_of, iso_date, msv, quantity_name, quantity_short};
use crate::gather::Bounds;
use crate::table::Table;

/// Where a finding comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A row of `overexposure`.
    Overexposure,
    /// A row of `missing_badge`.
    MissingBadge,
    /// A row of `unexplained_heterogeneity`.
    Heterogeneity,
}

impl Kind {
    /// The view name.
    pub fn view(self) -> &'static str {
        match self {
            Kind::Overexposure => "overexposure",
            Kind::MissingBadge => "missing_badge",
            Kind::Heterogeneity => "unexplained_heterogeneity",
        }
    }
}

/// How soon a finding needs someone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// A limit is exceeded or a declaration is due: act today.
    Act,
    /// Heading for a limit or above an investigation level: act this week.
    Soon,
    /// A wearing or consistency question to check.
    Check,
}

impl Severity {
    /// Label shown on the pill.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Act => "Act today",
            Severity::Soon => "This week",
            Severity::Check => "Check",
        }
    }

    /// CSS class.
    pub fn class(self) -> &'static str {
        match self {
            Severity::Act => "act",
            Severity::Soon => "soon",
            Severity::Check => "check",
        }
    }
}

/// One finding, as shown in the report (overexposure windows of the same worker, quantity and
/// level folded into the worst one).
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Source view.
    pub kind: Kind,
    /// `level` (overexposure) or `signal` (the other two views).
    pub level: String,
    /// Worker.
    pub worker_id: String,
    /// Quantity, when the view has one.
    pub quantity: Option<String>,
    /// Body site (`whole_body`, `finger/left`…) when the view has one.
    pub body_site: Option<String>,
    /// Start of the window or period (UTC microseconds).
    pub start: Option<i64>,
    /// End of the window or period.
    pub end: Option<i64>,
    /// The dose of the finding (mSv).
    pub value_msv: Option<f64>,
    /// The threshold it is compared with, or the peers' reference.
    pub threshold_msv: Option<f64>,
    /// Robust score (heterogeneity).
    pub score: Option<f64>,
    /// Evidence text from the view.
    pub evidence: Option<String>,
    /// Population whose thresholds apply (`adult`, `apprentice`, `pregnancy`), when the view says.
    pub population: Option<String>,
    /// Highest dose of the episode, when the window stayed over for several months.
    pub peak_msv: Option<f64>,
    /// Consecutive windows over the level in the episode.
    pub exceeding_windows: Option<i64>,
    /// End of the episode's last window.
    pub episode_end: Option<i64>,
    /// How many view rows were folded into this one (overlapping 12-month windows).
    pub rows: usize,
    /// Identity across reports, used to tell what is new.
    pub key: String,
    /// Not in the baseline report.
    pub new: bool,
}

impl Finding {
    /// How soon it needs someone.
    pub fn severity(&self) -> Severity {
        match (self.kind, self.level.as_str()) {
            (Kind::Overexposure, "limit" | "pregnancy" | "esr") => Severity::Act,
            (Kind::Overexposure, _) => Severity::Soon,
            _ => Severity::Check,
        }
    }

    /// Dose over threshold, for ordering.
    pub fn ratio(&self) -> f64 {
        match (self.value_msv, self.threshold_msv) {
            (Some(v), Some(t)) if t > 0.0 => v / t,
            _ => 0.0,
        }
    }

    /// The period as `2025-06-01 → 2026-05-31`.
    pub fn period(&self) -> String {
        match (self.start, self.end) {
            (Some(s), Some(e)) => format!("{} → {}", iso_date(s), iso_date(e)),
            (Some(s), None) => format!("from {}", iso_date(s)),
            (None, Some(e)) => format!("to {}", iso_date(e)),
            (None, None) => String::new(),
        }
    }

    /// Short name of what was found.
    pub fn title(&self) -> String {
        let q = match (self.quantity.as_deref(), self.body_site.as_deref()) {
            (Some(q), Some(site)) if q != "Hp10" && site != "whole_body" && !site.is_empty() => {
                format!("{} ({})", quantity_name(q), site_label(site))
            }
            (Some(q), _) => quantity_name(q).to_string(),
            (None, _) => "Dose".to_string(),
        };
        match (self.kind, self.level.as_str()) {
            (Kind::Overexposure, "limit") => format!("{q}: over the annual limit"),
            (Kind::Overexposure, "esr") => format!("{q}: single result ≥ ¼ of the annual limit"),
            (Kind::Overexposure, "investigation") => format!("{q}: above the investigation level"),
            (Kind::Overexposure, "pregnancy") => "Dose since the declared pregnancy above 1 mSv".to_string(),
            (Kind::Overexposure, "projected") => format!("{q}: projected to exceed the limit within 12 months"),
            (Kind::Overexposure, other) => format!("{q}: {other}"),
            (Kind::MissingBadge, "not_returned") => "Badge not returned, lost or damaged".to_string(),
            (Kind::MissingBadge, "zero_while_peers_exposed") => {
                "Repeated zero results while peers are exposed".to_string()
            }
            (Kind::MissingBadge, "procedure_without_dosimeter") => {
                "At fluoroscopy procedures without an operational dosimeter".to_string()
            }
            (Kind::MissingBadge, other) => format!("Missing badge: {other}"),
            (Kind::Heterogeneity, "peer_outlier") => format!("{q}: dose per workload far from peers"),
            (Kind::Heterogeneity, "passive_operational_mismatch") => {
                format!("{q}: passive and operational doses disagree")
            }
            (Kind::Heterogeneity, other) => format!("{q}: {other}"),
        }
    }

    /// One line with the numbers that justify the finding.
    pub fn numbers(&self) -> String {
        let v = self.value_msv.map(msv);
        let t = self.threshold_msv.map(msv);
        let pct = if self.ratio() > 0.0 { format!(" ({:.0} % of it)", self.ratio() * 100.0) } else { String::new() };
        match (self.kind, self.level.as_str(), v, t) {
            (Kind::Overexposure, "limit" | "investigation", Some(v), Some(t)) => {
                let whose = if self.population.as_deref() == Some("apprentice") { "apprentice " } else { "" };
                let mut s = format!("{v} mSv over 12 months, {whose}{} {t} mSv{pct}", level_word(&self.level));
                if let (Some(n), Some(peak)) = (self.exceeding_windows.filter(|n| *n > 1), self.peak_msv) {
                    let until = self.episode_end.map(|e| format!(" until {}", iso_date(e))).unwrap_or_default();
                    s.push_str(&format!("; over for {n} consecutive months{until}, peak {}", msv(peak)));
                }
                s
            }
            (Kind::Overexposure, "esr", Some(v), Some(t)) => {
                format!("{v} mSv in one result; declaration criterion {t} mSv")
            }
            (Kind::Overexposure, "pregnancy", Some(v), Some(t)) => {
                format!("{v} mSv since the declaration; limit for the unborn child {t} mSv")
            }
            (Kind::Overexposure, "projected", Some(v), Some(t)) => {
                format!("{v} mSv over 12 months at the recent rate; limit {t} mSv")
            }
            (Kind::Heterogeneity, _, Some(v), Some(t)) => {
                let score = self.score.map(|s| format!(", score {s:.1}")).unwrap_or_default();
                format!("{v} mSv against a reference of {t} mSv{score}")
            }
            (_, _, Some(v), Some(t)) => format!("{v} mSv; threshold {t} mSv"),
            (_, _, Some(v), None) => format!("{v} mSv"),
            _ => String::new(),
        }
    }

    /// What the advisor should do about it.
    pub fn action(&self) -> &'static str {
        match (self.kind, self.level.as_str()) {
            (Kind::Overexposure, "limit") => {
                "Declare an ESR (guide 11, criterion 1); inform the occupational physician; stop exposed work pending review."
            }
            (Kind::Overexposure, "pregnancy") => {
                "Inform the occupational physician today; adapt the workstation (unborn child: 1 mSv)."
            }
            (Kind::Overexposure, "esr") => {
                "Investigate this result with the worker; declare the ESR (criterion 1b) if confirmed."
            }
            (Kind::Overexposure, "projected") => {
                "Review workload and protection (lead glasses, ceiling screen, rings) before the limit is reached."
            }
            (Kind::Overexposure, "investigation") => "Investigate the exposure and record the analysis.",
            (Kind::Overexposure, _) => "Review the exposure.",
            (Kind::MissingBadge, "not_returned") => "Get the badge back; if lost, the physician assigns a dose.",
            (Kind::MissingBadge, _) => "Check with the worker that the dosimeters are worn.",
            (Kind::Heterogeneity, _) => "Analyse the difference; record an explanation (alara explain).",
        }
    }
}

/// `finger/left` → `left finger`; `unspecified` parts dropped.
pub fn site_label(site: &str) -> String {
    let parts: Vec<&str> = site.split('/').filter(|p| !p.is_empty() && *p != "unspecified").collect();
    match parts.as_slice() {
        [] => "site not given".to_string(),
        [one] => one.replace('_', " "),
        [pos, side] => format!("{side} {}", pos.replace('_', " ")),
        _ => parts.join(" "),
    }
}

fn level_word(level: &str) -> &'static str {
    match level {
        "limit" => "limit",
        _ => "investigation level",
    }
}

fn key_date(t: Option<i64>) -> String {
    t.map(iso_date).unwrap_or_default()
}

/// Folds the rows of the three detection views into findings (without `new`, which needs the
/// baseline). Overexposure windows of one worker, quantity and level become one finding, the
/// worst window; `esr` results stay one per result, since each may be its own declaration.
pub fn findings(tables: &BTreeMap<String, Table>) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(t) = tables.get("overexposure") {
        let mut folded: BTreeMap<String, Finding> = BTreeMap::new();
        for r in t.iter() {
            let level = r.str("level");
            let worker_id = r.str("worker_id");
            let quantity = r.text("quantity");
            let body_site = r.text("body_site");
            let start = r.time("window_start");
            let what = [quantity.clone().unwrap_or_default(), body_site.clone().unwrap_or_default()].join("|");
            let key = if level == "esr" {
                format!("overexposure|esr|{worker_id}|{what}|{}", key_date(start))
            } else {
                format!("overexposure|{level}|{worker_id}|{what}")
            };
            let f = Finding {
                kind: Kind::Overexposure,
                level,
                worker_id,
                quantity,
                body_site,
                start,
                end: r.time("window_end"),
                value_msv: r.float("dose_msv"),
                threshold_msv: r.float("threshold_msv"),
                score: None,
                evidence: r.text("evidence"),
                population: r.text("population"),
                peak_msv: r.float("peak_dose_msv"),
                exceeding_windows: r.int("exceeding_windows"),
                episode_end: r.time("episode_end"),
                rows: 1,
                key: key.clone(),
                new: false,
            };
            match folded.get_mut(&key) {
                None => {
                    folded.insert(key, f);
                }
                Some(cur) => {
                    let rows = cur.rows + 1;
                    let better = f.value_msv.unwrap_or(0.0) > cur.value_msv.unwrap_or(0.0)
                        || (f.value_msv == cur.value_msv && f.end > cur.end);
                    if better {
                        *cur = f;
                    }
                    cur.rows = rows;
                }
            }
        }
        out.extend(folded.into_values());
    }
    if let Some(t) = tables.get("missing_badge") {
        for r in t.iter() {
            let worker_id = r.str("worker_id");
            let level = r.str("signal");
            let start = r.time("period_start");
            out.push(Finding {
                kind: Kind::MissingBadge,
                key: format!("missing_badge|{level}|{worker_id}|{}", key_date(start)),
                level,
                worker_id,
                quantity: r.text("quantity"),
                body_site: None,
                start,
                end: r.time("period_end"),
                value_msv: r.float("value_msv").or(r.float("dose_msv")),
                threshold_msv: r.float("reference_msv"),
                score: r.float("p_value").or(r.float("score")),
                evidence: r.text("evidence"),
                population: None,
                peak_msv: None,
                exceeding_windows: None,
                episode_end: None,
                rows: 1,
                new: false,
            });
        }
    }
    if let Some(t) = tables.get("unexplained_heterogeneity") {
        for r in t.iter() {
            let worker_id = r.str("worker_id");
            let level = r.str("signal");
            let quantity = r.text("quantity");
            let start = r.time("period_start");
            out.push(Finding {
                kind: Kind::Heterogeneity,
                key: format!(
                    "unexplained_heterogeneity|{level}|{worker_id}|{}|{}",
                    quantity.clone().unwrap_or_default(),
                    key_date(start)
                ),
                level,
                worker_id,
                quantity,
                body_site: None,
                start,
                end: r.time("period_end"),
                value_msv: r.float("dose_msv"),
                threshold_msv: r.float("reference_msv"),
                score: r.float("score"),
                evidence: r.text("evidence"),
                population: None,
                peak_msv: None,
                exceeding_windows: None,
                episode_end: None,
                rows: 1,
                new: false,
            });
        }
    }
    // Same key twice (two rows of a view for the same period): keep one, deterministically.
    out.sort_by(|a, b| a.key.cmp(&b.key).then(b.ratio().total_cmp(&a.ratio())));
    out.dedup_by(|b, a| a.key == b.key);
    out
}

/// The identities of the findings of a set of tables: what a later report compares with.
pub fn finding_keys(tables: &BTreeMap<String, Table>) -> Vec<String> {
    let keys: BTreeSet<String> = findings(tables).into_iter().map(|f| f.key).collect();
    keys.into_iter().collect()
}

/// What is known of a worker.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Person {
    /// Department (current version, else that of the latest reading).
    pub department: String,
    /// Role.
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

    /// Label.
    pub fn label(self) -> &'static str {
        match self {
            Band::Satisfactory => "satisfactory",
            Band::Progress => "room for progress",
            Band::Priority => "priority",
        }
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
    /// Name.
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

/// A worker who needs attention, with every finding about them.
#[derive(Debug, Clone, PartialEq)]
pub struct Attention {
    /// Worker.
    pub worker_id: String,
    /// Most urgent severity among the findings.
    pub severity: Severity,
    /// Findings, most urgent first.
    pub findings: Vec<Finding>,
}

impl Attention {
    /// Some finding is new.
    pub fn has_new(&self) -> bool {
        self.findings.iter().any(|f| f.new)
    }
}

/// Rank of a level or signal within its severity: an exceeded limit before a pregnancy, before
/// a single-result declaration, before a projection, and so on.
pub fn level_rank(f: &Finding) -> u8 {
    match (f.kind, f.level.as_str()) {
        (Kind::Overexposure, "limit") => 0,
        (Kind::Overexposure, "pregnancy") => 1,
        (Kind::Overexposure, "esr") => 2,
        (Kind::Overexposure, "projected") => 3,
        (Kind::Overexposure, "investigation") => 4,
        (Kind::Overexposure, _) => 5,
        (Kind::MissingBadge, "not_returned") => 6,
        (Kind::MissingBadge, "procedure_without_dosimeter") => 7,
        (Kind::MissingBadge, _) => 8,
        (Kind::Heterogeneity, "passive_operational_mismatch") => 9,
        (Kind::Heterogeneity, _) => 10,
    }
}

/// Orders findings: most urgent first, then by level, then largest dose relative to its
/// threshold, then latest period.
pub fn finding_order(a: &Finding, b: &Finding) -> std::cmp::Ordering {
    a.severity()
        .cmp(&b.severity())
        .then(level_rank(a).cmp(&level_rank(b)))
        .then(b.ratio().total_cmp(&a.ratio()))
        .then(b.end.cmp(&a.end))
        .then(a.key.cmp(&b.key))
}

/// Findings of a worker gathered for a one-line summary: overexposure windows of the same
/// quantity and body site (the most urgent level leads), single results one by one, and the
/// other signals by signal.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// The most urgent finding of the group (the one shown).
    pub lead: Finding,
    /// Every finding of the group, most urgent first.
    pub all: Vec<Finding>,
}

/// Groups a worker's findings (already in [`finding_order`]) into lines.
pub fn lines(findings: &[Finding]) -> Vec<Line> {
    let mut out: Vec<Line> = Vec::new();
    for f in findings {
        let group = line_group(f);
        match out.iter_mut().find(|l| line_group(&l.lead) == group) {
            Some(l) => l.all.push(f.clone()),
            None => out.push(Line { lead: f.clone(), all: vec![f.clone()] }),
        }
    }
    out
}

fn line_group(f: &Finding) -> String {
    match (f.kind, f.level.as_str()) {
        (Kind::Overexposure, "esr") => f.key.clone(),
        (Kind::Overexposure, _) => {
            format!("o|{}|{}", f.quantity.as_deref().unwrap_or(""), f.body_site.as_deref().unwrap_or(""))
        }
        (k, level) => format!("{}|{level}", k.view()),
    }
}

/// Groups findings per worker, most urgent workers first.
pub fn attention(findings: &[Finding]) -> Vec<Attention> {
    let mut by_worker: BTreeMap<&str, Vec<Finding>> = BTreeMap::new();
    for f in findings {
        by_worker.entry(&f.worker_id).or_default().push(f.clone());
    }
    let mut out: Vec<Attention> = by_worker
        .into_iter()
        .map(|(w, mut fs)| {
            fs.sort_by(finding_order);
            Attention { worker_id: w.to_string(), severity: fs[0].severity(), findings: fs }
        })
        .collect();
    out.sort_by(|a, b| finding_order(&a.findings[0], &b.findings[0]).then(a.worker_id.cmp(&b.worker_id)));
    out
}

/// Quantities in display order.
pub const QUANTITIES: [&str; 3] = ["Hp10", "Hp3", "Hp007"];

/// Short label for a quantity with its organ.
pub fn quantity_label(q: &str) -> String {
    match q {
        "Hp10" => "Whole body".to_string(),
        "Hp3" => "Eye lens".to_string(),
        "Hp007" => "Extremities".to_string(),
        other => quantity_short(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Value;

    fn day(s: &str) -> i64 {
        crate::fmt::midnight(s.parse().unwrap())
    }

    #[test]
    fn overlapping_limit_windows_fold_into_the_worst() {
        let t = Table::new(
            &["worker_id", "quantity", "level", "window_start", "window_end", "dose_msv", "threshold_msv"],
            vec![
                vec![
                    Value::Text("W1".into()),
                    Value::Text("Hp3".into()),
                    Value::Text("limit".into()),
                    Value::Time(day("2025-05-01")),
                    Value::Time(day("2026-04-30")),
                    Value::Float(20.2),
                    Value::Float(20.0),
                ],
                vec![
                    Value::Text("W1".into()),
                    Value::Text("Hp3".into()),
                    Value::Text("limit".into()),
                    Value::Time(day("2025-06-01")),
                    Value::Time(day("2026-05-31")),
                    Value::Float(20.6),
                    Value::Float(20.0),
                ],
            ],
        );
        let tables = BTreeMap::from([("overexposure".to_string(), t)]);
        let f = findings(&tables);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].value_msv, Some(20.6));
        assert_eq!(f[0].rows, 2);
        assert_eq!(f[0].key, "overexposure|limit|W1|Hp3|");
        assert_eq!(f[0].severity(), Severity::Act);
    }

    #[test]
    fn bands_follow_the_inspection_thresholds() {
        assert_eq!(Band::of(0.86), Band::Satisfactory);
        assert_eq!(Band::of(0.85), Band::Progress);
        assert_eq!(Band::of(0.65), Band::Progress);
        assert_eq!(Band::of(0.649), Band::Priority);
    }

    #[test]
    fn rolling_sums_twelve_calendar_months() {
        let b = Bounds::new("2026-05-31".parse().unwrap());
        let mut months = BTreeMap::new();
        for i in 0..24u32 {
            let m = NaiveDate::from_ymd_opt(2024, 6, 1).unwrap().checked_add_months(Months::new(i)).unwrap();
            months.insert(m, Month { dose: 1.0, read: 1, ..Default::default() });
        }
        let s = rolling_series(&months, &b);
        assert_eq!(s.len(), 24);
        assert_eq!(s.last().unwrap().month.to_string(), "2026-05-01");
        assert_eq!(s.last().unwrap().rolling, 12.0);
        assert_eq!(s[0].rolling, 1.0); // June 2024 is the first month with data
    }
}
