//! The rolling state of the rules: one copy of each legal result per identity, grouped by series
//! (worker × quantity × body site), calendar month and dosimeter period, and the worker versions.

use std::collections::{BTreeMap, HashMap};

use alara_model::{Quantity, Reading, Worker};
use chrono::{DateTime, Months, Utc};

use super::{ByMonth, Key, LegalResult, SeriesKey, WorkerVersion, body_site, counted_dose, is_legal, month_of};
use crate::config::RuleConfig;

/// The rolling state and the rules over it.
#[derive(Debug)]
pub struct Rules {
    pub(super) config: RuleConfig,
    /// Boxed: a bucket then holds the key and a pointer, not the whole ~250-byte result. A hash
    /// table keeps up to half its buckets empty and doubles them as it grows (holding both tables
    /// while it moves); with boxed results, 1.14 M readings (93 k results held) ingest at 305
    /// MiB peak instead of 326–334 MiB (README, "Fifth look").
    pub(super) results_held: HashMap<Key, Box<LegalResult>>,
    pub(super) series: HashMap<SeriesKey, ByMonth>,
    /// Per worker, the versions by `valid_from` (one copy each: the latest ingested).
    pub(super) workers: HashMap<String, BTreeMap<DateTime<Utc>, WorkerVersion>>,
    /// Results held after the last prune (see [`Rules::prune_when_grown`]).
    held_after_prune: usize,
}

/// Below this many results held, [`Rules::prune_when_grown`] does not bother.
const PRUNE_FLOOR: usize = 10_000;

/// [`Rules::prune_when_grown`] prunes once the results held have grown by this factor since the
/// last pruning: the state then stays within 1.2 times what `state_months` keeps (peak memory
/// "flat with backlog" means within 1.2), and each result is scanned about five times in all.
const PRUNE_GROWTH: f64 = 1.2;

impl Rules {
    /// Empty state.
    pub fn new(config: RuleConfig) -> Rules {
        Rules {
            config,
            results_held: HashMap::new(),
            series: HashMap::new(),
            workers: HashMap::new(),
            held_after_prune: 0,
        }
    }

    /// Number of legal results held.
    pub fn len(&self) -> usize {
        self.results_held.len()
    }

    /// The series (worker, quantity, body site) of a legal result held.
    pub fn series_of(&self, key: &Key) -> Option<SeriesKey> {
        self.results_held.get(key).map(|r| r.series())
    }

    /// Number of workers with a version held.
    pub fn workers_held(&self) -> usize {
        self.workers.len()
    }

    /// Whether no result is held.
    pub fn is_empty(&self) -> bool {
        self.results_held.is_empty()
    }

    /// Takes one copy of a reading into the state (legal results only; operational readings
    /// are evaluated on their own by [`Rules::evaluate_reading`]). When it corrects a result
    /// held (a higher revision of the same identity), returns the series (worker, quantity,
    /// body site) the corrected result belonged to, whose alerts may no longer hold.
    pub fn apply_reading(&mut self, r: &Reading, ingested_at: DateTime<Utc>, origin: &str) -> Option<SeriesKey> {
        let key: Key = (r.source.clone(), r.reading_id.clone());
        let legal = is_legal(r.monitoring, r.quantity, r.position).then(|| LegalResult {
            worker_id: r.worker_id.clone(),
            department: r.department.clone(),
            quantity: r.quantity,
            monitoring: r.monitoring,
            body_site: body_site(r.quantity, r.position, r.laterality),
            dosimeter_id: r.dosimeter_id.clone(),
            status: r.status,
            revision: r.revision,
            counted: counted_dose(r.status, r.dose_msv),
            period_start: r.period_start,
            period_end: r.period_end,
            ingested_at,
            origin: origin.to_string(),
        });
        self.take(key, r.revision, legal)
    }

    /// Takes one copy of a reading given as its identity, its revision and, when it counts
    /// toward the limits, its legal result: the one path of live flushes, of other writers'
    /// commits and of the start-up replay. Returns the series whose result it corrected (see
    /// [`Rules::apply_reading`]).
    pub(crate) fn take(&mut self, key: Key, revision: i64, legal: Option<LegalResult>) -> Option<SeriesKey> {
        let corrected = self.results_held.get(&key).filter(|old| revision > old.revision).map(|r| r.series());
        match legal {
            Some(result) => self.upsert(key, result),
            // A correction may move a result out of the legal record (e.g. now over the apron).
            None if corrected.is_some() => self.remove(&key),
            None => {}
        }
        corrected
    }

