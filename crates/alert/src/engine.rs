//! The engine: rules on every durable flush, the outbox, and one delivery worker per hook.
//!
//! Start-up reads the outbox (what was raised, what each hook still owes) and replays the lake
//! into the rules' state, then starts the hooks with what they owe. For each flush made durable
//! by ingest, [`Engine::on_flush`] takes its rows into the state, evaluates the rules touched,
//! keeps the conditions never raised before, writes them (`raised`, and `queued` per hook whose
//! filters match) to the outbox, and only then hands them to the hooks.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use alara_lake::Lake;
use alara_model::{Flush, FlushObserver, ObserverError};
use chrono::{DateTime, Utc};

use crate::alert::{Alert, Rule, Window};
use crate::config::{AlertsConfig, HookConfig, RuleConfig, hook_names};
use crate::outbox::{Event, EventKind, History, Outbox};
use crate::rules::{Rules, SeriesKey};
use crate::transport::deliver::{HookReport, HookWorker, Msg, Policy, spawn};
use crate::transport::{Filter, build};
use crate::{Error, Result};

/// Everything the engine needs.
#[derive(Debug, Clone, Default)]
pub struct EngineConfig {
    /// Dose levels of the rules.
    pub rules: RuleConfig,
    /// Delivery behaviour.
    pub alerts: AlertsConfig,
    /// The hooks.
    pub hooks: Vec<HookConfig>,
}

/// What a run did, for the command line to print.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Alerts raised during the run.
    pub raised: usize,
    /// Per hook.
    pub hooks: Vec<HookReport>,
}

/// The alerts already raised, per worker × quantity × body site, to decide whether a condition
/// is new, what it supersedes, and which alerts a correction may withdraw.
#[derive(Debug, Default)]
struct RaisedAlerts {
    ids: HashSet<String>,
    withdrawn: HashSet<String>,
    by_series: HashMap<SeriesKey, Vec<Arc<Alert>>>,
}

fn series(a: &Alert) -> SeriesKey {
    (a.worker_id.clone(), a.quantity, a.body_site.clone())
}

fn overlaps(a: &Window, b: &Window) -> bool {
    let end = |w: &Window| w.end.unwrap_or(DateTime::<Utc>::MAX_UTC);
    a.start < end(b) && b.start < end(a)
}

impl RaisedAlerts {
    fn insert(&mut self, a: &Arc<Alert>) {
        self.ids.insert(a.alert_id.clone());
        self.by_series.entry(series(a)).or_default().push(Arc::clone(a));
    }

    /// Forgets alerts whose outbox write failed, so that the replayed flush raises them again.
    fn forget(&mut self, ids: &HashSet<&str>) {
        self.ids.retain(|id| !ids.contains(id.as_str()));
        self.withdrawn.retain(|id| !ids.contains(id.as_str()));
        for v in self.by_series.values_mut() {
            v.retain(|a| !ids.contains(a.alert_id.as_str()));
        }
    }

    /// Whether a candidate is to be raised: not raised before, and no higher level of the same
    /// rule already raised for the very same window. Fills in what it supersedes: lower levels
    /// of the same rule on overlapping windows.
    fn admit(&self, a: &mut Alert) -> bool {
        if self.ids.contains(&a.alert_id) {
            return false;
        }
        let same = self.by_series.get(&series(a)).map(Vec::as_slice).unwrap_or_default();
        if same.iter().any(|c| c.rule == a.rule && c.window == a.window && c.level > a.level) {
            return false;
        }
        a.supersedes = same
            .iter()
            .filter(|c| c.rule == a.rule && c.level < a.level && overlaps(&c.window, &a.window))
            .map(|c| c.alert_id.clone())
            .collect();
        true
    }

    /// Alerts of a series that stand: neither withdrawn nor themselves withdrawal notices.
    fn standing(&self, key: &SeriesKey) -> impl Iterator<Item = &Arc<Alert>> {
        self.by_series
            .get(key)
            .into_iter()
            .flatten()
            .filter(|a| a.rule != Rule::Withdrawal && !self.withdrawn.contains(&a.alert_id))
    }
}

