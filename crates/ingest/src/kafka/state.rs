//! What the consumer loop and the rebalance callback share: the core with its buffer, the offset
//! ranges that buffer covers, and what is known of each assigned partition. No Kafka client here,
//! so the bookkeeping is tested without a broker.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alara_model::{BatchSink, Origin};
use chrono::{DateTime, Utc};

use super::metrics::Metrics;
use super::{Error, OffsetLog, PartitionRange, TopicPartition, Topics};
use crate::Core;

/// Messages larger than this become rejects (with their first bytes kept).
pub(crate) const MAX_RECORD_BYTES: usize = 1 << 20;

/// Footer metadata key holding the offset ranges of a flush (JSON).
pub(crate) const RANGES_KEY: &str = "alara.kafka.ranges";

/// Where a partition's log starts and ends, from librdkafka statistics (-1: unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PartitionBounds {
    /// Low watermark: the first offset still in the log.
    pub first: i64,
    /// High watermark (offset of the next message to be written).
    pub high_watermark: i64,
    /// Last stable offset (read_committed).
    pub last_stable: i64,
}

impl PartitionBounds {
    /// Where the partition ends for this consumer.
    fn end(&self) -> i64 {
        if self.last_stable >= 0 { self.last_stable } else { self.high_watermark }
    }
}

/// An assigned partition.
#[derive(Debug, Clone, Default)]
pub(crate) struct Assigned {
    /// The next offset this process will hand to the lake: the lake position at assignment, then
    /// the offset after the last message received. `None` until known (read from the beginning).
    pub next: Option<i64>,
    /// The consumer's own position (librdkafka's application offset), which also moves past
    /// offsets that carry no message (transaction markers).
    pub position: Option<i64>,
    /// Offsets from the latest statistics received since the assignment.
    pub bounds: Option<PartitionBounds>,
    /// The next offset at which a forward gap was last reported (reported once).
    pub gap_reported: Option<i64>,
    /// When a message last arrived, or the stall watchdog last looked ([`super::stall`]).
    pub quiet_since: Option<Instant>,
}

impl Assigned {
    /// The next offset to be received, as far as known.
    fn at(&self, w: &PartitionBounds) -> i64 {
        self.next.unwrap_or(w.first).max(self.position.unwrap_or(-1))
    }

    /// Whether every message of the partition, as far as the last statistics know, was received.
    /// Only offsets of messages actually received count: librdkafka's own fetch position runs
    /// ahead of what the loop has taken from its queue.
    pub fn caught_up(&self) -> bool {
        let Some(w) = self.bounds else { return false };
        let end = w.end();
        end >= 0 && self.at(&w) >= end
    }

    /// Messages between the position and the end, when known.
    pub fn lag(&self) -> Option<i64> {
        let w = self.bounds?;
        let end = w.end();
        (end >= 0).then(|| (end - self.at(&w).max(w.first)).max(0))
    }
}

/// The shared state of a Kafka ingest run.
pub(crate) struct State<S: BatchSink> {
    pub core: Core<S>,
    log: Box<dyn OffsetLog>,
    topics: Topics,
    group: String,
    flush_prefix: String,
    max_batch_rows: usize,
    /// Offsets in the buffer, per partition: (first, last).
    pending: BTreeMap<TopicPartition, (i64, i64)>,
    /// When the oldest buffered message arrived.
    first_arrival: Option<Instant>,
    pub assigned: BTreeMap<TopicPartition, Assigned>,
    /// Whether any assignment (even an empty one) was received.
    pub assigned_once: bool,
    flushes: u64,
    /// Partitions to re-position (at the lake's next offset) after a flush that another writer
    /// superseded; the loop seeks them.
    reseek: Vec<(TopicPartition, i64)>,
    /// An error raised in a callback, for the loop to return.
    pub fatal: Option<Error>,
    metrics: Arc<Metrics>,
}

/// Offsets to commit to Kafka: the next offset of each partition.
pub(crate) type Commits = Vec<(TopicPartition, i64)>;

impl<S: BatchSink> State<S> {
    pub fn new(
        core: Core<S>,
        log: Box<dyn OffsetLog>,
        topics: Topics,
        group: String,
        flush_prefix: String,
        max_batch_rows: usize,
        metrics: Arc<Metrics>,
    ) -> Self {
        State {
            core,
            log,
            topics,
            group,
            flush_prefix,
            max_batch_rows,
            pending: BTreeMap::new(),
            first_arrival: None,
            assigned: BTreeMap::new(),
            assigned_once: false,
            flushes: 0,
            reseek: Vec::new(),
            fatal: None,
            metrics,
        }
    }

