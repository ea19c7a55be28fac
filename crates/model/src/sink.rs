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
    /// A name unique to this flush: the files written derive their names from it, and the Kafka
    /// source names it after the offset ranges it covers, so a replayed range can be recognised.
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

/// The error an observer returns: why the rows of a flush could not be acted upon.
pub type ObserverError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Something told about every flush once it is durable (the alert rules, a progress display).
///
/// An observer that fails returns the error: the source then stops without acknowledging the
/// flush's input (no Kafka offset is committed), so the next start replays it and the observer
/// sees it again. Nothing is lost, and the observer never has to wait or panic while the source
/// is held.
pub trait FlushObserver {
    /// Called after the sink returned, with the rows now durable.
    fn flushed(&mut self, flush: &Flush) -> Result<(), ObserverError>;
}

impl FlushObserver for () {
    fn flushed(&mut self, _: &Flush) -> Result<(), ObserverError> {
        Ok(())
    }
}
