//! The streaming rules and the rolling state they read.
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

use std::collections::{BTreeMap, HashMap};

use alara_model::{Monitoring, Position, Quantity, Reading, Status, Worker};
use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};

use crate::alert::{Alert, Cause, Level, Rule, Window, alert_id, msv, tidy, when};
use crate::config::RuleConfig;

/// The identity of a reading: `(source, reading_id)`.
pub type Key = (String, String);

/// One dosimeter and wearing period, within a series.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Slot {
    dosimeter_id: String,
    period_start: DateTime<Utc>,
    period_end: DateTime<Utc>,
}

/// Worker × quantity × body site.
pub type SeriesKey = (String, Quantity, String);

/// A series' results: per calendar month, per dosimeter and period, the identities present.
type ByMonth = BTreeMap<i32, BTreeMap<Slot, Vec<Key>>>;

/// What the rules keep of one legal result.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fact {
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

impl Fact {
    fn series(&self) -> SeriesKey {
        (self.worker_id.clone(), self.quantity, self.body_site.clone())
    }

    fn slot(&self) -> Slot {
        Slot { dosimeter_id: self.dosimeter_id.clone(), period_start: self.period_start, period_end: self.period_end }
    }

    fn is_missing(&self) -> bool {
        matches!(self.status, Status::NotReturned | Status::Lost | Status::Damaged | Status::NoResult)
    }
}

/// What the rules keep of one worker version.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WorkerFact {
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