    /// Takes one message: a row, or a reject when it cannot be one.
    pub fn push(
        &mut self,
        topic: &str,
        partition: i32,
        offset: i64,
        payload: Option<&[u8]>,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let Some(kind) = self.topics.kind(topic) else {
            tracing::warn!(topic, partition, offset, "message from a topic that is not subscribed; skipped");
            return Ok(());
        };
        let origin = Origin::Kafka { topic: topic.to_string(), partition, offset };
        let result = match payload {
            None | Some([]) => {
                self.core.push_reject(kind, "empty message (no value): expected one JSON record", b"", origin, now)
            }
            Some(raw) if raw.len() > MAX_RECORD_BYTES => {
                let reason = format!(
                    "message of {} bytes is larger than the {} bytes a record may have; the first bytes are kept",
                    raw.len(),
                    MAX_RECORD_BYTES
                );
                self.core.push_reject(kind, &reason, &raw[..4096], origin, now)
            }
            Some(raw) => self.core.push_json(kind, raw, origin, now),
        };
        result.map_err(Error::Core)?;
        let tp = TopicPartition::new(topic, partition);
        let range = self.pending.entry(tp.clone()).or_insert((offset, offset));
        range.0 = range.0.min(offset);
        range.1 = range.1.max(offset);
        if let Some(a) = self.assigned.get_mut(&tp) {
            if a.next.is_some_and(|n| offset < n) {
                tracing::warn!(
                    topic,
                    partition,
                    offset,
                    expected = a.next,
                    "offset before the lake position (topic recreated, or the log was reset): re-reading"
                );
            }
            a.next = Some(offset + 1);
            a.quiet_since = Some(Instant::now());
        }
        self.first_arrival.get_or_insert_with(Instant::now);
        self.metrics.message_received(kind);
        Ok(())
    }

    /// Whether the buffer reached its size bound.
    pub fn full(&self) -> bool {
        self.core.buffered() >= self.max_batch_rows
    }

    /// When the buffer must be flushed to honour the latency bound.
    pub fn flush_deadline(&self, latency: Duration) -> Option<Instant> {
        self.first_arrival.map(|t| t + latency)
    }

    /// Rows buffered.
    pub fn buffered(&self) -> usize {
        self.core.buffered()
    }

    /// Writes the buffer with its offset ranges (in its metadata, for the lake to commit as
    /// positions), then records them in the offset log; returns the offsets to commit to Kafka
    /// (for partitions still assigned). Nothing to commit when the buffer was empty, or when
    /// another writer had committed these offsets first (see [`State::take_reseek`]).
    pub fn flush(&mut self) -> Result<Commits, Error> {
        if self.pending.is_empty() {
            return Ok(Vec::new());
        }
        self.flushes += 1;
        let name = format!(
            "{}{}-{}-{:06}",
            self.flush_prefix,
            Utc::now().format("%Y%m%dT%H%M%S%6f"),
            std::process::id(),
            self.flushes
        );
        let ranges: Vec<PartitionRange> = self
            .pending
            .iter()
            .map(|(tp, (first, last))| PartitionRange { tp: tp.clone(), first: *first, last: *last })
            .collect();
        let json: Vec<serde_json::Value> = ranges
            .iter()
            .map(|r| serde_json::json!({"topic": r.tp.topic, "partition": r.tp.partition, "first": r.first, "last": r.last}))
            .collect();
        let metadata = vec![
            (RANGES_KEY.to_string(), serde_json::Value::Array(json).to_string()),
            ("alara.kafka.group".to_string(), self.group.clone()),
        ];
        let rows = match self.core.flush_named(Some(name.clone()), metadata) {
            Ok(rows) => rows as u64,
            Err(crate::Error::Sink(e)) if self.log.superseded(e.as_ref()) => return self.superseded(&ranges, &*e),
            Err(e) => return Err(Error::Core(e)),
        };
        self.log.record(&name, &ranges, rows).map_err(|source| Error::OffsetLog { op: "recording", source })?;
        let waited = self.first_arrival.take().map(|t| t.elapsed()).unwrap_or_default();
        self.pending.clear();
        self.metrics.flushed(self.core.counts(), rows, waited);
        tracing::debug!(file = %name, rows, partitions = ranges.len(), waited_ms = waited.as_millis() as u64, "flush durable and marked");
        Ok(ranges.into_iter().filter(|r| self.assigned.contains_key(&r.tp)).map(|r| (r.tp, r.last + 1)).collect())
    }

