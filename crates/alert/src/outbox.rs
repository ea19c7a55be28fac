//! The `alerts` table as an append-only outbox of events.
//!
//! | event | hook | written |
//! |---|---|---|
//! | `raised` | null | when a rule fires, with the alert JSON in `payload`, **before any delivery** |
//! | `queued` | the hook | in the same file as `raised`, once per hook whose filters match: the hook owes it |
//! | `delivered` | the hook | after the hook accepted it (2xx, exit 0, broker ack) |
//! | `failed` | the hook | after `max_attempts` failed attempts, with the last error in `note`; still owed |
//! | `acknowledged` | null | by `alara alerts --ack`, with `author` and `note` |
//! | `withdrawn` | null | when corrected results no longer support the alert, with why in `note` (a `withdrawal` notice is raised and delivered in the same file) |
//!
//! Nothing is updated in place. The state of an alert for a hook is its latest event for that
//! hook (`queued` = pending); `queries/alert_status.sql` derives it for SQL, and [`History`]
//! for the engine at start-up, which re-sends whatever a hook still owes, in the order raised.
//! Every write is one atomic Parquet file, named so that a name sort is a time sort.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use alara_lake::{Lake, Table, WriteOptions};
use alara_model::schema::alerts_schema;
use arrow::array::{ArrayRef, Float64Builder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder};
use chrono::{DateTime, Utc};

use crate::alert::Alert;
use crate::read::{for_each_batch, for_each_batch_of};
use crate::{Error, Result};

/// The guard (a Delta application transaction of `alerts`) that every commit raising or
/// withdrawing alerts carries; see [`Outbox::append_raised`].
pub const RAISE_GUARD: &str = "alara.alerts.raise";

/// What happened to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// A rule fired.
    Raised,
    /// A hook owes the alert.
    Queued,
    /// The hook has failed to take it `max_attempts` times in a row (still owed).
    Failed,
    /// The hook took it.
    Delivered,
    /// A person handled it.
    Acknowledged,
    /// Corrected results no longer support it.
    Withdrawn,
}