/// `whole_body` for Hp10, else `position/laterality` (`unspecified` when absent).
pub(crate) fn body_site(quantity: Quantity, position: Option<&str>, laterality: Option<&str>) -> String {
    match quantity {
        Quantity::Hp10 => "whole_body".to_string(),
        _ => format!("{}/{}", position.unwrap_or("unspecified"), laterality.unwrap_or("unspecified")),
    }
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
fn month_of(end: DateTime<Utc>) -> i32 {
    let last = end - chrono::Duration::microseconds(1);
    last.year() * 12 + last.month0() as i32
}

/// Midnight UTC of the first day of a month number.
fn month_start(month: i32) -> DateTime<Utc> {
    let (y, m) = (month.div_euclid(12), month.rem_euclid(12) as u32 + 1);
    // Month numbers come from valid dates, so the first of the month exists.
    NaiveDate::from_ymd_opt(y, m, 1).map(midnight).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// Long name of a quantity for summaries.
fn organ(q: Quantity, site: &str) -> String {
    match q {
        Quantity::Hp10 => "Hp10 (whole body)".into(),
        Quantity::Hp3 => format!("Hp3 (eye lens, {site})"),
        Quantity::Hp007 => format!("Hp007 (skin/extremities, {site})"),
    }
}

/// One 12-month window evaluated.
struct Sum {
    month: i32,
    dose: f64,
    apprentice: bool,
    missing: usize,
}

/// The rolling state and the rules over it.
#[derive(Debug)]
pub struct Rules {
    config: RuleConfig,
    facts: HashMap<Key, Fact>,
    series: HashMap<SeriesKey, ByMonth>,
    /// Per worker, the versions by `valid_from` (one copy each: the latest ingested).
    workers: HashMap<String, BTreeMap<DateTime<Utc>, WorkerFact>>,
}

impl Rules {
    /// Empty state.
    pub fn new(config: RuleConfig) -> Rules {
        Rules { config, facts: HashMap::new(), series: HashMap::new(), workers: HashMap::new() }
    }

    /// Number of legal results held.
    pub fn len(&self) -> usize {
        self.facts.len()
    }

    /// Whether no result is held.
    pub fn is_empty(&self) -> bool {
        self.facts.is_empty()
    }

    /// Takes one copy of a reading into the state (legal results only; operational readings
    /// are evaluated on their own by [`Rules::evaluate_reading`]). When it corrects a result
    /// held (a higher revision of the same identity), returns the series (worker, quantity,
    /// body site) the corrected result belonged to, whose alerts may no longer hold.
    pub fn apply_reading(&mut self, r: &Reading, ingested_at: DateTime<Utc>, origin: &str) -> Option<SeriesKey> {
        let key: Key = (r.source.clone(), r.reading_id.clone());
        let corrected = self.facts.get(&key).filter(|old| r.revision > old.revision).map(Fact::series);
        if !is_legal(r.monitoring, r.quantity, r.position) {
            // A correction may move a result out of the legal record (e.g. now over the apron).
            if corrected.is_some() {
                self.remove(&key);
            }
            return corrected;
        }
        let fact = Fact {
            worker_id: r.worker_id.clone(),
            department: r.department.clone(),
            quantity: r.quantity,
            monitoring: r.monitoring,
            body_site: body_site(r.quantity, r.position.map(|p| p.as_str()), r.laterality.map(|l| l.as_str())),
            dosimeter_id: r.dosimeter_id.clone(),
            status: r.status,
            revision: r.revision,
            counted: counted_dose(r.status, r.dose_msv),
            period_start: r.period_start,
            period_end: r.period_end,
            ingested_at,
            origin: origin.to_string(),
        };
        self.upsert(key, fact);
        corrected
    }

    fn remove(&mut self, key: &Key) {
        let Some(old) = self.facts.remove(key) else { return };
        let series = old.series();
        if let Some(months) = self.series.get_mut(&series) {
            let month = month_of(old.period_end);
            if let Some(slots) = months.get_mut(&month) {
                let slot = old.slot();
                if let Some(keys) = slots.get_mut(&slot) {
                    keys.retain(|k| k != key);
                    if keys.is_empty() {
                        slots.remove(&slot);
                    }
                }
                if slots.is_empty() {
                    months.remove(&month);
                }
            }
            if months.is_empty() {
                self.series.remove(&series);
            }
        }
    }

    /// One copy per identity: the highest revision, then the first ingested (as `readings`).
    pub(crate) fn upsert(&mut self, key: Key, fact: Fact) {
        if let Some(old) = self.facts.get(&key) {
            let newer = fact.revision > old.revision
                || (fact.revision == old.revision && (fact.ingested_at, &fact.origin) < (old.ingested_at, &old.origin));
            if !newer {
                return;
            }
            self.remove(&key);
        }
        self.series
            .entry(fact.series())
            .or_default()
            .entry(month_of(fact.period_end))
            .or_default()
            .entry(fact.slot())
            .or_default()
            .push(key.clone());
        self.facts.insert(key, fact);
    }

    /// Takes one worker version.
    pub fn apply_worker(&mut self, w: &Worker, ingested_at: DateTime<Utc>) {
        let fact = WorkerFact {
            ingested_at,
            department: w.department.clone(),
            apprentice: w.apprentice,
            pregnancy_declared_on: w.pregnancy_declared_on,
        };
        self.upsert_worker(w.worker_id.clone(), w.valid_from, fact);
    }

    /// One copy per worker and `valid_from`: the latest ingested (as `worker_history`).
    pub(crate) fn upsert_worker(&mut self, worker_id: String, valid_from: DateTime<Utc>, fact: WorkerFact) {
        let versions = self.workers.entry(worker_id).or_default();
        if versions.get(&valid_from).is_none_or(|old| fact.ingested_at >= old.ingested_at) {
            versions.insert(valid_from, fact);
        }
    }

    /// Forgets results that ended more than `months` before the newest one held.
    pub fn prune(&mut self, months: u32) {
        let Some(newest) = self.facts.values().map(|f| f.period_end).max() else { return };
        let cutoff = newest.checked_sub_months(Months::new(months)).unwrap_or(DateTime::<Utc>::MIN_UTC);
        let old: Vec<Key> = self.facts.iter().filter(|(_, f)| f.period_end < cutoff).map(|(k, _)| k.clone()).collect();
        for k in old {
            self.remove(&k);
        }
    }

    /// The current version of a worker (latest `valid_from`).
    fn current(&self, worker_id: &str) -> Option<&WorkerFact> {
        self.workers.get(worker_id).and_then(|v| v.values().next_back())
    }

    /// Whether a worker was an apprentice at `t`: the version valid then, else the earliest.
    fn apprentice_at(&self, worker_id: &str, t: DateTime<Utc>) -> bool {
        let Some(versions) = self.workers.get(worker_id) else { return false };
        versions
            .range(..=t)
            .next_back()
            .map(|(_, v)| v)
            .or_else(|| versions.values().next())
            .is_some_and(|v| v.apprentice)
    }

    fn limit(&self, apprentice: bool, q: Quantity) -> f64 {
        if apprentice { self.config.apprentice_limit.get(q) } else { self.config.limit.get(q) }
    }

    fn department(&self, worker_id: &str, fallback: &str) -> String {
        self.current(worker_id).map(|w| w.department.clone()).unwrap_or_else(|| fallback.to_string())
    }

    /// The counted result of one dosimeter and period: a result with a dose over a missing
    /// one, then the highest revision, then the latest ingested.
    fn winner<'a>(&'a self, keys: &'a [Key]) -> Option<(&'a Key, &'a Fact)> {
        keys.iter().filter_map(|k| self.facts.get_key_value(k)).max_by(|(_, a), (_, b)| {
            (!a.is_missing(), a.revision, a.ingested_at, &a.origin).cmp(&(
                !b.is_missing(),
                b.revision,
                b.ingested_at,
                &b.origin,
            ))
        })
    }

    /// Counted results of a series in months `[from, to]`, month order.
    fn results(&self, series: &SeriesKey, from: i32, to: i32) -> Vec<(&Key, &Fact)> {
        let Some(months) = self.series.get(series) else { return Vec::new() };
        months.range(from..=to).flat_map(|(_, slots)| slots.values().filter_map(|keys| self.winner(keys))).collect()
    }

    /// Every alert condition that holds among those a reading can affect: its own result, the
    /// 12-month windows holding its month (and the next one, whose predecessor it may be), the
    /// worker's pregnancy. Ids already raised are filtered by the caller.
    pub fn evaluate_reading(&self, r: &Reading, origin: &str, now: DateTime<Utc>) -> Vec<Alert> {
        if r.monitoring == Monitoring::Operational {
            return self.operational_alarm(r, origin, now).into_iter().collect();
        }
        let key: Key = (r.source.clone(), r.reading_id.clone());
        // The winning copy, which may be an earlier higher revision than `r`.
        let Some(fact) = self.facts.get(&key) else { return Vec::new() };
        let series = fact.series();
        let month = month_of(fact.period_end);
        let mut out = Vec::new();
        if let Some(keys) = self.series.get(&series).and_then(|m| m.get(&month)).and_then(|s| s.get(&fact.slot()))
            && let Some((k, winner)) = self.winner(keys)
        {
            out.extend(self.single_result(k, winner, now));
        }
        out.extend(self.rolling(&series, month, month + 11, now));
        if fact.quantity == Quantity::Hp10 {
            out.extend(self.pregnancy(&fact.worker_id, now));
        }
        out
    }

    /// Every condition that holds for a worker (a new version may change their limits or
    /// declare a pregnancy).
    pub fn evaluate_worker(&self, worker_id: &str, now: DateTime<Utc>) -> Vec<Alert> {
        let mut out = Vec::new();
        let mut series: Vec<&SeriesKey> = self.series.keys().filter(|s| s.0 == worker_id).collect();
        series.sort();
        for s in series {
            for (k, f) in self.results(s, i32::MIN, i32::MAX) {
                out.extend(self.single_result(k, f, now));
            }
            out.extend(self.rolling(s, i32::MIN, i32::MAX, now));
        }
        out.extend(self.pregnancy(worker_id, now));
        out
    }

    /// Whether a raised alert's condition still holds after corrections; `Err` says what the
    /// results give now. Only the regulatory rules are re-checked (an operational alarm is a
    /// moment, not a state).
    pub fn still_holds(&self, a: &Alert) -> Result<(), String> {
        let series: SeriesKey = (a.worker_id.clone(), a.quantity, a.body_site.clone());
        match a.rule {
            Rule::SingleResult => {
                let now = a.readings.first().and_then(|c| self.facts.get(&(c.source.clone(), c.reading_id.clone())));
                let winner = now.and_then(|f| {
                    let month = month_of(f.period_end);
                    let keys = self.series.get(&f.series())?.get(&month)?.get(&f.slot())?;
                    self.winner(keys)
                });
                match winner {
                    Some((k, f)) if self.single_result(k, f, a.raised_at).is_some_and(|n| n.alert_id == a.alert_id) => {
                        Ok(())
                    }
                    Some((k, f)) => Err(format!(
                        "the result is now {} ({} {} revision {})",
                        f.counted.map(msv).unwrap_or_else(|| f.status.as_str().to_string()),
                        k.0,
                        k.1,
                        f.revision
                    )),
                    None => Err("the result no longer counts toward the limits".into()),
                }
            }
            Rule::Rolling12Months => {
                let Some(end) = a.window.end else { return Ok(()) };
                let sum = self.window_sum(&series, month_of(end));
                if sum.dose > a.threshold_msv {
                    Ok(())
                } else {
                    Err(format!("the 12-month sum is now {}, not above {}", msv(sum.dose), msv(a.threshold_msv)))
                }
            }
            Rule::Pregnancy => {
                match self.pregnancy(&a.worker_id, a.raised_at).into_iter().find(|n| n.alert_id == a.alert_id) {
                    Some(_) => Ok(()),
                    None => Err(format!("the dose since the declaration is no longer above {}", msv(a.threshold_msv))),
                }
            }
            Rule::OperationalAlarm | Rule::Withdrawal => Ok(()),
        }
    }

    fn cause(key: &Key, f: &Fact) -> Cause {
        Cause {
            source: key.0.clone(),
            reading_id: key.1.clone(),
            revision: f.revision,
            monitoring: f.monitoring.as_str().to_string(),
            status: f.status.as_str().to_string(),
            dose_msv: f.counted,
            period_start: f.period_start,
            period_end: f.period_end,
            origin: f.origin.clone(),
        }
    }

    fn single_result(&self, key: &Key, f: &Fact, now: DateTime<Utc>) -> Option<Alert> {
        let dose = f.counted?;
        let limit = self.limit(self.apprentice_at(&f.worker_id, f.period_end), f.quantity);
        let threshold = limit * self.config.esr_fraction;
        if dose < threshold {
            return None;
        }
        let window = Window { start: f.period_start, end: Some(f.period_end) };
        let department = self.department(&f.worker_id, &f.department);
        let summary = format!(
            "{} ({department}): one {} result of {} ({} → {}) reaches a quarter of the {} annual limit ({}): \
             declaration criterion for a significant event (ESR)",
            f.worker_id,
            organ(f.quantity, &f.body_site),
            msv(dose),
            when(&f.period_start),
            when(&f.period_end),
            msv(limit),
            msv(threshold),
        );
        Some(Alert {
            alert_id: alert_id(Rule::SingleResult, Level::Esr, &f.worker_id, f.quantity, &f.body_site, &window),
            worker_id: f.worker_id.clone(),
            department,
            rule: Rule::SingleResult,
            level: Level::Esr,
            quantity: f.quantity,
            body_site: f.body_site.clone(),
            dose_msv: dose,
            threshold_msv: threshold,
            window,
            missing_results: 0,
            readings: vec![Self::cause(key, f)],
            summary,
            supersedes: Vec::new(),
            withdraws: None,
            raised_at: now,
        })
    }

    fn window_sum(&self, series: &SeriesKey, month: i32) -> Sum {
        let results = self.results(series, month - 11, month);
        Sum {
            month,
            dose: tidy(results.iter().filter_map(|(_, f)| f.counted).sum()),
            // The population of a window is the worker's at its last month.
            apprentice: results
                .iter()
                .filter(|(_, f)| month_of(f.period_end) == month)
                .any(|(_, f)| self.apprentice_at(&f.worker_id, f.period_end)),
            missing: results.iter().filter(|(_, f)| f.counted.is_none()).count(),
        }
    }

    /// Episode starts of windows ending at a month with results in `[from, to]`, and at the
    /// first month with results after `to` (whose predecessor may have changed).
    fn rolling(&self, series: &SeriesKey, from: i32, to: i32, now: DateTime<Utc>) -> Vec<Alert> {
        let Some(months) = self.series.get(series) else { return Vec::new() };
        let ends: Vec<i32> = months.keys().copied().collect();
        let start = ends.partition_point(|m| *m < from);
        let stop = (ends.partition_point(|m| *m <= to) + 1).min(ends.len());
        let q = series.1;
        let mut out = Vec::new();
        let mut previous = start.checked_sub(1).map(|i| self.window_sum(series, ends[i]));
        for &month in &ends[start..stop] {
            let sum = self.window_sum(series, month);
            let crossed = |level: Level| {
                let threshold = |s: &Sum| {
                    let limit = self.limit(s.apprentice, q);
                    if level == Level::Limit { limit } else { self.config.investigation.get(q).min(limit) }
                };
                sum.dose > threshold(&sum) && !previous.as_ref().is_some_and(|p| p.dose > threshold(p))
            };
            let level = if crossed(Level::Limit) {
                Some(Level::Limit)
            } else if crossed(Level::Investigation) {
                Some(Level::Investigation)
            } else {
                None
            };
            if let Some(level) = level {
                out.push(self.rolling_alert(series, &sum, level, now));
            }
            previous = Some(sum);
        }
        out
    }

    fn rolling_alert(&self, series: &SeriesKey, sum: &Sum, level: Level, now: DateTime<Utc>) -> Alert {
        let (worker_id, q, site) = series;
        let limit = self.limit(sum.apprentice, *q);
        let threshold = if level == Level::Limit { limit } else { self.config.investigation.get(*q).min(limit) };
        let window = Window { start: month_start(sum.month - 11), end: Some(month_start(sum.month + 1)) };
        let results = self.results(series, sum.month - 11, sum.month);
        let fallback = results.last().map(|(_, f)| f.department.clone()).unwrap_or_default();
        let department = self.department(worker_id, &fallback);
        let what = match (level, sum.apprentice) {
            (Level::Limit, false) => "the annual limit",
            (Level::Limit, true) => "the apprentice annual limit",
            (_, false) => "the investigation level",
            (_, true) => "the apprentice investigation level",
        };
        let missing = if sum.missing > 0 {
            format!("; {} result(s) missing, the sum may be higher", sum.missing)
        } else {
            String::new()
        };
        let summary = format!(
            "{worker_id} ({department}): {} over the 12 months {} to {} is {}, above {what} of {}{missing}",
            organ(*q, site),
            month_start(sum.month - 11).format("%Y-%m"),
            month_start(sum.month).format("%Y-%m"),
            msv(sum.dose),
            msv(threshold),
        );
        Alert {
            alert_id: alert_id(Rule::Rolling12Months, level, worker_id, *q, site, &window),
            worker_id: worker_id.clone(),
            department,
            rule: Rule::Rolling12Months,
            level,
            quantity: *q,
            body_site: site.clone(),
            dose_msv: sum.dose,
            threshold_msv: threshold,
            window,
            missing_results: sum.missing,
            readings: results.iter().map(|(k, f)| Self::cause(k, f)).collect(),
            summary,
            supersedes: Vec::new(),
            withdraws: None,
            raised_at: now,
        }
    }

    /// The worker's declared pregnancies: each distinct declaration date, and when it ended (the
    /// `valid_from` of the version after the last one carrying it; `None` while the current
    /// version carries it), as `worker_history` says.
    fn pregnancies(&self, worker_id: &str) -> Vec<(NaiveDate, Option<DateTime<Utc>>)> {
        let Some(versions) = self.workers.get(worker_id) else { return Vec::new() };
        let list: Vec<(&DateTime<Utc>, &WorkerFact)> = versions.iter().collect();
        let mut out: BTreeMap<NaiveDate, Option<DateTime<Utc>>> = BTreeMap::new();
        for (i, (_, v)) in list.iter().enumerate() {
            let Some(declared) = v.pregnancy_declared_on else { continue };
            let valid_to = list.get(i + 1).map(|(from, _)| **from);
            let ended = out.entry(declared).or_insert(valid_to);
            *ended = match (*ended, valid_to) {
                (None, _) | (_, None) => None,
                (Some(a), Some(b)) => Some(a.max(b)),
            };
        }
        out.into_iter().collect()
    }

    fn pregnancy(&self, worker_id: &str, now: DateTime<Utc>) -> Vec<Alert> {
        let series = (worker_id.to_string(), Quantity::Hp10, body_site(Quantity::Hp10, None, None));
        let mut out = Vec::new();
        for (declared_on, ended) in self.pregnancies(worker_id) {
            let declared = midnight(declared_on);
            let months = self.config.pregnancy_months;
            let until = (months > 0.0)
                .then(|| declared + chrono::Duration::milliseconds((months * 30.4375 * 86_400_000.0) as i64));
            let mut results: Vec<(&Key, &Fact)> = self
                .results(&series, i32::MIN, i32::MAX)
                .into_iter()
                .filter(|(_, f)| {
                    f.period_start >= declared
                        && ended.is_none_or(|e| f.period_start < e)
                        && until.is_none_or(|u| f.period_start < u)
                })
                .collect();
            results.sort_by(|a, b| {
                (a.1.period_end, a.1.period_start, &a.0.1).cmp(&(b.1.period_end, b.1.period_start, &b.0.1))
            });
            let dose = tidy(results.iter().filter_map(|(_, f)| f.counted).sum());
            let threshold = self.config.pregnancy_msv;
            if dose <= threshold {
                continue;
            }
            let missing = results.iter().filter(|(_, f)| f.counted.is_none()).count();
            let department = self.department(worker_id, "");
            // The declaration identifies the condition; its end may move as HR records the birth.
            let window = Window { start: declared, end: None };
            let summary = format!(
                "{worker_id} ({department}): {} of Hp10 since the pregnancy declared on {}, above the {} limit for \
                 the unborn child{}",
                msv(dose),
                when(&declared),
                msv(threshold),
                if missing > 0 {
                    format!("; {missing} result(s) missing, the dose may be higher")
                } else {
                    String::new()
                },
            );
            out.push(Alert {
                alert_id: alert_id(Rule::Pregnancy, Level::Pregnancy, worker_id, Quantity::Hp10, &series.2, &window),
                worker_id: worker_id.to_string(),
                department,
                rule: Rule::Pregnancy,
                level: Level::Pregnancy,
                quantity: Quantity::Hp10,
                body_site: series.2.clone(),
                dose_msv: dose,
                threshold_msv: threshold,
                window,
                missing_results: missing,
                readings: results.iter().map(|(k, f)| Self::cause(k, f)).collect(),
                summary,
                supersedes: Vec::new(),
                withdraws: None,
                raised_at: now,
            });
        }
        out
    }

    fn operational_alarm(&self, r: &Reading, origin: &str, now: DateTime<Utc>) -> Option<Alert> {
        let threshold = self.config.operational_alarm.get(r.quantity);
        let dose = r.dose_msv.filter(|_| r.status.carries_dose())?;
        if dose < threshold {
            return None;
        }
        let site = body_site(r.quantity, r.position.map(|p| p.as_str()), r.laterality.map(|l| l.as_str()));
        let window = Window { start: r.period_start, end: Some(r.period_end) };
        let department = self.department(&r.worker_id, &r.department);
        let summary = format!(
            "{} ({department}): operational {} dose of {} during one entry ({} → {}), at or above the alarm level of {}",
            r.worker_id,
            organ(r.quantity, &site),
            msv(dose),
            when(&r.period_start),
            when(&r.period_end),
            msv(threshold),
        );
        let cause = Cause {
            source: r.source.clone(),
            reading_id: r.reading_id.clone(),
            revision: r.revision,
            monitoring: r.monitoring.as_str().to_string(),
            status: r.status.as_str().to_string(),
            dose_msv: Some(dose),
            period_start: r.period_start,
            period_end: r.period_end,
            origin: origin.to_string(),
        };
        Some(Alert {
            alert_id: alert_id(Rule::OperationalAlarm, Level::Alarm, &r.worker_id, r.quantity, &site, &window),
            worker_id: r.worker_id.clone(),
            department,
            rule: Rule::OperationalAlarm,
            level: Level::Alarm,
            quantity: r.quantity,
            body_site: site,
            dose_msv: dose,
            threshold_msv: threshold,
            window,
            missing_results: 0,
            readings: vec![cause],
            summary,
            supersedes: Vec::new(),
            withdraws: None,
            raised_at: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alara_model::{Category, Laterality, Role};

    fn t(s: &str) -> DateTime<Utc> {
        alara_model::records::parse_timestamp(s).unwrap()
    }

    fn reading(id: &str, rev: i64, q: Quantity, dose: f64, start: &str, end: &str) -> Reading {
        let lens = q == Quantity::Hp3;
        Reading {
            reading_id: id.into(),
            revision: rev,
            source: "LAB".into(),
            worker_id: "W1".into(),
            employer_siret: "73282932000074".into(),
            site: None,
            department: "cardio".into(),
            dosimeter_id: format!("D-{id}"),
            monitoring: if lens { Monitoring::Lens } else { Monitoring::Passive },
            position: Some(if lens { Position::Eye } else { Position::UnderApron }),
            laterality: lens.then_some(Laterality::Left),
            quantity: q,
            status: Status::Measured,
            dose_msv: Some(dose),
            recording_threshold_msv: 0.05,
            period_start: t(start),
            period_end: t(end),
            radiation: None,
        }
    }

    fn feed(rules: &mut Rules, r: &Reading) -> Vec<Alert> {
        rules.apply_reading(r, t("2026-01-01"), "f:1");
        rules.evaluate_reading(r, "f:1", t("2026-01-01"))
    }

    /// Monthly periods from June 2024, ending on the last day of the month.
    fn months(n: u32) -> Vec<(String, String)> {
        (0..n)
            .map(|i| {
                let s = NaiveDate::from_ymd_opt(2024, 6, 1).unwrap().checked_add_months(Months::new(i)).unwrap();
                let e = s.checked_add_months(Months::new(1)).unwrap().pred_opt().unwrap();
                (s.to_string(), e.to_string())
            })
            .collect()
    }

    fn worker(apprentice: bool, pregnancy: Option<&str>, valid_from: &str) -> Worker {
        Worker {
            worker_id: "W1".into(),
            employer_siret: "73282932000074".into(),
            department: "cardio".into(),
            role: Role::Nurse,
            category: Category::B,
            pregnancy_declared_on: pregnancy.map(|d| d.parse().unwrap()),
            apprentice,
            valid_from: t(valid_from),
        }
    }

    #[test]
    fn a_sum_alerts_once_per_episode_on_calendar_windows() {
        let mut rules = Rules::new(RuleConfig::default());
        let mut fired = Vec::new();
        // 1.5 mSv of Hp3 a month: above the 15 mSv investigation level at the 11th month, once.
        for (i, (s, e)) in months(11).iter().enumerate() {
            fired.extend(feed(&mut rules, &reading(&format!("r{i}"), 0, Quantity::Hp3, 1.5, s, e)));
        }
        let got: Vec<_> = fired.iter().map(|a| (a.level, a.window.start, a.window.end.unwrap())).collect();
        assert_eq!(got, vec![(Level::Investigation, t("2024-05-01"), t("2025-05-01"))], "{fired:#?}");
        assert_eq!(fired[0].body_site, "eye/left");
        // A 6 mSv month: a declaration criterion (≥ 5) and the limit crossed (22.5 > 20).
        let (s, e) = &months(12)[11];
        let more = feed(&mut rules, &reading("r11", 0, Quantity::Hp3, 6.0, s, e));
        let mut got: Vec<_> = more.iter().map(|a| (a.rule, a.level)).collect();
        got.sort();
        assert_eq!(got, vec![(Rule::SingleResult, Level::Esr), (Rule::Rolling12Months, Level::Limit)]);
        let limit = more.iter().find(|a| a.level == Level::Limit).unwrap();
        assert_eq!(limit.readings.len(), 12);
        assert!((limit.dose_msv - 22.5).abs() < 1e-9);
        assert!(limit.summary.contains("2024-06 to 2025-05"), "{}", limit.summary);
        // The next month is still above both levels: same episodes, nothing new.
        let (s, e) = &months(13)[12];
        assert!(feed(&mut rules, &reading("r12", 0, Quantity::Hp3, 1.5, s, e)).is_empty());
    }

    #[test]
    fn each_eye_and_hand_has_its_own_sum_and_only_legal_results_count() {
        let mut rules = Rules::new(RuleConfig::default());
        let mut right = reading("x", 0, Quantity::Hp3, 12.0, "2025-01-01", "2025-01-31");
        right.laterality = Some(Laterality::Right);
        assert!(feed(&mut rules, &right).iter().all(|a| a.level == Level::Esr));
        // 12 mSv left + 12 mSv right is not 24 mSv on one eye.
        let left = reading("y", 0, Quantity::Hp3, 12.0, "2025-01-01", "2025-01-31");
        assert!(feed(&mut rules, &left).iter().all(|a| a.level == Level::Esr));
        // An over-apron badge is not the effective dose; an operational dosimeter is not the record.
        let mut over = reading("o", 0, Quantity::Hp10, 30.0, "2025-01-01", "2025-01-31");
        over.position = Some(Position::OverApron);
        assert!(feed(&mut rules, &over).is_empty());
        let mut op = reading("p", 0, Quantity::Hp10, 0.3, "2025-01-02T08:00:00Z", "2025-01-02T09:00:00Z");
        op.monitoring = Monitoring::Operational;
        assert!(feed(&mut rules, &op).is_empty());
        assert_eq!(rules.len(), 2);
    }

    #[test]
    fn one_dosimeter_and_period_counts_once_whatever_its_ids() {
        let mut rules = Rules::new(RuleConfig::default());
        let a = reading("a", 0, Quantity::Hp10, 12.0, "2025-01-01", "2025-01-31");
        let mut b = reading("b", 0, Quantity::Hp10, 12.0, "2025-01-01", "2025-01-31");
        b.dosimeter_id = a.dosimeter_id.clone();
        feed(&mut rules, &a);
        let got = feed(&mut rules, &b);
        assert!(got.iter().all(|x| x.level != Level::Limit), "{got:#?}");
    }

    #[test]
    fn evaluation_does_not_depend_on_arrival_order() {
        let readings: Vec<Reading> = months(14)
            .iter()
            .enumerate()
            .map(|(i, (s, e))| reading(&format!("r{i}"), 0, Quantity::Hp10, if i == 5 { 9.0 } else { 1.2 }, s, e))
            .collect();
        let ids = |order: Vec<&Reading>| {
            let mut rules = Rules::new(RuleConfig::default());
            for r in &order {
                rules.apply_reading(r, t("2026-01-01"), "f:1");
            }
            let mut v: Vec<String> = readings
                .iter()
                .flat_map(|r| rules.evaluate_reading(r, "f:1", t("2026-01-01")))
                .map(|a| a.alert_id)
                .collect();
            v.sort();
            v.dedup();
            v
        };
        let forward = ids(readings.iter().collect());
        assert_eq!(forward, ids(readings.iter().rev().collect()));
        // The 9 mSv month (ESR) makes 15 mSv at month 6 (investigation), 22.2 at month 12 (limit).
        assert_eq!(forward.len(), 3);
    }

    #[test]
    fn a_correction_replaces_the_dose_it_corrects() {
        let mut rules = Rules::new(RuleConfig::default());
        assert_eq!(feed(&mut rules, &reading("r", 0, Quantity::Hp10, 45.0, "2025-03-01", "2025-03-31")).len(), 2);
        assert!(feed(&mut rules, &reading("r", 1, Quantity::Hp10, 0.45, "2025-03-01", "2025-03-31")).is_empty());
        // The old revision arriving late changes nothing.
        assert!(feed(&mut rules, &reading("r", 0, Quantity::Hp10, 45.0, "2025-03-01", "2025-03-31")).is_empty());
    }

    #[test]
    fn pregnancy_apprentice_versions_and_operational_alarm() {
        let mut rules = Rules::new(RuleConfig::default());
        // An apprentice until June 2025, then an adult who declares a pregnancy on 1 March.
        rules.apply_worker(&worker(true, None, "2024-01-01"), t("2025-01-01"));
        rules.apply_worker(&worker(false, Some("2025-03-01"), "2025-06-01"), t("2025-01-01"));
        // Before the declaration: not counted for the pregnancy.
        assert!(feed(&mut rules, &reading("a", 0, Quantity::Hp10, 0.9, "2025-02-01", "2025-02-28")).is_empty());
        assert!(feed(&mut rules, &reading("b", 0, Quantity::Hp10, 0.7, "2025-03-01", "2025-03-31")).is_empty());
        let got = feed(&mut rules, &reading("c", 0, Quantity::Hp10, 0.6, "2025-04-01", "2025-04-30"));
        assert_eq!(got.len(), 1, "{got:#?}");
        assert_eq!(got[0].level, Level::Pregnancy);
        assert!((got[0].dose_msv - 1.3).abs() < 1e-9);
        assert_eq!(got[0].window.start, t("2025-03-01"));
        // In May she was still an apprentice: the ESR level is 6 × 0.25 = 1.5 mSv…
        let esr = feed(&mut rules, &reading("d", 0, Quantity::Hp10, 1.6, "2025-05-01", "2025-05-31"));
        assert!(esr.iter().any(|a| a.level == Level::Esr && a.threshold_msv == 1.5), "{esr:#?}");
        // …and in July an adult: 5 mSv.
        let esr = feed(&mut rules, &reading("e", 0, Quantity::Hp10, 1.6, "2025-07-01", "2025-07-31"));
        assert!(esr.iter().all(|a| a.level != Level::Esr), "{esr:#?}");

        // HR records the birth (a version without the declaration): later results do not count.
        let mut rules2 = Rules::new(RuleConfig::default());
        rules2.apply_worker(&worker(false, Some("2025-03-01"), "2025-03-01"), t("2025-01-01"));
        rules2.apply_worker(&worker(false, None, "2025-04-01"), t("2025-01-01"));
        feed(&mut rules2, &reading("b", 0, Quantity::Hp10, 0.7, "2025-03-01", "2025-03-31"));
        assert!(feed(&mut rules2, &reading("c", 0, Quantity::Hp10, 0.6, "2025-04-01", "2025-04-30")).is_empty());

        let mut op = reading("f", 0, Quantity::Hp10, 0.8, "2025-05-02T08:00:00Z", "2025-05-02T09:30:00Z");
        op.monitoring = Monitoring::Operational;
        let alarm = feed(&mut rules, &op);
        assert_eq!(alarm.len(), 1);
        assert_eq!(alarm[0].level, Level::Alarm);
        assert!(alarm[0].summary.contains("2025-05-02T08:00:00Z"), "{}", alarm[0].summary);
        op.dose_msv = Some(0.2);
        assert!(feed(&mut rules, &op).is_empty());
    }
}