    fn remove(&mut self, key: &Key) {
        let Some(old) = self.results_held.remove(key) else { return };
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
    fn upsert(&mut self, key: Key, result: LegalResult) {
        if let Some(old) = self.results_held.get(&key) {
            let newer = result.revision > old.revision
                || (result.revision == old.revision
                    && (result.ingested_at, &result.origin) < (old.ingested_at, &old.origin));
            if !newer {
                return;
            }
            self.remove(&key);
        }
        self.series
            .entry(result.series())
            .or_default()
            .entry(month_of(result.period_end))
            .or_default()
            .entry(result.slot())
            .or_default()
            .push(key.clone());
        self.results_held.insert(key, Box::new(result));
    }

    /// Takes one worker version.
    pub fn apply_worker(&mut self, w: &Worker, ingested_at: DateTime<Utc>) {
        let result = WorkerVersion {
            ingested_at,
            department: w.department.clone(),
            apprentice: w.apprentice,
            pregnancy_declared_on: w.pregnancy_declared_on,
        };
        self.upsert_worker(w.worker_id.clone(), w.valid_from, result);
    }

    /// One copy per worker and `valid_from`: the latest ingested (as `worker_history`).
    pub(crate) fn upsert_worker(&mut self, worker_id: String, valid_from: DateTime<Utc>, result: WorkerVersion) {
        let versions = self.workers.entry(worker_id).or_default();
        if versions.get(&valid_from).is_none_or(|old| result.ingested_at >= old.ingested_at) {
            versions.insert(valid_from, result);
        }
    }

    /// Forgets results that ended more than `months` before the newest one held.
    pub fn prune(&mut self, months: u32) {
        let Some(newest) = self.results_held.values().map(|f| f.period_end).max() else { return };
        let cutoff = newest.checked_sub_months(Months::new(months)).unwrap_or(DateTime::<Utc>::MIN_UTC);
        let old: Vec<Key> =
            self.results_held.iter().filter(|(_, f)| f.period_end < cutoff).map(|(k, _)| k.clone()).collect();
        for k in old {
            self.remove(&k);
        }
        self.held_after_prune = self.results_held.len();
    }

    /// Prunes once the results held have grown by [`PRUNE_GROWTH`] since the last prune. A
    /// backlog of years read in minutes (a replay, a consumer catching up) would otherwise hold
    /// every legal result it passes until the next checkpoint. Pruning early forgets nothing the
    /// next checkpoint would keep: the cutoff only moves forward.
    pub fn prune_when_grown(&mut self, months: u32) {
        let grown = (self.held_after_prune as f64 * PRUNE_GROWTH) as usize;
        if self.results_held.len() >= grown.max(PRUNE_FLOOR) {
            self.prune(months);
        }
    }

    /// The current version of a worker (latest `valid_from`).
    pub(super) fn current(&self, worker_id: &str) -> Option<&WorkerVersion> {
        self.workers.get(worker_id).and_then(|v| v.values().next_back())
    }

    /// Whether a worker was an apprentice at `t`: the version valid then, else the earliest.
    pub(super) fn apprentice_at(&self, worker_id: &str, t: DateTime<Utc>) -> bool {
        let Some(versions) = self.workers.get(worker_id) else { return false };
        versions
            .range(..=t)
            .next_back()
            .map(|(_, v)| v)
            .or_else(|| versions.values().next())
            .is_some_and(|v| v.apprentice)
    }

    pub(super) fn limit(&self, apprentice: bool, q: Quantity) -> f64 {
        self.config.limits.annual_limit(apprentice, q)
    }

    pub(super) fn department(&self, worker_id: &str, fallback: &str) -> String {
        self.current(worker_id).map(|w| w.department.clone()).unwrap_or_else(|| fallback.to_string())
    }

    /// The counted result of one dosimeter and period: a result with a dose over a missing
    /// one, then the highest revision, then the latest ingested.
    pub(super) fn winner<'a>(&'a self, keys: &'a [Key]) -> Option<(&'a Key, &'a LegalResult)> {
        keys.iter()
            .filter_map(|k| self.results_held.get_key_value(k))
            .max_by(|(_, a), (_, b)| {
                (!a.is_missing(), a.revision, a.ingested_at, &a.origin).cmp(&(
                    !b.is_missing(),
                    b.revision,
                    b.ingested_at,
                    &b.origin,
                ))
            })
            .map(|(k, r)| (k, &**r))
    }

    /// Counted results of a series in months `[from, to]`, month order.
    pub(super) fn results(&self, series: &SeriesKey, from: i32, to: i32) -> Vec<(&Key, &LegalResult)> {
        let Some(months) = self.series.get(series) else { return Vec::new() };
        months.range(from..=to).flat_map(|(_, slots)| slots.values().filter_map(|keys| self.winner(keys))).collect()
    }
}
