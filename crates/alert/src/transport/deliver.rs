//! One delivery worker (a thread) per hook.
//!
//! The worker keeps the alerts its hook owes in a FIFO queue, in the order raised (the backlog
//! from the outbox first, then the stream). It always attempts the head of the queue, so one
//! worker's alerts reach the hook in order; everything behind waits while the head is retried.
//! The head travels with the worker's other queued alerts raised within the grouping window,
//! as one [`Delivery`] (the most severe leads): a storm becomes one message.
//!
//! A failed attempt is retried after an exponential backoff with jitter (`initial_backoff_ms`
//! doubling up to `max_backoff_ms`). After `max_attempts` failures the alerts are recorded
//! `failed` in the outbox, and retrying goes on at the longest backoff for as long as the
//! process runs: a hook that comes back gets everything, in order. When the run ends, the
//! worker delivers until its queue is empty, the drain deadline passes, or the head has failed
//! `max_attempts` times; what is left is still owed in the outbox, for the next run or
//! `alara alerts --retry`.
//!
//! `delivered` events are written after the hook accepted; a crash in between means the alert
//! is sent again at the next start (at least once; receivers deduplicate on `alert_id`).

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::Utc;

use super::Notifier;
use crate::alert::{Alert, Delivery};
use crate::config::AlertsConfig;
use crate::outbox::{Event, EventKind, Outbox};

/// Most alerts in one delivery.
const MAX_GROUP: usize = 50;
/// `delivered` events buffered before they are written (they are also written when idle).
const EVENT_BATCH: usize = 256;

/// How a worker retries and groups.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Alerts of one worker raised this close together travel together.
    pub group_window: chrono::Duration,
    /// Failures before an alert is recorded `failed`.
    pub max_attempts: u32,
    /// First retry delay.
    pub initial_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
}

impl Policy {
    /// The policy of an `[alerts]` section.
    pub fn of(c: &AlertsConfig) -> Policy {
        Policy {
            group_window: chrono::Duration::milliseconds((c.group_window_s * 1000.0) as i64),
            max_attempts: c.max_attempts,
            initial_backoff: Duration::from_millis(c.initial_backoff_ms),
            max_backoff: Duration::from_millis(c.max_backoff_ms),
        }
    }

    /// The delay before attempt `failures + 1`: exponential, capped, with "equal jitter" (half
    /// fixed, half random) so that hooks failing together do not retry in lockstep.
    pub fn backoff(&self, failures: u32) -> Duration {
        let exp = 2u32.saturating_pow(failures.saturating_sub(1).min(30));
        let base = self.initial_backoff.saturating_mul(exp).min(self.max_backoff);
        base / 2 + (base / 2).mul_f64(random_unit())
    }
}

/// A number in [0, 1) from the standard library's randomly keyed hasher (no RNG dependency
/// for one jitter per retry).
fn random_unit() -> f64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Where a worker's time comes from: the system's, or in tests a simulated clock, so that a hook
/// down for ten minutes is tested in milliseconds with the worker's real retry loop.
pub(crate) trait Clock: Send + 'static {
    /// Now.
    fn now(&self) -> Instant;
    /// A message from `rx`, waiting at most `wait`.
    fn recv_timeout(&self, rx: &Receiver<Msg>, wait: Duration) -> Result<Msg, RecvTimeoutError>;
    /// Waits `d`.
    fn sleep(&self, d: Duration);
}

/// The system's clock.
pub(crate) struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn recv_timeout(&self, rx: &Receiver<Msg>, wait: Duration) -> Result<Msg, RecvTimeoutError> {
        rx.recv_timeout(wait)
    }

    fn sleep(&self, d: Duration) {
        std::thread::sleep(d)
    }
}

/// What one hook did during a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookReport {
    /// The hook's name.
    pub name: String,
    /// Alerts delivered.
    pub delivered: usize,
    /// Alerts recorded `failed` (some may have been delivered later in the run).
    pub failed: usize,
    /// Alerts still owed when the run ended.
    pub owed: usize,
    /// The last error seen, if any.
    pub last_error: Option<String>,
}

pub(crate) enum Msg {
    /// Alerts raised together (one flush), in order: they arrive at once, so they can group.
    Alerts(Vec<Arc<Alert>>),
    /// Deliver what is owed until this instant, then stop.
    Close(Instant),
}

pub(crate) struct HookWorker {
    pub(crate) tx: Sender<Msg>,
    handle: JoinHandle<HookReport>,
}

