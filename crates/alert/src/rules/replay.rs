//! The rules' state from the lake: rebuilt at start-up from every reading and worker version,
//! then kept up to date with what every writer commits ([`Follower`]), through the same upserts
//! as a live flush, so that identity (highest revision, first copy) and "latest version" are
//! decided exactly as they were live, and every process of a consumer group holds the same state
//! whatever part of the stream it consumed itself.

use std::collections::BTreeSet;

use alara_lake::{Lake, Table};
use alara_model::{Monitoring, Position, Quantity, Status};

use super::{Key, LegalResult, Rules, SeriesKey, WorkerVersion, body_site, counted_dose, is_legal};
use crate::Result;
use crate::config::RuleConfig;
use crate::read::{Columns, for_each_batch, for_each_batch_of};

const WORKER_COLUMNS: [&str; 6] =
    ["worker_id", "department", "apprentice", "pregnancy_declared_on", "valid_from", "ingested_at"];

const READING_COLUMNS: [&str; 16] = [
    "reading_id",
    "revision",
    "source",
    "worker_id",
    "department",
    "dosimeter_id",
    "monitoring",
    "position",
    "laterality",
    "quantity",
    "status",
    "dose_msv",
    "period_start",
    "period_end",
    "ingested_at",
    "origin",
];

/// What a batch of rows changed in the state: the rules to evaluate again.
#[derive(Debug, Default)]
pub struct Touched {
    /// Legal results taken (their identity).
    pub results: Vec<Key>,
    /// Series whose result a higher revision corrected: their standing alerts may no longer hold.
    pub corrected: BTreeSet<SeriesKey>,
    /// Workers with a version taken.
    pub workers: BTreeSet<String>,
}

impl Touched {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.results.is_empty() && self.corrected.is_empty() && self.workers.is_empty()
    }
}

/// The table versions the state has read, for following what comes after.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Seen {
    /// `readings`.
    pub readings: Option<u64>,
    /// `workers`.
    pub workers: Option<u64>,
}

/// The rules over the lake's current content, readings older than `state_months` before the
/// newest one forgotten, and the versions read.
pub fn rebuild(lake: &Lake, config: RuleConfig, state_months: u32) -> Result<(Rules, Seen)> {
    let mut rules = Rules::new(config);
    let mut touched = Touched::default();
    let workers =
        for_each_batch(lake, Table::Workers, &WORKER_COLUMNS, |c| apply_workers(&mut rules, c, &mut touched))?;
    let readings = for_each_batch(lake, Table::Readings, &READING_COLUMNS, |c| {
        apply_readings(&mut rules, c, &mut touched)?;
        rules.prune_when_grown(state_months);
        Ok(())
    })?;
    rules.prune(state_months);
    Ok((rules, Seen { readings, workers }))
}

/// Follows the `workers` and `readings` tables of a lake: what every writer committed since the
/// versions seen.
#[derive(Debug, Clone, Copy, Default)]
pub struct Follower {
    /// What the state holds.
    pub seen: Seen,
}

impl Follower {
    /// Takes into `rules` the rows of every commit after the versions seen (workers first, so
    /// a reading finds the version of its worker), and says what they touched. Commits this
    /// process made are taken again, which the upserts make harmless.
    pub fn catch_up(&mut self, lake: &Lake, rules: &mut Rules) -> Result<Touched> {
        let mut touched = Touched::default();
        let tail = lake.commits_after(Table::Workers, self.seen.workers)?;
        report_skipped(Table::Workers, &tail.skipped);
        for commit in &tail.added {
            for_each_batch_of(lake, Table::Workers, &commit.files, &WORKER_COLUMNS, |c| {
                apply_workers(rules, c, &mut touched)
            })?;
        }
        self.seen.workers = tail.newest.or(self.seen.workers);
        let tail = lake.commits_after(Table::Readings, self.seen.readings)?;
        report_skipped(Table::Readings, &tail.skipped);
        for commit in &tail.added {
            for_each_batch_of(lake, Table::Readings, &commit.files, &READING_COLUMNS, |c| {
                apply_readings(rules, c, &mut touched)
            })?;
        }
        self.seen.readings = tail.newest.or(self.seen.readings);
        Ok(touched)
    }
}