struct Route {
    name: String,
    filter: Filter,
    tx: Sender<Msg>,
}

/// What the engine holds between flushes, behind one lock: the rules' rolling state, the alerts
/// raised so far, the outbox and the hooks' queues.
struct EngineState {
    rules: Rules,
    raised_alerts: RaisedAlerts,
    outbox: Outbox,
    routes: Vec<Route>,
    raised: usize,
}

/// The streaming alert engine of one process.
pub struct Engine {
    state: Arc<Mutex<EngineState>>,
    workers: Vec<HookWorker>,
    owed_at_start: usize,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("hooks", &self.workers.len()).finish()
    }
}

fn lock(state: &Mutex<EngineState>) -> MutexGuard<'_, EngineState> {
    // A panic while holding the lock leaves consistent data (every step is an insert), so a
    // poisoned lock is used as is.
    state.lock().unwrap_or_else(|p| p.into_inner())
}

impl Engine {
    /// Starts the engine over a lake: rebuilds the rules' state from it and starts every hook
    /// with what it still owes.
    pub fn start(lake: &Lake, config: EngineConfig) -> Result<Engine> {
        Self::start_with(lake, config, true)
    }

    /// Starts only the delivery of what hooks owe, without the rules (`alara alerts --retry`).
    pub fn deliver_only(lake: &Lake, config: EngineConfig) -> Result<Engine> {
        Self::start_with(lake, config, false)
    }

    fn start_with(lake: &Lake, config: EngineConfig, with_rules: bool) -> Result<Engine> {
        config.alerts.validate().map_err(|e| Error::Config(format!("[alerts] {e}")))?;
        let names = hook_names(&config.hooks).map_err(Error::Config)?;
        // Configuration mistakes are reported before the (possibly long) replay.
        let mut notifiers = Vec::new();
        for (name, hook) in names.iter().zip(&config.hooks) {
            notifiers.push(build(name, hook)?);
        }
        let history = History::read(lake)?;
        let rules = if with_rules {
            crate::rules::replay::rebuild(lake, config.rules.clone(), config.alerts.state_months)?
        } else {
            Rules::new(config.rules.clone())
        };
        let mut raised_alerts = RaisedAlerts::default();
        for a in history.alerts() {
            raised_alerts.insert(a);
            if history.withdrawn(&a.alert_id).is_some() {
                raised_alerts.withdrawn.insert(a.alert_id.clone());
            }
        }
        let outbox = Outbox::new(lake.clone());
        let policy = Policy::of(&config.alerts);
        let mut routes = Vec::new();
        let mut workers = Vec::new();
        let mut owed_at_start = 0;
        for ((name, hook), notifier) in names.into_iter().zip(&config.hooks).zip(notifiers) {
            let backlog = history.owed(&name);
            owed_at_start += backlog.len();
            if !backlog.is_empty() {
                tracing::info!(hook = %name, alerts = backlog.len(), "re-sending what the hook still owes");
            }
            let worker = spawn(name.clone(), notifier, backlog, outbox.clone(), policy.clone());
            routes.push(Route { name, filter: Filter::of(hook), tx: worker.tx.clone() });
            workers.push(worker);
        }
        tracing::info!(readings = rules.len(), alerts = history.alerts().len(), "alert engine started");
        let state = EngineState { rules, raised_alerts, outbox, routes, raised: 0 };
        Ok(Engine { state: Arc::new(Mutex::new(state)), workers, owed_at_start })
    }

    /// Alerts the hooks still owed when the engine started (re-sent first).
    pub fn owed_at_start(&self) -> usize {
        self.owed_at_start
    }

    /// An observer of ingest's durable flushes: every flush goes through [`Engine::on_flush`].
    /// If the outbox cannot be written, the observer returns the error and ingest stops without
    /// committing the flush's source position, so the flush is replayed and its alerts raised
    /// at the next start rather than lost.
    pub fn observer(&self) -> Box<dyn FlushObserver + Send> {
        Box::new(Observer(Arc::clone(&self.state)))
    }