    /// Another writer committed some of these offsets first: drop the buffer, and re-position
    /// every partition of the flush that is still assigned at the lake's position.
    fn superseded(&mut self, ranges: &[PartitionRange], cause: &dyn std::error::Error) -> Result<Commits, Error> {
        let dropped = self.core.discard();
        self.pending.clear();
        self.first_arrival = None;
        let kept: Vec<&PartitionRange> = ranges.iter().filter(|r| self.assigned.contains_key(&r.tp)).collect();
        let tps: Vec<TopicPartition> = kept.iter().map(|r| r.tp.clone()).collect();
        let next = self.log.next_offsets(&tps).map_err(|source| Error::OffsetLog { op: "reading", source })?;
        for r in kept {
            // Every partition of the dropped buffer is read again: from the lake's position, or
            // from the flush's own start for a partition no writer has committed yet.
            let n = next.get(&r.tp).copied().unwrap_or(r.first);
            if let Some(a) = self.assigned.get_mut(&r.tp) {
                a.next = Some(n);
            }
            self.reseek.push((r.tp.clone(), n));
        }
        tracing::warn!(%cause, rows = dropped, "flush abandoned; re-reading from the lake's positions");
        Ok(Vec::new())
    }

    /// Partitions to seek after a superseded flush (taken: the caller seeks them).
    pub fn take_reseek(&mut self) -> Vec<(TopicPartition, i64)> {
        std::mem::take(&mut self.reseek)
    }

    /// Records a new assignment and returns where each partition starts: the lake's position, or
    /// `None` (the beginning) for a partition the lake has never seen.
    pub fn assign(&mut self, tps: &[TopicPartition]) -> Result<Vec<(TopicPartition, Option<i64>)>, Error> {
        let next = self.log.next_offsets(tps).map_err(|source| Error::OffsetLog { op: "reading", source })?;
        self.assigned_once = true;
        let mut out = Vec::new();
        for tp in tps {
            let pos = next.get(tp).copied();
            self.assigned.insert(tp.clone(), Assigned { next: pos, ..Assigned::default() });
            out.push((tp.clone(), pos));
        }
        self.metrics.assigned(self.assigned.keys().cloned().collect());
        Ok(out)
    }

    /// Forgets revoked partitions (all of them when `tps` is `None`). Flush first.
    pub fn revoke(&mut self, tps: Option<&[TopicPartition]>) {
        match tps {
            None => self.assigned.clear(),
            Some(tps) => {
                for tp in tps {
                    self.assigned.remove(tp);
                }
            }
        }
        self.metrics.assigned(self.assigned.keys().cloned().collect());
    }

    /// Updates where an assigned partition starts and ends, from statistics.
    pub fn bounds_seen(&mut self, tp: &TopicPartition, w: PartitionBounds) {
        if let Some(a) = self.assigned.get_mut(tp) {
            a.bounds = Some(w);
            if let Some(lag) = a.lag() {
                self.metrics.lag(tp, lag);
            }
            // The log now starts after the next offset to read: retention deleted messages no
            // one read. They cannot be recovered from Kafka; say so, once, and count them.
            if let Some(next) = a.next
                && w.first > next
                && a.gap_reported != Some(next)
            {
                a.gap_reported = Some(next);
                let lost = w.first - next;
                tracing::error!(
                    topic = %tp.topic,
                    partition = tp.partition,
                    from = next,
                    to = w.first - 1,
                    lost,
                    "offsets deleted by the topic's retention before alara read them: re-send these records from their source"
                );
                self.metrics.offsets_lost(tp, lost);
            }
        }
    }

    /// Records the consumer's application position of an assigned partition.
    pub fn position(&mut self, tp: &TopicPartition, offset: i64) {
        if let Some(a) = self.assigned.get_mut(tp) {
            a.position = Some(offset);
        }
    }

    /// Whether every assigned partition was received to its end (the buffer may still hold rows).
    pub fn caught_up(&self) -> bool {
        self.assigned_once && self.assigned.values().all(Assigned::caught_up)
    }

    /// Caught up, and everything received is durable.
    #[cfg(test)]
    pub fn idle(&self) -> bool {
        self.caught_up() && self.pending.is_empty()
    }

