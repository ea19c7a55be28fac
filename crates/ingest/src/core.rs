//! The ingest core shared by every source: raw bytes in, validated rows or rejects buffered, and
//! flushes handed to a sink when a size bound is reached or the source asks.

use alara_model::{
    BatchSink, DecodeError, Fields, Flush, FlushObserver, Kind, Origin, Record, Reject, Stamped, Validator,
};
use chrono::{DateTime, Utc};

use crate::{Error, Result};

/// Counts of what the core has seen, per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Records accepted into the lake, per kind (readings, workers, procedures).
    pub accepted: [u64; 3],
    /// Records rejected, per kind.
    pub rejected: [u64; 3],
}

impl Counts {
    fn idx(kind: Kind) -> usize {
        match kind {
            Kind::Readings => 0,
            Kind::Workers => 1,
            Kind::Procedures => 2,
        }
    }
    /// Accepted records of a kind.
    pub fn accepted(&self, kind: Kind) -> u64 {
        self.accepted[Self::idx(kind)]
    }
    /// Rejected records of a kind.
    pub fn rejected(&self, kind: Kind) -> u64 {
        self.rejected[Self::idx(kind)]
    }
    /// All accepted.
    pub fn total_accepted(&self) -> u64 {
        self.accepted.iter().sum()
    }
    /// All rejected.
    pub fn total_rejected(&self) -> u64 {
        self.rejected.iter().sum()
    }
}

/// Settings of the core.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Flush when this many rows (all kinds) are buffered; bounds memory.
    pub max_buffered_rows: usize,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig { max_buffered_rows: 100_000 }
    }
}

/// Validates raw records and buffers them for a sink.
pub struct Core<S: BatchSink> {
    validator: Validator,
    sink: S,
    config: CoreConfig,
    buffer: Flush,
    counts: Counts,
    name_prefix: String,
    flushes: u64,
    observers: Vec<Box<dyn FlushObserver + Send>>,
}

impl<S: BatchSink> Core<S> {
    /// A core writing to `sink`. `name_prefix` starts every flush's file name and must be unique
    /// to this run (e.g. `files-<time>-<pid>`).
    pub fn new(validator: Validator, sink: S, config: CoreConfig, name_prefix: impl Into<String>) -> Self {
        Core {
            validator,
            sink,
            config,
            buffer: Flush::default(),
            counts: Counts::default(),
            name_prefix: name_prefix.into(),
            flushes: 0,
            observers: Vec::new(),
        }
    }

    /// Adds an observer told of every durable flush.
    pub fn observe(&mut self, observer: Box<dyn FlushObserver + Send>) {
        self.observers.push(observer);
    }

    /// What has been accepted and rejected so far (buffered rows included).
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Rows waiting for the next flush.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Whether NIRs can be pseudonymised.
    pub fn has_pseudonymizer(&self) -> bool {
        self.validator.pseudonymizer.is_some()
    }