impl HookWorker {
    /// Asks the worker to drain until `deadline` and waits for it.
    pub(crate) fn finish(self, deadline: Instant) -> HookReport {
        let _ = self.tx.send(Msg::Close(deadline));
        drop(self.tx);
        // A worker thread only panics on a bug; report it rather than propagate.
        self.handle.join().unwrap_or_else(|_| HookReport {
            last_error: Some("delivery worker panicked".into()),
            ..HookReport::default()
        })
    }
}

struct Item {
    alert: Arc<Alert>,
    failed_recorded: bool,
}

pub(crate) fn spawn(
    name: String,
    notifier: Box<dyn Notifier>,
    backlog: Vec<Arc<Alert>>,
    outbox: Outbox,
    policy: Policy,
) -> HookWorker {
    spawn_with_clock(name, notifier, backlog, outbox, policy, Box::new(SystemClock))
}

fn spawn_with_clock(
    name: String,
    notifier: Box<dyn Notifier>,
    backlog: Vec<Arc<Alert>>,
    outbox: Outbox,
    policy: Policy,
    clock: Box<dyn Clock>,
) -> HookWorker {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread_name = format!("alara-hook-{name}");
    let worker = Worker {
        report: HookReport { name, ..HookReport::default() },
        notifier,
        outbox,
        policy,
        queue: backlog.into_iter().map(|alert| Item { alert, failed_recorded: false }).collect(),
        events: Vec::new(),
        clock,
    };
    let handle = std::thread::Builder::new()
        .name(thread_name)
        .spawn(move || worker.run(rx))
        // Spawning a thread only fails when the OS is out of resources at start-up.
        .expect("spawning a delivery thread");
    HookWorker { tx, handle }
}

struct Worker {
    report: HookReport,
    notifier: Box<dyn Notifier>,
    outbox: Outbox,
    policy: Policy,
    queue: VecDeque<Item>,
    events: Vec<Event>,
    clock: Box<dyn Clock>,
}

impl Worker {
    fn run(mut self, rx: Receiver<Msg>) -> HookReport {
        let mut closing: Option<Instant> = None;
        let mut disconnected = false;
        let mut failures: u32 = 0;
        let mut next_try = self.clock.now();
        loop {
            // Take every message waiting; block only when there is nothing to do.
            loop {
                let now = self.clock.now();
                let msg = if self.queue.is_empty() {
                    if closing.is_some() || disconnected {
                        break;
                    }
                    self.write_events();
                    match rx.recv() {
                        Ok(m) => m,
                        Err(_) => {
                            disconnected = true;
                            break;
                        }
                    }
                } else {
                    let mut wait = next_try.saturating_duration_since(now);
                    if let Some(d) = closing {
                        wait = wait.min(d.saturating_duration_since(now));
                    }
                    if disconnected {
                        self.clock.sleep(wait);
                        break;
                    }
                    let got = if wait.is_zero() {
                        rx.try_recv().map_err(|e| matches!(e, TryRecvError::Disconnected))
                    } else {
                        self.clock.recv_timeout(&rx, wait).map_err(|e| matches!(e, RecvTimeoutError::Disconnected))
                    };
                    match got {
                        Ok(m) => m,
                        Err(gone) => {
                            disconnected |= gone;
                            break;
                        }
                    }
                };
                match msg {
                    Msg::Alerts(alerts) => {
                        self.queue.extend(alerts.into_iter().map(|alert| Item { alert, failed_recorded: false }))
                    }
                    Msg::Close(deadline) => closing = Some(deadline),
                }
            }
            if disconnected && closing.is_none() {
                closing = Some(self.clock.now());
            }
            if self.queue.is_empty() {
                if closing.is_some() {
                    break;
                }
                continue;
            }
            if closing.is_some_and(|d| self.clock.now() >= d) {
                break;
            }
            if self.clock.now() < next_try {
                continue;
            }
            match self.attempt() {
                Ok(()) => failures = 0,
                Err(e) => {
                    failures += 1;
                    tracing::warn!(hook = %self.report.name, attempt = failures, error = %e, "delivery failed");
                    if failures >= self.policy.max_attempts {
                        self.record_failed(&e);
                        if closing.is_some() {
                            // Down at the end of a run: leave the rest owed.
                            self.report.last_error = Some(e);
                            break;
                        }
                    }
                    self.report.last_error = Some(e);
                    next_try = self.clock.now() + self.policy.backoff(failures);
                }
            }
            if self.events.len() >= EVENT_BATCH {
                self.write_events();
            }
        }
        self.write_events();
        self.report.owed = self.queue.len();
        self.report
    }

