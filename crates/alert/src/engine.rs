//! The engine: rules on every durable flush, the outbox, and one delivery worker per hook.
//!
//! Start-up reads the outbox (what was raised, what each hook still owes) and replays the lake
//! into the rules' state, then starts the hooks with what they owe. For each flush made durable
//! by ingest, [`Engine::on_flush`] takes its rows into the state, evaluates the rules touched,
//! keeps the conditions never raised before, writes them (`raised`, and `queued` per hook whose
//! filters match) to the outbox, and only then hands them to the hooks.

use std::collections::BTreeSet;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use alara_lake::Lake;
use alara_model::{Flush, FlushObserver, ObserverError};
use chrono::{DateTime, Utc};

use crate::alert::Alert;
use crate::config::{AlertsConfig, HookConfig, RuleConfig, hook_names};
use crate::outbox::{Event, EventKind, History, Outbox};
use crate::raised::RaisedAlerts;
use crate::rules::checkpoint;
use crate::rules::replay::{Follower, Seen};
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

/// The size of an engine's state, kept up to date for the metrics endpoint: legal results and
/// worker versions held. It grows with workers × months of results, not with readings
/// (operational entries hold nothing, results older than `state_months` are forgotten).
#[derive(Debug, Default)]
pub struct StateSize {
    /// Legal results held.
    pub results: std::sync::atomic::AtomicU64,
    /// Workers with at least one version held.
    pub workers: std::sync::atomic::AtomicU64,
}

/// What a run did, for the command line to print.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Alerts raised during the run.
    pub raised: usize,
    /// Per hook.
    pub hooks: Vec<HookReport>,
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
    /// What of the lake's `readings` and `workers` the rules hold (every writer's commits).
    follower: Follower,
    /// The version of `alerts` whose raised and withdrawn alerts `raised_alerts` holds.
    alerts_seen: Option<u64>,
    raised_alerts: RaisedAlerts,
    /// Results older than this many months before the newest are forgotten.
    state_months: u32,
    size: Arc<StateSize>,
    outbox: Outbox,
    routes: Vec<Route>,
    raised: usize,
}

/// The streaming alert engine of one process.
pub struct Engine {
    state: Arc<Mutex<EngineState>>,
    workers: Vec<HookWorker>,
    owed_at_start: usize,
    /// The thread that follows other writers' commits between flushes, and how to stop it.
    following: Option<(Sender<()>, std::thread::JoinHandle<()>)>,
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
        let (rules, seen) = if !with_rules {
            (Rules::new(config.rules.clone()), Seen::default())
        } else if let Some((mut rules, seen)) = checkpoint::load(lake, config.rules.clone())? {
            // Start from the checkpoint; the commits after it are taken at the first look.
            rules.prune(config.alerts.state_months);
            tracing::info!(?seen, results = rules.len(), "alert state from its checkpoint");
            (rules, seen)
        } else {
            let (rules, seen) = crate::rules::replay::rebuild(lake, config.rules.clone(), config.alerts.state_months)?;
            // The next start (of this process or another of the group) need not replay again.
            if let Err(e) = checkpoint::save(lake, &rules, seen) {
                tracing::warn!(error = %e, "cannot write the alert state checkpoint");
            }
            (rules, seen)
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
        let state = EngineState {
            rules,
            follower: Follower { seen },
            alerts_seen: history.version(),
            raised_alerts,
            state_months: config.alerts.state_months,
            size: Arc::new(StateSize::default()),
            outbox,
            routes,
            raised: 0,
        };
        state.record_size();
        let state = Arc::new(Mutex::new(state));
        let following = with_rules.then(|| follow_in_background(&state, FOLLOW_EVERY));
        Ok(Engine { state, workers, owed_at_start, following })
    }