impl EventKind {
    /// The `event` column spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Raised => "raised",
            EventKind::Queued => "queued",
            EventKind::Delivered => "delivered",
            EventKind::Failed => "failed",
            EventKind::Acknowledged => "acknowledged",
            EventKind::Withdrawn => "withdrawn",
        }
    }

    fn parse(s: &str) -> Option<EventKind> {
        [
            EventKind::Raised,
            EventKind::Queued,
            EventKind::Delivered,
            EventKind::Failed,
            EventKind::Acknowledged,
            EventKind::Withdrawn,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// One row of the outbox.
#[derive(Debug, Clone)]
pub struct Event {
    /// The alert concerned (its columns are repeated on every event so each row reads alone).
    pub alert: Arc<Alert>,
    /// What happened.
    pub kind: EventKind,
    /// For delivery events, the hook's name.
    pub hook: Option<String>,
    /// Who acknowledged.
    pub author: Option<String>,
    /// Error of a failure, or an acknowledgement's note.
    pub note: Option<String>,
    /// When the event happened.
    pub at: DateTime<Utc>,
}

/// Appends events to the `alerts` table.
#[derive(Debug, Clone)]
pub struct Outbox {
    lake: Lake,
    sequence: Arc<AtomicU64>,
}

impl Outbox {
    /// The outbox of a lake.
    pub fn new(lake: Lake) -> Outbox {
        Outbox { lake, sequence: Arc::new(AtomicU64::new(0)) }
    }

    /// The lake.
    pub fn lake(&self) -> &Lake {
        &self.lake
    }

    /// The version of the raise guard now: read it before deciding what is new, then write
    /// with [`Outbox::append_raised`].
    pub fn raise_guard(&self) -> Result<Option<i64>> {
        Ok(self.lake.guard_version(Table::Alerts, RAISE_GUARD)?)
    }

    /// Writes events that raise or withdraw alerts as one file, only if no process raised or
    /// withdrew anything since the guard read `expected`: `Ok(false)` means another process did,
    /// and the caller reads what it wrote ([`Outbox::raised_after`]) and decides again. This is
    /// how the ingest processes of a consumer group, which all follow the whole lake, raise each
    /// condition once.
    pub fn append_raised(&self, events: &[Event], expected: Option<i64>) -> Result<bool> {
        let batch = events_batch(events).map_err(|e| Error::Encode(e.to_string()))?;
        let name = self.file_name(events);
        Ok(self.lake.write_guarded(Table::Alerts, &name, &[batch], RAISE_GUARD, expected)?)
    }

    /// Alerts raised, and ids withdrawn, by the commits after version `after` (of any process),
    /// with the newest version read.
    pub fn raised_after(&self, after: Option<u64>) -> Result<(Option<u64>, Vec<Alert>, Vec<String>)> {
        let tail = self.lake.commits_after(Table::Alerts, after)?;
        let (mut raised, mut withdrawn) = (Vec::new(), Vec::new());
        let columns = ["alert_id", "event", "payload"];
        for commit in &tail.added {
            for_each_batch_of(&self.lake, Table::Alerts, &commit.files, &columns, |c| {
                let (id, event, payload) = (c.text("alert_id")?, c.text("event")?, c.text("payload")?);
                for i in 0..c.len() {
                    match event.get(i).and_then(EventKind::parse) {
                        Some(EventKind::Raised) => {
                            if let Some(a) = payload.get(i).and_then(|p| serde_json::from_str::<Alert>(p).ok()) {
                                raised.push(a);
                            }
                        }
                        Some(EventKind::Withdrawn) => withdrawn.extend(id.get(i).map(str::to_string)),
                        _ => {}
                    }
                }
                Ok(())
            })?;
        }
        Ok((tail.newest.or(after), raised, withdrawn))
    }

    fn file_name(&self, events: &[Event]) -> String {
        let n = self.sequence.fetch_add(1, Ordering::Relaxed);
        let kind = events.first().map_or("none", |e| e.kind.as_str());
        format!("{}-{}-{n:06}-{kind}", Utc::now().format("%Y%m%dT%H%M%S%6f"), std::process::id())
    }

    /// Writes events as one file; returns once it is durable. Nothing to write is not an error.
    pub fn append(&self, events: &[Event]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let batch = events_batch(events).map_err(|e| Error::Encode(e.to_string()))?;
        let name = self.file_name(events);
        self.lake.write(Table::Alerts, None, &name, &[batch], &WriteOptions::default())?;
        Ok(())
    }
}

fn events_batch(events: &[Event]) -> std::result::Result<RecordBatch, arrow::error::ArrowError> {
    fn text<'a>(values: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
        let mut b = StringBuilder::new();
        for v in values {
            b.append_option(v);
        }
        Arc::new(b.finish())
    }
    fn ts(values: impl Iterator<Item = Option<DateTime<Utc>>>) -> ArrayRef {
        let mut b = TimestampMicrosecondBuilder::new().with_timezone("UTC");
        for v in values {
            b.append_option(v.map(|t| t.timestamp_micros()));
        }
        Arc::new(b.finish())
    }
    fn num(values: impl Iterator<Item = Option<f64>>) -> ArrayRef {
        let mut b = Float64Builder::new();
        for v in values {
            b.append_option(v);
        }
        Arc::new(b.finish())
    }
    let payloads: Vec<Option<String>> = events
        .iter()
        .map(|e| {
            // Serialising plain data with string keys cannot fail.
            (e.kind == EventKind::Raised).then(|| serde_json::to_string(&*e.alert).expect("alert serialises"))
        })
        .collect();
    let a = |f: fn(&Alert) -> Option<&str>| text(events.iter().map(move |e| f(&e.alert)));
    RecordBatch::try_new(
        alerts_schema(),
        vec![
            a(|x| Some(&x.alert_id)),
            text(events.iter().map(|e| Some(e.kind.as_str()))),
            text(events.iter().map(|e| e.hook.as_deref())),
            a(|x| Some(&x.worker_id)),
            a(|x| Some(&x.department)),
            a(|x| Some(x.rule.as_str())),
            a(|x| Some(x.level.as_str())),
            a(|x| Some(x.quantity.as_str())),
            num(events.iter().map(|e| Some(e.alert.dose_msv))),
            num(events.iter().map(|e| Some(e.alert.threshold_msv))),
            ts(events.iter().map(|e| Some(e.alert.window.start))),
            ts(events.iter().map(|e| e.alert.window.end)),
            a(|x| Some(&x.summary)),
            text(payloads.iter().map(|p| p.as_deref())),
            text(events.iter().map(|e| e.author.as_deref())),
            text(events.iter().map(|e| e.note.as_deref())),
            ts(events.iter().map(|e| Some(e.at))),
        ],
    )
}

/// Where an alert stands for one hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookState {
    /// Owed, not attempted to exhaustion yet.
    Pending,
    /// Owed; the last round of attempts failed.
    Failed,
    /// The hook took the alert.
    Delivered,
}

