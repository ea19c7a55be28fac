//! The Kafka source: the three contract topics consumed into the lake by a consumer group, with
//! nothing lost and, through the identity views, nothing counted twice.
//!
//! [`run`] drives an rdkafka `StreamConsumer` in one `select!` loop over messages, a flush timer,
//! a one-quarter-second tick (progress, `--until-idle`) and shutdown. Every message becomes a row
//! or a reject of the shared [`Core`](crate::Core), tagged with its topic, partition and offset. A
//! flush happens when [`KafkaConfig::max_batch_rows`] rows are buffered or
//! [`KafkaConfig::latency_ms`] after the oldest buffered message arrived, whichever comes first,
//! and proceeds in this order:
//!
//! 1. the core hands the rows to the sink with the offset range of each partition in the flush's
//!    metadata; the lake commits them as one Delta commit per table, the positions (next offsets)
//!    as application transactions of those commits (`alara_lake::delta` explains the order);
//! 2. the [`OffsetLog`] records the ranges (nothing to do for the lake: step 1 did it);
//! 3. the offsets that follow those ranges are committed to Kafka, asynchronously.
//!
//! **The lake is the source of truth for positions.** When partitions are assigned (start,
//! rebalance), each is positioned at the offset the lake's log holds, not at the Kafka commit,
//! which is only a courtesy for lag monitors. A process killed in the middle of a flush leaves
//! either nothing committed or some tables committed without the position; the next owner re-reads
//! those offsets and the views keep one row per identity. When partitions are revoked, the buffer
//! is flushed first, so a rebalance does not re-read what was already consumed. When another
//! writer committed a partition past the start of a flush (two processes that both believed they
//! owned it), the flush is abandoned and its partitions re-seek to the lake's positions.
//!
//! A message that cannot be a record (not JSON, invalid, empty, too large) becomes a reject with
//! its topic, partition and offset, and the partition moves on: a poison message never stalls it.
//!
//! Memory is bounded by the librdkafka pre-fetch caps set in [`KafkaConfig::client_config`] and by
//! `max_batch_rows`; Parquet is written a row group at a time.
#![allow(clippy::result_large_err)]

mod config;
mod context;
mod metrics;
mod progress;
mod run;
mod stall;
mod state;

use std::collections::HashMap;

pub use config::{KafkaConfig, PropertyValue, SECRET_PROPERTIES, Topics, secret_env_var};
pub use metrics::{Metrics, serve_metrics};
pub use run::{Options, StopReason, Summary, run};

/// A boxed error from an [`OffsetLog`] implementation.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A topic partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// The topic's name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
}

impl TopicPartition {
    /// A topic partition.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition { topic: topic.into(), partition }
    }
}

impl std::fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.topic, self.partition)
    }
}

/// The offsets of one partition covered by a flush, both ends included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionRange {
    /// The partition.
    pub tp: TopicPartition,
    /// First offset.
    pub first: i64,
    /// Last offset.
    pub last: i64,
}

/// Where the Kafka source reads back which offsets are durable. In the lake, positions are Delta
/// application transactions written by the sink in the same commit as the data
/// (`alara_lake::DeltaSink`), so [`OffsetLog::record`] has nothing left to do there; an offset
/// log kept apart from the data (tests) records them after the sink returned.
pub trait OffsetLog: Send {
    /// The next offset to read for each of `tps` that complete flushes have covered (absent:
    /// never ingested, read from the beginning).
    fn next_offsets(&self, tps: &[TopicPartition]) -> Result<HashMap<TopicPartition, i64>, BoxError>;

    /// Records that flush `flush`, whose rows are all durable, covers `ranges`. Returns only once
    /// the record itself is durable.
    fn record(&mut self, flush: &str, ranges: &[PartitionRange], rows: u64) -> Result<(), BoxError>;

    /// Whether a sink error says that another writer committed these offsets first: the flush is
    /// then abandoned and its partitions re-read from the log's positions, instead of stopping.
    fn superseded(&self, _error: &(dyn std::error::Error + 'static)) -> bool {
        false
    }
}

/// Errors that stop the Kafka source. Bad messages are not errors: they become rejects.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration cannot work; the message says what to change.
    #[error("{0}")]
    Config(String),
    /// librdkafka refused the configuration or a request (its message says which).
    #[error("Kafka client: {0}")]
    Client(rdkafka::error::KafkaError),
    /// Validation or the lake write failed.
    #[error(transparent)]
    Core(crate::Error),
    /// The offset log could not be read or written.
    #[error("{op} the lake's Kafka positions: {source}")]
    OffsetLog {
        /// "reading" or "recording".
        op: &'static str,
        /// The cause.
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// Whether the user fixes this by changing the configuration (bad property, topic name…).
    pub fn is_usage(&self) -> bool {
        use rdkafka::error::KafkaError;
        matches!(
            self,
            Error::Config(_)
                | Error::Client(
                    KafkaError::ClientConfig(..) | KafkaError::ClientCreation(_) | KafkaError::Subscription(_)
                )
        )
    }
}

#[cfg(test)]
mod testutil;