    /// The sink.
    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// Mutable access to the sink.
    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.sink
    }

    /// Takes one raw JSON record.
    pub fn push_json(&mut self, kind: Kind, raw: &[u8], origin: Origin, now: DateTime<Utc>) -> Result<()> {
        let fields = Fields::from_json(raw);
        self.push_fields(kind, fields, raw, origin, now)
    }

    /// Takes one decoded record (or the reason it could not be decoded) with its raw bytes.
    pub fn push_fields(
        &mut self,
        kind: Kind,
        fields: std::result::Result<Fields, DecodeError>,
        raw: &[u8],
        origin: Origin,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let i = Counts::idx(kind);
        let fields = match fields {
            Ok(f) => f,
            Err(e) => {
                self.counts.rejected[i] += 1;
                self.buffer.rejects.push(Reject::new(kind, origin, e.to_string(), raw, now));
                return self.flush_if_full();
            }
        };
        match self.validator.validate_at(kind, &fields, now) {
            Ok(record) => {
                self.counts.accepted[i] += 1;
                match record {
                    Record::Reading(row) => self.buffer.readings.push(Stamped { row, ingested_at: now, origin }),
                    Record::Worker(row) => self.buffer.workers.push(Stamped { row, ingested_at: now, origin }),
                    Record::Procedure(row) => self.buffer.procedures.push(Stamped { row, ingested_at: now, origin }),
                }
            }
            Err(problems) if problems.missing_key() => {
                return Err(Error::MissingPseudonymKey { origin: origin.to_string() });
            }
            Err(problems) => {
                self.counts.rejected[i] += 1;
                self.buffer.rejects.push(Reject::new(kind, origin, problems.to_string(), raw, now));
            }
        }
        self.flush_if_full()
    }

    /// Records a reject decided by the source itself (e.g. a CSV row that cannot be split).
    pub fn push_reject(
        &mut self,
        kind: Kind,
        reason: &str,
        raw: &[u8],
        origin: Origin,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.counts.rejected[Counts::idx(kind)] += 1;
        self.buffer.rejects.push(Reject::new(kind, origin, reason, raw, now));
        self.flush_if_full()
    }

    fn flush_if_full(&mut self) -> Result<()> {
        if self.buffer.len() >= self.config.max_buffered_rows {
            self.flush(Vec::new())?;
        }
        Ok(())
    }

    /// Drops what is buffered without writing it (a flush that another writer made obsolete).
    /// Returns the number of rows dropped. The counts keep them: they were received.
    pub fn discard(&mut self) -> usize {
        let n = self.buffer.len();
        self.buffer = Flush::default();
        n
    }

    /// Writes everything buffered, with footer `metadata`, and returns once it is durable.
    /// Returns the number of rows written (0 when there was nothing to write).
    pub fn flush(&mut self, metadata: Vec<(String, String)>) -> Result<usize> {
        self.flush_named(None, metadata)
    }

    /// Like [`Core::flush`], with a caller-chosen flush name (the Kafka source names flushes after
    /// the offset ranges they cover).
    ///
    /// When an observer fails, the rows are durable but the flush is not acknowledged: the error
    /// is returned so the source stops before committing its position, and the next start
    /// replays the input for the observer to see again.
    pub fn flush_named(&mut self, name: Option<String>, metadata: Vec<(String, String)>) -> Result<usize> {
        if self.buffer.is_empty() {
            return Ok(0);
        }
        self.flushes += 1;
        self.buffer.name = name.unwrap_or_else(|| format!("{}-{:05}", self.name_prefix, self.flushes));
        self.buffer.metadata = metadata;
        let n = self.buffer.len();
        self.sink.write(&self.buffer).map_err(|e| Error::Sink(Box::new(e)))?;
        let flush = std::mem::take(&mut self.buffer);
        for o in &mut self.observers {
            o.flushed(&flush).map_err(|source| Error::Observer { flush: flush.name.clone(), source })?;
        }
        tracing::debug!(rows = n, file = %flush.name, "flush durable");
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use alara_model::{ObserverError, Origin};

    use super::*;

    /// Keeps the names of the flushes written.
    #[derive(Default)]
    struct Names(Vec<String>);

    impl BatchSink for Names {
        type Error = std::io::Error;
        fn write(&mut self, flush: &Flush) -> std::result::Result<(), Self::Error> {
            self.0.push(flush.name.clone());
            Ok(())
        }
    }

    /// An observer whose outbox is broken.
    struct Broken;

    impl FlushObserver for Broken {
        fn flushed(&mut self, _: &Flush) -> std::result::Result<(), ObserverError> {
            Err("outbox not writable".into())
        }
    }

    #[test]
    fn an_observer_failure_stops_the_flush_with_its_error() {
        let mut core = Core::new(Validator::default(), Names::default(), CoreConfig::default(), "t");
        core.observe(Box::new(Broken));
        let origin = Origin::File { path: "r.jsonl".into(), line: 1 };
        core.push_reject(Kind::Readings, "not JSON", b"{", origin, Utc::now()).unwrap();
        let err = core.flush(Vec::new()).unwrap_err();
        // The rows are durable (the sink wrote them) but the flush is not acknowledged: the
        // caller gets the observer's error, names the flush, and does not move on.
        assert!(matches!(&err, Error::Observer { flush, .. } if flush == "t-00001"), "{err}");
        assert!(err.to_string().contains("outbox not writable"), "{err}");
        assert_eq!(core.sink().0, vec!["t-00001".to_string()]);
    }
}