/// An acknowledgement.
#[derive(Debug, Clone, PartialEq)]
pub struct Ack {
    /// Who recorded handling the alert.
    pub author: String,
    /// Their note.
    pub note: Option<String>,
    /// When they recorded it.
    pub at: DateTime<Utc>,
}

/// Everything the outbox says, folded: the alerts in the order raised, each hook's state of
/// each alert it owes or took, acknowledgements.
#[derive(Debug, Default)]
pub struct History {
    alerts: Vec<Arc<Alert>>,
    index: HashMap<String, usize>,
    /// Per hook, per alert id: the state and the time of the event that set it.
    hooks: HashMap<String, HashMap<String, (HookState, DateTime<Utc>)>>,
    acks: HashMap<String, Ack>,
    withdrawn: HashMap<String, String>,
    /// The version of `alerts` read.
    version: Option<u64>,
}

impl History {
    /// Reads the whole outbox of a lake.
    pub fn read(lake: &Lake) -> Result<History> {
        let mut h = History::default();
        let mut raised: Vec<(DateTime<Utc>, usize, Alert)> = Vec::new();
        let columns = ["alert_id", "event", "hook", "payload", "author", "note", "event_at"];
        h.version = for_each_batch(lake, Table::Alerts, &columns, |c| {
            let (id, event, hook, payload) =
                (c.text("alert_id")?, c.text("event")?, c.text("hook")?, c.text("payload")?);
            let (author, note, at) = (c.text("author")?, c.text("note")?, c.ts("event_at")?);
            for i in 0..c.len() {
                let (Some(id), Some(kind), Some(at)) = (id.get(i), event.get(i).and_then(EventKind::parse), at(i))
                else {
                    continue;
                };
                match (kind, hook.get(i)) {
                    (EventKind::Raised, _) => {
                        let Some(alert) = payload.get(i).and_then(|p| serde_json::from_str::<Alert>(p).ok()) else {
                            tracing::warn!(alert_id = id, "raised event without a readable payload; skipped");
                            continue;
                        };
                        raised.push((at, raised.len(), alert));
                    }
                    (EventKind::Acknowledged, _) => {
                        let ack = Ack {
                            author: author.get(i).unwrap_or_default().to_string(),
                            note: note.get(i).map(str::to_string),
                            at,
                        };
                        let newer = h.acks.get(id).is_none_or(|old| old.at <= at);
                        if newer {
                            h.acks.insert(id.to_string(), ack);
                        }
                    }
                    (EventKind::Withdrawn, _) => {
                        h.withdrawn.insert(id.to_string(), note.get(i).unwrap_or_default().to_string());
                    }
                    (kind, Some(hook)) => {
                        let state = match kind {
                            EventKind::Delivered => HookState::Delivered,
                            EventKind::Failed => HookState::Failed,
                            _ => HookState::Pending,
                        };
                        let slot = h.hooks.entry(hook.to_string()).or_default();
                        // The latest event wins; at the same instant, delivered beats failed
                        // beats queued (the order they can happen in).
                        let rank = |s: HookState| match s {
                            HookState::Pending => 0,
                            HookState::Failed => 1,
                            HookState::Delivered => 2,
                        };
                        let replace = slot
                            .get(id)
                            .is_none_or(|&(old, old_at)| at > old_at || (at == old_at && rank(state) >= rank(old)));
                        if replace {
                            slot.insert(id.to_string(), (state, at));
                        }
                    }
                    (_, None) => {}
                }
            }
            Ok(())
        })?;
        raised.sort_by_key(|a| (a.0, a.1));
        for (_, _, alert) in raised {
            if !h.index.contains_key(&alert.alert_id) {
                h.index.insert(alert.alert_id.clone(), h.alerts.len());
                h.alerts.push(Arc::new(alert));
            }
        }
        Ok(h)
    }