fn report_skipped(table: Table, skipped: &[alara_lake::Skipped]) {
    for s in skipped {
        tracing::error!(table = table.dir(), version = s.version, reason = %s.reason, "unreadable Delta log entry skipped");
    }
}

fn apply_workers(rules: &mut Rules, c: &Columns, touched: &mut Touched) -> Result<()> {
    let (id, dept) = (c.text("worker_id")?, c.text("department")?);
    let (apprentice, pregnancy) = (c.bool("apprentice")?, c.date("pregnancy_declared_on")?);
    let (valid_from, ingested_at) = (c.ts("valid_from")?, c.ts("ingested_at")?);
    for i in 0..c.len() {
        let (Some(id), Some(valid_from), Some(ingested_at)) = (id.get(i), valid_from(i), ingested_at(i)) else {
            continue;
        };
        let version = WorkerVersion {
            ingested_at,
            department: dept.get(i).unwrap_or_default().to_string(),
            apprentice: apprentice(i).unwrap_or(false),
            pregnancy_declared_on: pregnancy(i),
        };
        rules.upsert_worker(id.to_string(), valid_from, version);
        touched.workers.insert(id.to_string());
    }
    Ok(())
}

fn apply_readings(rules: &mut Rules, c: &Columns, touched: &mut Touched) -> Result<()> {
    let (reading_id, source, worker, dept) =
        (c.text("reading_id")?, c.text("source")?, c.text("worker_id")?, c.text("department")?);
    let (monitoring, quantity, status, origin) =
        (c.text("monitoring")?, c.text("quantity")?, c.text("status")?, c.text("origin")?);
    let (dosimeter, position, laterality) = (c.text("dosimeter_id")?, c.text("position")?, c.text("laterality")?);
    let (revision, dose) = (c.i64("revision")?, c.f64("dose_msv")?);
    let (start, end, ingested_at) = (c.ts("period_start")?, c.ts("period_end")?, c.ts("ingested_at")?);
    for i in 0..c.len() {
        let Some(m) = monitoring.get(i).and_then(|m| m.parse::<Monitoring>().ok()) else { continue };
        let (Some(rid), Some(src), Some(w), Some(q), Some(st)) = (
            reading_id.get(i),
            source.get(i),
            worker.get(i),
            quantity.get(i).and_then(|q| q.parse::<Quantity>().ok()),
            status.get(i).and_then(|s| s.parse::<Status>().ok()),
        ) else {
            continue;
        };
        let (Some(period_start), Some(period_end), Some(ingested_at)) = (start(i), end(i), ingested_at(i)) else {
            continue;
        };
        let pos = position.get(i);
        let key: Key = (src.to_string(), rid.to_string());
        let revision = revision(i).unwrap_or(0);
        // Operational readings hold no state; their alarms are evaluated as they arrive.
        let legal = is_legal(m, q, pos.and_then(|p| p.parse::<Position>().ok())).then(|| LegalResult {
            worker_id: w.to_string(),
            department: dept.get(i).unwrap_or_default().to_string(),
            quantity: q,
            monitoring: m,
            body_site: body_site(q, pos.and_then(|p| p.parse().ok()), laterality.get(i).and_then(|l| l.parse().ok())),
            dosimeter_id: dosimeter.get(i).unwrap_or_default().to_string(),
            status: st,
            revision,
            counted: counted_dose(st, dose(i)),
            period_start,
            period_end,
            ingested_at,
            origin: origin.get(i).unwrap_or_default().to_string(),
        });
        let is_legal = legal.is_some();
        if let Some(series) = rules.take(key.clone(), revision, legal) {
            touched.corrected.insert(series);
        }
        if is_legal {
            touched.results.push(key);
        }
    }
    Ok(())
}