    /// Number of flushes written.
    pub fn flushes(&self) -> u64 {
        self.flushes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::testutil::{MemoryLog, MemorySink};
    use crate::{Core, CoreConfig};
    use alara_model::Validator;

    const GOOD: &[u8] = br#"{"reading_id":"r1","source":"LAB","worker_id":"w1","employer_siret":"73282932000074","department":"radiology","dosimeter_id":"d1","monitoring":"lens","quantity":"Hp3","status":"measured","dose_msv":1.5,"period_start":"2025-01-01","period_end":"2025-01-31"}"#;

    fn state(log: MemoryLog, max_rows: usize) -> State<MemorySink> {
        let core =
            Core::new(Validator::default(), MemorySink::default(), CoreConfig { max_buffered_rows: usize::MAX }, "x");
        State::new(
            core,
            Box::new(log),
            Topics::default(),
            "g".into(),
            "kafka-".into(),
            max_rows,
            Arc::new(Metrics::default()),
        )
    }

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("dosimetry.readings", p)
    }

    #[test]
    fn a_flush_writes_rows_then_records_ranges_then_says_what_to_commit() {
        let log = MemoryLog::default();
        let mut s = state(log.clone(), 100);
        let pos = s.assign(&[tp(0), tp(1)]).unwrap();
        assert_eq!(pos, vec![(tp(0), None), (tp(1), None)]);
        s.push("dosimetry.readings", 0, 5, Some(GOOD), Utc::now()).unwrap();
        s.push("dosimetry.readings", 0, 6, Some(b"not json"), Utc::now()).unwrap();
        s.push("dosimetry.readings", 1, 9, None, Utc::now()).unwrap();
        assert!(s.flush_deadline(Duration::from_secs(1)).is_some());
        let commits = s.flush().unwrap();
        assert_eq!(commits, vec![(tp(0), 7), (tp(1), 10)]);
        let sink = s.core.sink();
        assert_eq!(sink.flushes.len(), 1);
        let f = &sink.flushes[0];
        assert_eq!((f.readings.len(), f.rejects.len()), (1, 2));
        assert!(f.name.starts_with("kafka-"));
        assert!(f.metadata.iter().any(|(k, v)| k == RANGES_KEY && v.contains("\"last\":6")));
        // The log holds the ranges of that flush, under its name.
        let recorded = log.recorded();
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded[0].0, f.name);
        assert_eq!(recorded[0].1[0], PartitionRange { tp: tp(0), first: 5, last: 6 });
        // Nothing more to write.
        assert!(s.flush().unwrap().is_empty());
        assert!(s.flush_deadline(Duration::from_secs(1)).is_none());
        // A new assignment starts where the log says.
        s.revoke(None);
        assert_eq!(s.assign(&[tp(0), tp(2)]).unwrap(), vec![(tp(0), Some(7)), (tp(2), None)]);
    }

    #[test]
    fn the_latency_deadline_follows_the_oldest_buffered_message() {
        let mut s = state(MemoryLog::default(), 100);
        s.assign(&[tp(0)]).unwrap();
        let latency = Duration::from_secs(1);
        assert_eq!(s.flush_deadline(latency), None, "nothing buffered, no deadline");
        s.push("dosimetry.readings", 0, 0, Some(GOOD), Utc::now()).unwrap();
        let first = s.flush_deadline(latency).unwrap();
        s.push("dosimetry.readings", 0, 1, Some(GOOD), Utc::now()).unwrap();
        assert_eq!(s.flush_deadline(latency), Some(first), "later messages do not push it back");
        s.flush().unwrap();
        assert_eq!(s.flush_deadline(latency), None);
    }

    #[test]
    fn a_failed_lake_write_records_nothing() {
        let log = MemoryLog::default();
        let mut s = state(log.clone(), 100);
        s.assign(&[tp(0)]).unwrap();
        s.push("dosimetry.readings", 0, 0, Some(GOOD), Utc::now()).unwrap();
        s.core.sink_mut().fail = true;
        assert!(s.flush().is_err());
        assert!(log.recorded().is_empty());
    }

    #[test]
    fn a_superseded_flush_is_dropped_and_its_partitions_reseek_to_the_log() {
        let log = MemoryLog::default();
        let mut other = log.clone();
        let mut s = state(log.clone(), 100);
        s.assign(&[tp(0), tp(1)]).unwrap();
        s.push("dosimetry.readings", 0, 0, Some(GOOD), Utc::now()).unwrap();
        s.push("dosimetry.readings", 1, 0, Some(GOOD), Utc::now()).unwrap();
        // Another writer committed partition 0 up to offset 41 meanwhile.
        other.record("other", &[PartitionRange { tp: tp(0), first: 0, last: 40 }], 41).unwrap();
        s.core.sink_mut().supersede = true;
        assert_eq!(s.flush().unwrap(), vec![], "nothing to commit to Kafka");
        assert_eq!(s.buffered(), 0, "the buffer is dropped");
        assert!(s.flush_deadline(Duration::from_secs(1)).is_none());
        // Partition 0 re-seeks to the log; partition 1, which the log never saw, to the start of
        // the dropped flush (its message must be read again).
        assert_eq!(s.take_reseek(), vec![(tp(0), 41), (tp(1), 0)]);
        assert_eq!(s.assigned[&tp(0)].next, Some(41));
        assert_eq!(log.recorded().len(), 1, "only the other writer's flush");
        // The next flush goes through.
        s.push("dosimetry.readings", 0, 41, Some(GOOD), Utc::now()).unwrap();
        assert_eq!(s.flush().unwrap(), vec![(tp(0), 42)]);
        assert!(s.take_reseek().is_empty());
        // Any other sink error still stops the run.
        s.push("dosimetry.readings", 0, 42, Some(GOOD), Utc::now()).unwrap();
        s.core.sink_mut().fail = true;
        assert!(s.flush().is_err());
    }

    #[test]
    fn only_partitions_still_assigned_are_committed() {
        let mut s = state(MemoryLog::default(), 100);
        s.assign(&[tp(0), tp(1)]).unwrap();
        s.push("dosimetry.readings", 0, 0, Some(GOOD), Utc::now()).unwrap();
        s.push("dosimetry.readings", 1, 0, Some(GOOD), Utc::now()).unwrap();
        s.revoke(Some(&[tp(1)]));
        assert_eq!(s.flush().unwrap(), vec![(tp(0), 1)]);
    }

    #[test]
    fn size_bound_and_oversized_messages() {
        let mut s = state(MemoryLog::default(), 2);
        s.assign(&[tp(0)]).unwrap();
        let big = vec![b'x'; MAX_RECORD_BYTES + 1];
        s.push("dosimetry.readings", 0, 0, Some(&big), Utc::now()).unwrap();
        assert!(!s.full());
        s.push("dosimetry.readings", 0, 1, Some(GOOD), Utc::now()).unwrap();
        assert!(s.full());
        s.flush().unwrap();
        let f = &s.core.sink().flushes[0];
        assert_eq!(f.rejects[0].raw.len(), 4096);
        assert!(f.rejects[0].reason.contains("larger than"));
    }

    #[test]
    fn caught_up_needs_statistics_for_every_assigned_partition() {
        let mut s = state(MemoryLog::default(), 100);
        assert!(!s.caught_up(), "no assignment yet");
        s.assign(&[tp(0), tp(1)]).unwrap();
        assert!(!s.caught_up());
        s.bounds_seen(&tp(0), PartitionBounds { first: 0, high_watermark: 0, last_stable: 0 });
        assert!(!s.caught_up(), "partition 1 unknown");
        s.bounds_seen(&tp(1), PartitionBounds { first: 0, high_watermark: 2, last_stable: 2 });
        assert!(!s.caught_up());
        assert_eq!(s.assigned[&tp(0)].lag(), Some(0));
        assert_eq!(s.assigned[&tp(1)].lag(), Some(2));
        s.push("dosimetry.readings", 1, 0, Some(GOOD), Utc::now()).unwrap();
        s.push("dosimetry.readings", 1, 1, Some(GOOD), Utc::now()).unwrap();
        assert!(s.caught_up());
        assert!(!s.idle(), "rows still buffered");
        s.flush().unwrap();
        assert!(s.idle());
        // A partition ending on a transaction marker: the consumer's position moves past it.
        s.bounds_seen(&tp(1), PartitionBounds { first: 0, high_watermark: 3, last_stable: 3 });
        assert!(!s.idle());
        s.position(&tp(1), 3);
        assert!(s.idle());
        // An empty assignment is caught up at once.
        s.revoke(None);
        assert!(s.idle());
    }

    #[test]
    fn a_forward_gap_left_by_retention_is_reported_once_and_counted() {
        let mut log = MemoryLog::default();
        log.record("earlier", &[PartitionRange { tp: tp(0), first: 0, last: 9 }], 10).unwrap();
        let mut s = state(log, 100);
        assert_eq!(s.assign(&[tp(0)]).unwrap(), vec![(tp(0), Some(10))]);
        s.bounds_seen(&tp(0), PartitionBounds { first: 4, high_watermark: 20, last_stable: 20 });
        assert_eq!(s.metrics.offsets_lost_total(), 0, "the log still holds offset 10");
        s.bounds_seen(&tp(0), PartitionBounds { first: 15, high_watermark: 20, last_stable: 20 });
        s.bounds_seen(&tp(0), PartitionBounds { first: 15, high_watermark: 21, last_stable: 21 });
        assert_eq!(s.metrics.offsets_lost_total(), 5, "offsets 10 to 14, counted once");
    }
}