    /// The version of the `alerts` table read (`None`: no commit yet).
    pub fn version(&self) -> Option<u64> {
        self.version
    }

    /// Every alert raised, in the order raised.
    pub fn alerts(&self) -> &[Arc<Alert>] {
        &self.alerts
    }

    /// One alert by id.
    pub fn get(&self, alert_id: &str) -> Option<&Arc<Alert>> {
        self.index.get(alert_id).map(|&i| &self.alerts[i])
    }

    /// Alerts whose id starts with `prefix`.
    pub fn find(&self, prefix: &str) -> Vec<&Arc<Alert>> {
        self.alerts.iter().filter(|a| a.alert_id.starts_with(prefix)).collect()
    }

    /// The state of an alert for a hook; `None` when the hook never owed it.
    pub fn state(&self, hook: &str, alert_id: &str) -> Option<HookState> {
        self.hooks.get(hook)?.get(alert_id).map(|(s, _)| *s)
    }

    /// What a hook still owes (pending or failed), in the order raised.
    pub fn owed(&self, hook: &str) -> Vec<Arc<Alert>> {
        let Some(states) = self.hooks.get(hook) else { return Vec::new() };
        self.alerts
            .iter()
            .filter(|a| matches!(states.get(&a.alert_id), Some((HookState::Pending | HookState::Failed, _))))
            .cloned()
            .collect()
    }

    /// Why an alert was withdrawn, if it was.
    pub fn withdrawn(&self, alert_id: &str) -> Option<&str> {
        self.withdrawn.get(alert_id).map(String::as_str)
    }

    /// The acknowledgement of an alert, if any.
    pub fn ack(&self, alert_id: &str) -> Option<&Ack> {
        self.acks.get(alert_id)
    }
}

/// Records that a person handled an alert. `id` may be a unique prefix of the alert id.
/// Returns the alert acknowledged.
pub fn acknowledge(lake: &Lake, id: &str, author: &str, note: Option<&str>) -> Result<Arc<Alert>> {
    let id = id.trim();
    if id.len() < 4 {
        return Err(Error::UnknownAlert(format!("'{id}': give at least the first 4 characters of an alert id")));
    }
    let history = History::read(lake)?;
    let found = history.find(id);
    let alert = match found.as_slice() {
        [one] => Arc::clone(one),
        [] => return Err(Error::UnknownAlert(format!("no alert id starts with '{id}' (list them: alara alerts)"))),
        many => {
            return Err(Error::UnknownAlert(format!(
                "'{id}' matches {} alerts; give more characters of the id",
                many.len()
            )));
        }
    };
    let event = Event {
        alert: Arc::clone(&alert),
        kind: EventKind::Acknowledged,
        hook: None,
        author: Some(author.to_string()),
        note: note.map(str::to_string),
        at: Utc::now(),
    };
    Outbox::new(lake.clone()).append(&[event])?;
    Ok(alert)
}
