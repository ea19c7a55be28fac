//! The rdkafka consumer context: rebalances position partitions from the lake and flush before
//! giving partitions up; statistics feed watermarks and lag; logs go to `tracing`.
//!
//! librdkafka calls these from the thread polling the consumer, that is from inside
//! `StreamConsumer::recv` in the ingest loop (or while the consumer is dropped). The loop never
//! holds the state lock across `recv`, so taking it here cannot deadlock.

use std::sync::{Arc, Mutex, MutexGuard};

use alara_model::BatchSink;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::{RDKafkaErrorCode, RDKafkaRespErr};
use serde::Deserialize;

use super::TopicPartition;
use super::metrics::Metrics;
use super::state::{Commits, PartitionBounds, State};

/// The consumer's context: a handle on the shared state.
pub(crate) struct Ctx<S: BatchSink> {
    pub state: Arc<Mutex<State<S>>>,
    pub metrics: Arc<Metrics>,
}

/// Locks the shared state.
pub(crate) fn lock<S: BatchSink>(state: &Mutex<State<S>>) -> MutexGuard<'_, State<S>> {
    // Poisoned only if a flush panicked; the process is going down with that panic anyway.
    state.lock().expect("ingest state lock poisoned by an earlier panic")
}

/// Commits the next offsets of flushed partitions to Kafka, asynchronously. Failures are counted
/// and logged, never fatal: the lake holds the positions.
pub(crate) fn commit<C: ConsumerContext, K: Consumer<C>>(consumer: &K, commits: &Commits, metrics: &Metrics) {
    if commits.is_empty() {
        return;
    }
    let mut tpl = TopicPartitionList::with_capacity(commits.len());
    for (tp, next) in commits {
        if let Err(e) = tpl.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(*next)) {
            tracing::warn!(topic = %tp.topic, partition = tp.partition, offset = next, cause = %e, "cannot commit offset");
        }
    }
    if let Err(e) = consumer.commit(&tpl, CommitMode::Async) {
        metrics.commit_failed();
        tracing::warn!(cause = %e, "offset commit to Kafka failed (positions are kept in the lake)");
    }
}

fn partitions(tpl: &TopicPartitionList) -> Vec<TopicPartition> {
    tpl.elements().iter().map(|e| TopicPartition::new(e.topic(), e.partition())).collect()
}

impl<S: BatchSink + Send + 'static> Ctx<S> {
    /// Flushes what is buffered (before partitions go) and commits; a failure becomes fatal.
    fn flush_before_revoke(&self, consumer: &BaseConsumer<Self>) {
        let mut state = lock(&self.state);
        match state.flush() {
            Ok(commits) => commit(consumer, &commits, &self.metrics),
            Err(e) => {
                tracing::error!(cause = %e, "flush before rebalance failed");
                state.fatal.get_or_insert(e);
            }
        }
    }

    fn assign(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        let tps = partitions(tpl);
        let positions = {
            let mut state = lock(&self.state);
            match state.assign(&tps) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(cause = %e, "cannot read positions from the lake; consuming nothing");
                    state.fatal.get_or_insert(e);
                    Vec::new()
                }
            }
        };
        let mut list = TopicPartitionList::with_capacity(positions.len());
        for (tp, pos) in &positions {
            let offset = pos.map(Offset::Offset).unwrap_or(Offset::Beginning);
            if let Err(e) = list.add_partition_offset(&tp.topic, tp.partition, offset) {
                tracing::error!(topic = %tp.topic, partition = tp.partition, cause = %e, "cannot position partition");
            }
            tracing::info!(topic = %tp.topic, partition = tp.partition, offset = ?pos, "partition assigned; starting from the lake position");
        }
        let result = match consumer.rebalance_protocol() {
            RebalanceProtocol::Cooperative => consumer.incremental_assign(&list),
            _ => consumer.assign(&list),
        };
        if let Err(e) = result {
            tracing::error!(cause = %e, "assigning partitions failed");
            lock(&self.state).fatal.get_or_insert(super::Error::Client(e));
        }
    }

    fn revoke(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        let tps = partitions(tpl);
        if consumer.assignment_lost() {
            tracing::warn!(
                partitions = tps.len(),
                "assignment lost (session timed out): other members may already own these partitions"
            );
        }
        self.flush_before_revoke(consumer);
        let cooperative = matches!(consumer.rebalance_protocol(), RebalanceProtocol::Cooperative);
        lock(&self.state).revoke(cooperative.then_some(tps.as_slice()));
        tracing::info!(partitions = tps.len(), "partitions revoked");
        let result = if cooperative { consumer.incremental_unassign(tpl) } else { consumer.unassign() };
        if let Err(e) = result {
            tracing::warn!(cause = %e, "unassigning partitions failed");
        }
    }
}