    /// Evaluates the rules on a durable flush; returns the alerts raised (already in the
    /// outbox and handed to the hooks).
    pub fn on_flush(&self, flush: &Flush) -> Result<Vec<Arc<Alert>>> {
        on_flush(&self.state, flush)
    }

    /// Ends the run: each hook delivers what it owes for at most `drain`, then stops.
    pub fn finish(self, drain: Duration) -> Summary {
        let deadline = Instant::now() + drain;
        let raised = {
            let mut s = lock(&self.state);
            // Dropping the routes' senders lets workers see the end of input once the observer
            // (which shares them) is gone too.
            s.routes.clear();
            s.raised
        };
        let hooks = self.workers.into_iter().map(|w| w.finish(deadline)).collect();
        Summary { raised, hooks }
    }
}

fn on_flush(state: &Mutex<EngineState>, flush: &Flush) -> Result<Vec<Arc<Alert>>> {
    if flush.readings.is_empty() && flush.workers.is_empty() {
        return Ok(Vec::new());
    }
    let now = Utc::now();
    let mut s = lock(state);
    for w in &flush.workers {
        s.rules.apply_worker(&w.row, w.ingested_at);
    }
    let origins: Vec<String> = flush.readings.iter().map(|r| r.origin.to_string()).collect();
    let mut corrected = BTreeSet::new();
    for (r, origin) in flush.readings.iter().zip(&origins) {
        corrected.extend(s.rules.apply_reading(&r.row, r.ingested_at, origin));
    }
    let mut candidates = Vec::new();
    for (r, origin) in flush.readings.iter().zip(&origins) {
        candidates.extend(s.rules.evaluate_reading(&r.row, origin, now));
    }
    // A worker version may change limits or declare a pregnancy. Evaluated even when unchanged,
    // so that a flush replayed after a crash raises what the crash prevented.
    let mut workers: Vec<&str> = flush.workers.iter().map(|w| w.row.worker_id.as_str()).collect();
    workers.sort_unstable();
    workers.dedup();
    for w in workers {
        candidates.extend(s.rules.evaluate_worker(w, now));
    }
    let mut raised = Vec::new();
    for mut c in candidates {
        if s.raised_alerts.admit(&mut c) {
            let a = Arc::new(c);
            s.raised_alerts.insert(&a);
            raised.push(a);
        }
    }
    // Corrections (a higher revision of a result) may leave standing alerts without support:
    // each is withdrawn, and a withdrawal notice goes where the alert went.
    let mut withdrawn = Vec::new();
    for key in &corrected {
        for a in s.raised_alerts.standing(key) {
            if let Err(why) = s.rules.still_holds(a) {
                withdrawn.push((Arc::clone(a), why));
            }
        }
    }
    for (a, why) in &withdrawn {
        s.raised_alerts.withdrawn.insert(a.alert_id.clone());
        let notice = Arc::new(a.withdrawal(why, now));
        s.raised_alerts.insert(&notice);
        raised.push(notice);
    }
    if raised.is_empty() {
        return Ok(raised);
    }
    let event = |alert: &Arc<Alert>, kind, hook: Option<&str>, note: Option<&str>| Event {
        alert: Arc::clone(alert),
        kind,
        hook: hook.map(str::to_string),
        author: None,
        note: note.map(str::to_string),
        at: now,
    };
    let mut events = Vec::new();
    for (a, why) in &withdrawn {
        events.push(event(a, EventKind::Withdrawn, None, Some(why)));
    }
    for a in &raised {
        events.push(event(a, EventKind::Raised, None, None));
        for route in s.routes.iter().filter(|r| r.filter.accepts(a)) {
            events.push(event(a, EventKind::Queued, Some(&route.name), None));
        }
    }
    if let Err(e) = s.outbox.append(&events) {
        // Not raised after all: forget them so the replayed flush raises them again.
        let ids: HashSet<&str> = raised
            .iter()
            .map(|a| a.alert_id.as_str())
            .chain(withdrawn.iter().map(|(a, _)| a.alert_id.as_str()))
            .collect();
        s.raised_alerts.forget(&ids);
        return Err(e);
    }
    s.raised += raised.len();
    for a in &raised {
        tracing::info!(alert_id = %a.alert_id, level = a.level.as_str(), worker = %a.worker_id, "{}", a.summary);
    }
    for route in &s.routes {
        let wanted: Vec<Arc<Alert>> = raised.iter().filter(|a| route.filter.accepts(a)).cloned().collect();
        if !wanted.is_empty() {
            // A worker only goes away at finish(), after which no flush arrives.
            let _ = route.tx.send(Msg::Alerts(wanted));
        }
    }
    Ok(raised)
}