    /// The size of the rules' state, updated after every flush and every look at the lake.
    pub fn state_size(&self) -> Arc<StateSize> {
        Arc::clone(&lock(&self.state).size)
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
    pub fn finish(mut self, drain: Duration) -> Summary {
        let deadline = Instant::now() + drain;
        if let Some((stop, thread)) = self.following.take() {
            drop(stop);
            let _ = thread.join();
            // A last look: what other processes committed since this one's last flush may
            // complete a condition (this may be the last process of the group to stop).
            if let Err(e) = follow(&self.state) {
                tracing::error!(error = %e, "following the lake before stopping");
            }
            if let Err(e) = lock(&self.state).checkpoint() {
                tracing::warn!(error = %e, "cannot write the alert state checkpoint");
            }
        }
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

/// How often an engine looks for other writers' commits when its own flushes do not make it look.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

/// How often a running engine writes its state's checkpoint (also written when it stops).
const CHECKPOINT_EVERY: Duration = Duration::from_secs(300);

/// Attempts at raising when other processes keep raising first (each attempt reads what they
/// raised, so only a storm of simultaneous raises exhausts them).
const RAISE_ATTEMPTS: usize = 20;

/// What an evaluation found: conditions that hold, and series whose standing alerts must be
/// checked again (a result corrected, or a result of an earlier month arriving late).
#[derive(Default)]
struct Found {
    candidates: Vec<Alert>,
    recheck: BTreeSet<SeriesKey>,
}

fn on_flush(state: &Mutex<EngineState>, flush: &Flush) -> Result<Vec<Arc<Alert>>> {
    let now = Utc::now();
    let mut s = lock(state);
    let mut found = Found::default();
    // This process's own rows first, typed: operational alarms are evaluated only here, by the
    // process that consumed the entry.
    for w in &flush.workers {
        s.rules.apply_worker(&w.row, w.ingested_at);
    }
    let origins: Vec<String> = flush.readings.iter().map(|r| r.origin.to_string()).collect();
    for (r, origin) in flush.readings.iter().zip(&origins) {
        found.recheck.extend(s.rules.apply_reading(&r.row, r.ingested_at, origin));
        found.recheck.extend(s.rules.series_of(&(r.row.source.clone(), r.row.reading_id.clone())));
    }
    for (r, origin) in flush.readings.iter().zip(&origins) {
        found.candidates.extend(s.rules.evaluate_reading(&r.row, origin, now));
    }
    // A worker version may change limits or declare a pregnancy. Evaluated even when unchanged,
    // so that a flush replayed after a crash raises what the crash prevented.
    let mut workers: Vec<&str> = flush.workers.iter().map(|w| w.row.worker_id.as_str()).collect();
    workers.sort_unstable();
    workers.dedup();
    for w in workers {
        found.candidates.extend(s.rules.evaluate_worker(w, now));
    }
    // Then what every writer committed, this flush included: a worker's results may be split
    // between the processes of a group, and the rules hold only on the whole.
    follow_into(&mut s, &mut found, now)?;
    raise(&mut s, found, now)
}

/// Follows other writers' commits and raises what they complete (between flushes, and once
/// more when the engine stops).
fn follow(state: &Mutex<EngineState>) -> Result<Vec<Arc<Alert>>> {
    let now = Utc::now();
    let mut s = lock(state);
    let mut found = Found::default();
    follow_into(&mut s, &mut found, now)?;
    raise(&mut s, found, now)
}

fn follow_into(s: &mut EngineState, found: &mut Found, now: DateTime<Utc>) -> Result<()> {
    let lake = s.outbox.lake().clone();
    let touched = s.follower.catch_up(&lake, &mut s.rules)?;
    for key in &touched.results {
        found.candidates.extend(s.rules.evaluate_result(key, now));
        found.recheck.extend(s.rules.series_of(key));
    }
    for w in &touched.workers {
        found.candidates.extend(s.rules.evaluate_worker(w, now));
    }
    found.recheck.extend(touched.corrected);
    s.rules.prune_when_grown(s.state_months);
    s.record_size();
    Ok(())
}

impl EngineState {
    /// Forgets results past `state_months` and writes the state with the versions it covers.
    fn checkpoint(&mut self) -> Result<()> {
        self.rules.prune(self.state_months);
        self.record_size();
        checkpoint::save(self.outbox.lake(), &self.rules, self.follower.seen)
    }

    fn record_size(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        self.size.results.store(self.rules.len() as u64, Relaxed);
        self.size.workers.store(self.rules.workers_held() as u64, Relaxed);
    }
}

fn follow_in_background(state: &Arc<Mutex<EngineState>>, every: Duration) -> (Sender<()>, std::thread::JoinHandle<()>) {
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let state = Arc::downgrade(state);
    let thread = std::thread::Builder::new()
        .name("alara-alert-follow".into())
        .spawn(move || {
            // Ends when the engine drops the sender (finish, or the engine dropped).
            let mut last_checkpoint = Instant::now();
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                let Some(state) = state.upgrade() else { return };
                if let Err(e) = follow(&state) {
                    tracing::error!(error = %e, "following the lake's commits");
                }
                if last_checkpoint.elapsed() >= CHECKPOINT_EVERY {
                    last_checkpoint = Instant::now();
                    if let Err(e) = lock(&state).checkpoint() {
                        tracing::warn!(error = %e, "cannot write the alert state checkpoint");
                    }
                }
            }
        })
        .expect("spawning the alert follower thread");
    (stop, thread)
}

/// Raises the conditions not raised before by any process, and withdraws what corrections no
/// longer support, in one guarded commit of the outbox (see [`Outbox::append_raised`]); then
/// hands them to the hooks.
fn raise(s: &mut EngineState, mut found: Found, now: DateTime<Utc>) -> Result<Vec<Arc<Alert>>> {
    if found.candidates.is_empty() && found.recheck.is_empty() {
        return Ok(Vec::new());
    }
    for _ in 0..RAISE_ATTEMPTS {
        // The guard first, then what was raised up to it: a raise committed after the guard was
        // read makes our commit fail, one committed before is in what we read.
        let guard = s.outbox.raise_guard()?;
        let (newest, others, withdrawn_by_others) = s.outbox.raised_after(s.alerts_seen)?;
        let learned = !others.is_empty();
        for a in others {
            s.raised_alerts.insert(&Arc::new(a));
        }
        s.raised_alerts.withdrawn.extend(withdrawn_by_others);
        s.alerts_seen = newest;
        // Alerts another process raised since our last look rest on readings it committed before
        // raising them, maybe after our last look at the readings: take those in before judging
        // whether standing alerts still hold, or one is withdrawn on a partial sum (seen in the
        // three-consumer test: "the 12-month sum is now 3.75 mSv" for a 6.04 mSv alert the view
        // confirms). Alerts known before were raised before the readings were last followed.
        if learned {
            follow_into(s, &mut found, now)?;
        }

        let mut raised = Vec::new();
        for c in &found.candidates {
            let mut c = c.clone();
            if s.raised_alerts.admit(&mut c) {
                let a = Arc::new(c);
                s.raised_alerts.insert(&a);
                raised.push(a);
            }
        }
        // Corrections (a higher revision of a result), or results of earlier months arriving
        // late, may leave standing alerts without support: each is withdrawn, and a withdrawal
        // notice goes where the alert went.
        let mut withdrawn = Vec::new();
        for key in &found.recheck {
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
        let events = outbox_events(s, &raised, &withdrawn, now);
        match s.outbox.append_raised(&events, guard) {
            Ok(true) => {}
            Ok(false) => {
                // Another process raised first: read what it raised, decide again.
                s.raised_alerts.undo(&raised, &withdrawn);
                continue;
            }
            Err(e) => {
                // Not raised after all: forget them so the replayed flush raises them again.
                s.raised_alerts.undo(&raised, &withdrawn);
                return Err(e);
            }
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
        return Ok(raised);
    }
    Err(Error::Contention(format!(
        "other processes raised alerts first {RAISE_ATTEMPTS} times in a row; the flush will be retried"
    )))
}

fn outbox_events(
    s: &EngineState,
    raised: &[Arc<Alert>],
    withdrawn: &[(Arc<Alert>, String)],
    now: DateTime<Utc>,
) -> Vec<Event> {
    let event = |alert: &Arc<Alert>, kind, hook: Option<&str>, note: Option<&str>| Event {
        alert: Arc::clone(alert),
        kind,
        hook: hook.map(str::to_string),
        author: None,
        note: note.map(str::to_string),
        at: now,
    };
    let mut events = Vec::new();
    for (a, why) in withdrawn {
        events.push(event(a, EventKind::Withdrawn, None, Some(why)));
    }
    for a in raised {
        events.push(event(a, EventKind::Raised, None, None));
        for route in s.routes.iter().filter(|r| r.filter.accepts(a)) {
            events.push(event(a, EventKind::Queued, Some(&route.name), None));
        }
    }
    events
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
#[path = "engine_tests.rs"]
mod tests;
