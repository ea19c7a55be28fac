//! The hand-over between ingest and storage.
//!
//! `ingest` never knows where rows go: it fills a [`Flush`] and hands it to a [`BatchSink`]. The
//! lake's Parquet sink is the real one; tests may use others. A sink returns only once the flush
//! is durable, which is what lets the Kafka source commit offsets right after.

use crate::origin::Reject;
use crate::records::{Procedure, Reading, Worker};
use crate::schema::Stamped;

/// Rows to be made durable together.
#[derive(Debug, Clone, Default)]
pub struct Flush {
    /// A name unique to this flush (file names derive from it, so replaying the same input range
    /// under the same name overwrites instead of duplicating).
    pub name: String,
    /// Validated readings.
    pub readings: Vec<Stamped<Reading>>,
    /// Validated worker versions.
    pub workers: Vec<Stamped<Worker>>,
    /// Validated procedure attendances.
    pub procedures: Vec<Stamped<Procedure>>,
    /// Rejected records.
    pub rejects: Vec<Reject>,
    /// Footer metadata for every file written (e.g. the Kafka offset ranges covered).
    pub metadata: Vec<(String, String)>,
}

impl Flush {
    /// Rows of every kind, rejects included.
    pub fn len(&self) -> usize {
        self.readings.len() + self.workers.len() + self.procedures.len() + self.rejects.len()
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Somewhere flushes become durable.
pub trait BatchSink {
    /// The sink's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Writes every row of the flush; returns only when they are durable.
    fn write(&mut self, flush: &Flush) -> Result<(), Self::Error>;
}