struct Observer(Arc<Mutex<EngineState>>);

impl FlushObserver for Observer {
    fn flushed(&mut self, flush: &Flush) -> std::result::Result<(), ObserverError> {
        // See `Engine::observer`: the error stops the source before it acknowledges the flush.
        on_flush(&self.0, flush).map(drop).map_err(|e| {
            tracing::error!(flush = %flush.name, error = %e, "cannot write raised alerts to the outbox");
            ObserverError::from(e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Level;
    use crate::config::HookKind;
    use alara_model::Quantity;
    use alara_model::{Monitoring, Origin, Position, Reading, Stamped, Status};

    fn t(s: &str) -> DateTime<Utc> {
        alara_model::records::parse_timestamp(s).unwrap()
    }

    fn flush(name: &str, doses: &[(&str, &str, f64)]) -> Flush {
        let readings = doses
            .iter()
            .enumerate()
            .map(|(i, (worker, month, dose))| Stamped {
                row: Reading {
                    reading_id: format!("{worker}-{month}"),
                    revision: 0,
                    source: "LAB".into(),
                    worker_id: worker.to_string(),
                    employer_siret: "73282932000074".into(),
                    site: None,
                    department: "cardio".into(),
                    dosimeter_id: format!("D-{worker}"),
                    monitoring: Monitoring::Passive,
                    position: Some(Position::UnderApron),
                    laterality: None,
                    quantity: Quantity::Hp10,
                    status: Status::Measured,
                    dose_msv: Some(*dose),
                    recording_threshold_msv: 0.05,
                    period_start: t(&format!("{month}-01")),
                    period_end: t(&format!("{month}-28")),
                    radiation: None,
                },
                ingested_at: t("2026-01-01"),
                origin: Origin::File { path: "f".into(), line: i as u64 + 1 },
            })
            .collect();
        Flush { name: name.into(), readings, ..Flush::default() }
    }

    #[test]
    fn a_correction_withdraws_what_it_no_longer_supports() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path().join("lake")).unwrap();
        let log = dir.path().join("alerts.jsonl");
        let engine = Engine::start(&lake, config(vec![HookConfig::log(&log)])).unwrap();
        // A decimal slip: 45 mSv instead of 0.45, then the lab's correction (revision 1).
        let slip = flush("f1", &[("W1", "2025-02", 45.0)]);
        let raised = engine.on_flush(&slip).unwrap();
        assert_eq!(raised.len(), 2, "ESR and limit");
        let mut fix = flush("f2", &[("W1", "2025-02", 0.45)]);
        fix.readings[0].row.revision = 1;
        let notices = engine.on_flush(&fix).unwrap();
        assert_eq!(notices.len(), 2);
        assert!(notices.iter().all(|n| n.rule == Rule::Withdrawal && n.summary.starts_with("WITHDRAWN")));
        let withdrawn: BTreeSet<_> = notices.iter().map(|n| n.withdraws.clone().unwrap()).collect();
        assert_eq!(withdrawn, raised.iter().map(|a| a.alert_id.clone()).collect());
        // Nothing more on a replay of either flush, before or after a restart.
        assert!(engine.on_flush(&fix).unwrap().is_empty());
        engine.finish(Duration::from_secs(5));
        let engine = Engine::start(&lake, config(vec![HookConfig::log(&log)])).unwrap();
        assert!(engine.on_flush(&slip).unwrap().is_empty());
        assert!(engine.on_flush(&fix).unwrap().is_empty());
        engine.finish(Duration::from_secs(5));
        let history = History::read(&lake).unwrap();
        assert!(raised.iter().all(|a| history.withdrawn(&a.alert_id).is_some()));
        assert_eq!(lines(&log).len(), 2, "the alerts, then the notices, each grouped per flush");
    }

    fn config(hooks: Vec<HookConfig>) -> EngineConfig {
        // Grouping only what one flush raised together keeps the deliveries deterministic.
        let alerts = AlertsConfig {
            max_attempts: 2,
            initial_backoff_ms: 1,
            max_backoff_ms: 2,
            group_window_s: 0.0,
            ..AlertsConfig::default()
        };
        EngineConfig { alerts, hooks, ..EngineConfig::default() }
    }

    fn lines(path: &std::path::Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(path).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    #[test]
    fn raised_once_delivered_once_and_owed_alerts_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path().join("lake")).unwrap();
        let log = dir.path().join("alerts.jsonl");
        let down = HookConfig {
            name: Some("pager".into()),
            program: Some("false".into()),
            ..HookConfig::new(HookKind::Command)
        };

        // Run 1: W1's 6 mSv badge is a declaration criterion; W2's 25 mSv also crosses the
        // limit. The log hook takes both (W2's two alerts grouped); the pager is down.
        let engine = Engine::start(&lake, config(vec![HookConfig::log(&log), down.clone()])).unwrap();
        let first = flush("f1", &[("W1", "2025-01", 6.0), ("W2", "2025-01", 25.0)]);
        let raised = engine.on_flush(&first).unwrap();
        assert_eq!(raised.len(), 3);
        // The same flush again (a replay) raises nothing.
        assert!(engine.on_flush(&first).unwrap().is_empty());
        let summary = engine.finish(Duration::from_secs(5));
        assert_eq!(summary.raised, 3);
        let by_name = |name: &str| summary.hooks.iter().find(|h| h.name == name).unwrap().clone();
        assert_eq!((by_name("log").delivered, by_name("log").owed), (3, 0));
        assert_eq!((by_name("pager").delivered, by_name("pager").owed), (0, 3));
        let got = lines(&log);
        assert_eq!(got.len(), 2, "{got:#?}");
        let w2 = got.iter().find(|d| d["worker_id"] == "W2").unwrap();
        assert_eq!(w2["level"], "limit", "the most severe leads the group");
        assert_eq!(w2["grouped"][0]["level"], "esr");

        // Run 2 over the same lake: the state is rebuilt, so a replay still raises nothing; the
        // pager, now up, gets the three alerts it owes, in the order raised.
        let history = History::read(&lake).unwrap();
        assert_eq!(history.owed("pager").len(), 3);
        assert_eq!(history.state("log", &raised[0].alert_id), Some(crate::outbox::HookState::Delivered));
        let pager_log = dir.path().join("pager.jsonl");
        let up = HookConfig {
            name: Some("pager".into()),
            program: Some("sh".into()),
            args: vec!["-c".into(), format!("cat >> {}; echo >> {}", pager_log.display(), pager_log.display())],
            ..HookConfig::new(HookKind::Command)
        };
        let engine = Engine::start(&lake, config(vec![HookConfig::log(&log), up])).unwrap();
        assert_eq!(engine.owed_at_start(), 3);
        assert!(engine.on_flush(&first).unwrap().is_empty());
        // A new month for W1 brings W1's 12-month sum to 21 mSv: a new limit alert.
        let next = engine.on_flush(&flush("f2", &[("W1", "2025-02", 15.0)])).unwrap();
        assert_eq!(next.iter().map(|a| a.level).collect::<Vec<_>>(), vec![Level::Esr, Level::Limit]);
        let summary = engine.finish(Duration::from_secs(5));
        assert_eq!(summary.raised, 2);
        let paged: Vec<String> =
            lines(&pager_log).iter().map(|d| d["worker_id"].as_str().unwrap().to_string()).collect();
        assert_eq!(paged, vec!["W1", "W2", "W1"], "backlog first, in order, then the new alerts");
        let history = History::read(&lake).unwrap();
        assert!(history.owed("pager").is_empty());
        assert_eq!(history.alerts().len(), 5);
    }
}