impl<S: BatchSink + Send + 'static> ClientContext for Ctx<S> {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical | RDKafkaLogLevel::Error => {
                tracing::error!(target: "librdkafka", facility = fac, "{message}")
            }
            RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", facility = fac, "{message}"),
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", facility = fac, "{message}")
            }
            RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", facility = fac, "{message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // The end of a partition (enable.partition.eof) also arrives here; it is not a problem.
        if let KafkaError::Global(RDKafkaErrorCode::PartitionEOF) = error {
            return;
        }
        self.metrics.consumer_error();
        // Broker outages are expected and retried by librdkafka: a warning, not an error.
        tracing::warn!(cause = %error, "Kafka: {reason}");
    }

    fn stats_raw(&self, statistics: &[u8]) {
        let stats: Stats = match serde_json::from_slice(statistics) {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(cause = %e, "unreadable librdkafka statistics");
                return;
            }
        };
        let mut state = lock(&self.state);
        for (topic, t) in stats.topics {
            for p in t.partitions.into_values().filter(|p| p.partition >= 0) {
                let w = PartitionBounds { first: p.lo_offset, high_watermark: p.hi_offset, last_stable: p.ls_offset };
                state.bounds_seen(&TopicPartition::new(topic.clone(), p.partition), w);
            }
        }
    }
}

impl<S: BatchSink + Send + 'static> ConsumerContext for Ctx<S> {
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, tpl: &mut TopicPartitionList) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => self.assign(consumer, tpl),
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => self.revoke(consumer, tpl),
            other => {
                tracing::error!(error = ?other, "rebalance failed; giving up every partition");
                self.flush_before_revoke(consumer);
                lock(&self.state).revoke(None);
                if let Err(e) = consumer.unassign() {
                    tracing::warn!(cause = %e, "unassigning partitions failed");
                }
            }
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        match result {
            Ok(()) => tracing::trace!(partitions = offsets.count(), "offsets committed to Kafka"),
            Err(e) => {
                self.metrics.commit_failed();
                tracing::warn!(cause = %e, "offset commit to Kafka failed (positions are kept in the lake)");
            }
        }
    }
}

/// The part of librdkafka's statistics JSON that alara reads.
#[derive(Debug, Default, Deserialize)]
struct Stats {
    #[serde(default)]
    topics: std::collections::HashMap<String, TopicStats>,
}

#[derive(Debug, Default, Deserialize)]
struct TopicStats {
    #[serde(default)]
    partitions: std::collections::HashMap<String, PartitionStats>,
}

#[derive(Debug, Deserialize)]
struct PartitionStats {
    partition: i32,
    #[serde(default = "unknown")]
    lo_offset: i64,
    #[serde(default = "unknown")]
    hi_offset: i64,
    #[serde(default = "unknown")]
    ls_offset: i64,
}

fn unknown() -> i64 {
    -1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_offsets_of_librdkafka_statistics() {
        let json = br#"{"name":"c","topics":{"t":{"topic":"t","partitions":{
            "0":{"partition":0,"lo_offset":0,"hi_offset":12,"ls_offset":12,"eof_offset":-1001,"app_offset":3},
            "-1":{"partition":-1,"hi_offset":-1}}}}}"#;
        let s: Stats = serde_json::from_slice(json).unwrap();
        let p = &s.topics["t"].partitions["0"];
        assert_eq!((p.lo_offset, p.hi_offset, p.ls_offset), (0, 12, 12));
        assert_eq!(s.topics["t"].partitions["-1"].ls_offset, -1);
    }
}