    /// Indices of the head's group: the head and the same worker's alerts raised within the
    /// grouping window of it, in queue order.
    fn group(&self) -> Vec<usize> {
        let head = &self.queue[0].alert;
        self.queue
            .iter()
            .enumerate()
            .filter(|(_, it)| {
                it.alert.worker_id == head.worker_id
                    && (it.alert.raised_at - head.raised_at).abs() <= self.policy.group_window
            })
            .map(|(i, _)| i)
            .take(MAX_GROUP)
            .collect()
    }

    fn attempt(&mut self) -> Result<(), String> {
        let members = self.group();
        let alerts: Vec<&Alert> = members.iter().map(|&i| &*self.queue[i].alert).collect();
        // The most severe leads (the earliest among equals); the others follow in order.
        let lead = (0..alerts.len()).max_by_key(|&i| (alerts[i].level, std::cmp::Reverse(i))).unwrap_or(0);
        let delivery = Delivery {
            head: alerts[lead],
            grouped: alerts.iter().enumerate().filter(|(i, _)| *i != lead).map(|(_, a)| *a).collect(),
        };
        let body = delivery.to_json();
        self.notifier.send(&delivery, &body)?;
        let at = Utc::now();
        // Indices are valid: the queue has not changed since `group()`. Removed from the back
        // so earlier indices stay valid, then recorded in queue order.
        let mut taken: Vec<Item> =
            members.iter().rev().map(|&i| self.queue.remove(i).expect("group index in queue")).collect();
        taken.reverse();
        for item in taken {
            self.events.push(Event {
                alert: item.alert,
                kind: EventKind::Delivered,
                hook: Some(self.report.name.clone()),
                author: None,
                note: None,
                at,
            });
        }
        self.report.delivered += members.len();
        tracing::debug!(hook = %self.report.name, alerts = members.len(), "delivered");
        Ok(())
    }

    fn record_failed(&mut self, error: &str) {
        let at = Utc::now();
        for i in self.group() {
            let item = &mut self.queue[i];
            if item.failed_recorded {
                continue;
            }
            item.failed_recorded = true;
            self.report.failed += 1;
            self.events.push(Event {
                alert: Arc::clone(&item.alert),
                kind: EventKind::Failed,
                hook: Some(self.report.name.clone()),
                author: None,
                note: Some(error.to_string()),
                at,
            });
        }
        self.write_events();
    }

