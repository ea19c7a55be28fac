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
//! 1. the core writes the rows (each file atomic and durable), named after the flush;
//! 2. the [`OffsetLog`] records the offset range of each partition the flush covers (in the lake:
//!    a commit marker, written atomically after the data);
//! 3. the offsets that follow those ranges are committed to Kafka, asynchronously.
//!
//! **The lake is the source of truth for positions.** When partitions are assigned (start,
//! rebalance), each is positioned at the offset after the last one the offset log holds, not at
//! the Kafka commit, which is only a courtesy for lag monitors. A process killed between 1 and 2
//! leaves data files that no marker vouches for; the next owner re-reads those offsets and the
//! views keep one row per identity. When partitions are revoked, the buffer is flushed first, so a
//! rebalance does not re-read what was already consumed.
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

/// Where the Kafka source records which offsets are durable, and reads them back. The lake's
/// commit markers implement it (`alara_lake::Lake::record_commit`, wired by the CLI).
pub trait OffsetLog: Send {
    /// The next offset to read for every partition that complete flushes have covered.
    fn next_offsets(&self) -> Result<HashMap<TopicPartition, i64>, BoxError>;

    /// Records that flush `flush`, whose rows are all durable, covers `ranges`. Returns only once
    /// the record itself is durable.
    fn record(&mut self, flush: &str, ranges: &[PartitionRange], rows: u64) -> Result<(), BoxError>;
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