    fn write_events(&mut self) {
        if self.events.is_empty() {
            return;
        }
        // Events are sorted oldest first so the outbox reads in order.
        self.events.sort_by_key(|e| e.at);
        match self.outbox.append(&self.events) {
            Ok(()) => self.events.clear(),
            Err(e) => {
                // Keep them for the next write. A delivered alert whose event is never written
                // is re-sent at the next start: at least once, never lost.
                tracing::error!(hook = %self.report.name, error = %e, "cannot record delivery events in the outbox");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    use alara_model::Quantity;

    use crate::alert::{Level, Rule, Window};

    /// Simulated time: waiting for a message that is not there moves the clock on at once.
    #[derive(Clone)]
    struct SimClock {
        base: Instant,
        offset: Arc<Mutex<Duration>>,
    }

    impl SimClock {
        fn elapsed(&self) -> Duration {
            *self.offset.lock().unwrap()
        }
        fn advance(&self, d: Duration) {
            *self.offset.lock().unwrap() += d;
        }
    }

    impl Clock for SimClock {
        fn now(&self) -> Instant {
            self.base + self.elapsed()
        }
        fn recv_timeout(&self, rx: &Receiver<Msg>, wait: Duration) -> Result<Msg, RecvTimeoutError> {
            match rx.try_recv() {
                Ok(m) => Ok(m),
                Err(TryRecvError::Disconnected) => Err(RecvTimeoutError::Disconnected),
                Err(TryRecvError::Empty) => {
                    self.advance(wait);
                    Err(RecvTimeoutError::Timeout)
                }
            }
        }
        fn sleep(&self, d: Duration) {
            self.advance(d)
        }
    }

    /// A webhook that refuses everything during the first `down` of simulated time, then records
    /// what it receives.
    struct Flaky {
        clock: SimClock,
        down: Duration,
        attempts: Arc<Mutex<usize>>,
        received: Arc<Mutex<Vec<Vec<String>>>>,
        done: Sender<()>,
        expect: usize,
    }

    impl Notifier for Flaky {
        fn send(&mut self, delivery: &Delivery<'_>, _body: &[u8]) -> Result<(), String> {
            *self.attempts.lock().unwrap() += 1;
            if self.clock.elapsed() < self.down {
                return Err("connection refused (webhook down)".into());
            }
            let mut ids = vec![delivery.head.alert_id.clone()];
            ids.extend(delivery.grouped.iter().map(|a| a.alert_id.clone()));
            let mut got = self.received.lock().unwrap();
            got.push(ids);
            if got.iter().map(Vec::len).sum::<usize>() >= self.expect {
                let _ = self.done.send(());
            }
            Ok(())
        }
    }

    fn alert(i: usize, worker: &str, at: chrono::DateTime<Utc>) -> Arc<Alert> {
        Arc::new(Alert {
            alert_id: format!("a{i:03}"),
            worker_id: worker.into(),
            department: "cardiology".into(),
            rule: Rule::Rolling12Months,
            level: if i.is_multiple_of(3) { Level::Limit } else { Level::Investigation },
            quantity: Quantity::Hp10,
            body_site: "whole_body".into(),
            dose_msv: 7.0,
            threshold_msv: 6.0,
            window: Window { start: at, end: None },
            missing_results: 0,
            readings: Vec::new(),
            summary: "over".into(),
            supersedes: Vec::new(),
            withdraws: None,
            raised_at: at,
        })
    }

    #[test]
    fn a_webhook_down_ten_minutes_gets_every_alert_once_back_in_order_per_worker() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(alara_lake::Lake::open(dir.path().join("lake")).unwrap());
        let clock = SimClock { base: Instant::now(), offset: Arc::new(Mutex::new(Duration::ZERO)) };
        let t0 = chrono::DateTime::parse_from_rfc3339("2026-05-01T08:00:00Z").unwrap().with_timezone(&Utc);
        // Three workers' alerts interleaved; some of one worker close enough together to group.
        let alerts: Vec<Arc<Alert>> = (0..30)
            .map(|i| alert(i, ["W1", "W2", "W3"][i % 3], t0 + chrono::Duration::seconds(20 * i as i64)))
            .collect();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let (attempts, received) = (Arc::new(Mutex::new(0)), Arc::new(Mutex::new(Vec::new())));
        let hook = Flaky {
            clock: clock.clone(),
            down: Duration::from_secs(600),
            attempts: Arc::clone(&attempts),
            received: Arc::clone(&received),
            done: done_tx,
            expect: alerts.len(),
        };
        let policy = Policy {
            group_window: chrono::Duration::seconds(60),
            max_attempts: 5,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
        };
        let worker =
            spawn_with_clock("flaky".into(), Box::new(hook), alerts.clone(), outbox, policy, Box::new(clock.clone()));
        done_rx.recv_timeout(Duration::from_secs(60)).expect("every alert delivered once the hook is back");
        let report = worker.finish(clock.now());

        assert!(clock.elapsed() >= Duration::from_secs(600), "ten simulated minutes went by");
        assert!(*attempts.lock().unwrap() > 10, "retried while down");
        assert_eq!((report.delivered, report.owed), (alerts.len(), 0), "{report:?}");
        assert!(report.failed > 0, "recorded failed while down: {report:?}");
        let deliveries = received.lock().unwrap().clone();
        let mut seen: Vec<String> = deliveries.iter().flatten().cloned().collect();
        seen.sort();
        let mut want: Vec<String> = alerts.iter().map(|a| a.alert_id.clone()).collect();
        want.sort();
        assert_eq!(seen, want, "every alert exactly once");
        // Per worker, each delivery's alerts come after those of the deliveries before it.
        let by_id: std::collections::HashMap<&str, &Arc<Alert>> =
            alerts.iter().map(|a| (a.alert_id.as_str(), a)).collect();
        for w in ["W1", "W2", "W3"] {
            let mut last = None;
            for d in &deliveries {
                let times: Vec<_> =
                    d.iter().map(|id| by_id[id.as_str()]).filter(|a| a.worker_id == w).map(|a| a.raised_at).collect();
                if let (Some(first), Some(max)) = (times.iter().min(), times.iter().max()) {
                    assert!(last.is_none_or(|l| l < *first), "{w}: a delivery went before an earlier one");
                    last = Some(*max);
                }
            }
        }
    }

    #[test]
    fn backoff_doubles_caps_and_jitters_within_half() {
        let p = Policy {
            group_window: chrono::Duration::seconds(60),
            max_attempts: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
        };
        for (failures, base) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1000), (40, 1000)] {
            let d = p.backoff(failures).as_millis();
            assert!(d >= base / 2 && d <= base, "failures {failures}: {d} ms not in [{}, {base}]", base / 2);
        }
    }
}
