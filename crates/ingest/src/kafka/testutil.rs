//! In-memory stand-ins for the lake, for tests of the Kafka bookkeeping.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use alara_model::{BatchSink, Flush};

use super::{BoxError, OffsetLog, PartitionRange, TopicPartition};

/// A sink that keeps flushes in memory, or fails on demand.
#[derive(Debug, Default)]
pub(crate) struct MemorySink {
    pub flushes: Vec<Flush>,
    pub fail: bool,
    /// Fail the next write as a lake does when another writer committed these offsets first.
    pub supersede: bool,
}

impl BatchSink for MemorySink {
    type Error = std::io::Error;

    fn write(&mut self, flush: &Flush) -> Result<(), Self::Error> {
        if self.fail {
            return Err(std::io::Error::other("disk full"));
        }
        if std::mem::take(&mut self.supersede) {
            return Err(std::io::Error::other("superseded"));
        }
        self.flushes.push(flush.clone());
        Ok(())
    }
}

/// What a flush recorded: its name and ranges.
pub(crate) type Recorded = (String, Vec<PartitionRange>);

/// An offset log in memory, shared by clones.
#[derive(Debug, Clone, Default)]
pub(crate) struct MemoryLog {
    inner: Arc<Mutex<Vec<Recorded>>>,
}

impl MemoryLog {
    pub fn recorded(&self) -> Vec<Recorded> {
        self.inner.lock().unwrap().clone()
    }
}

impl OffsetLog for MemoryLog {
    fn next_offsets(&self, tps: &[TopicPartition]) -> Result<HashMap<TopicPartition, i64>, BoxError> {
        let mut out: HashMap<TopicPartition, i64> = HashMap::new();
        for (_, ranges) in self.inner.lock().unwrap().iter() {
            for r in ranges.iter().filter(|r| tps.contains(&r.tp)) {
                let e = out.entry(r.tp.clone()).or_insert(r.last + 1);
                *e = (*e).max(r.last + 1);
            }
        }
        Ok(out)
    }

    fn record(&mut self, flush: &str, ranges: &[PartitionRange], _rows: u64) -> Result<(), BoxError> {
        self.inner.lock().unwrap().push((flush.to_string(), ranges.to_vec()));
        Ok(())
    }

    fn superseded(&self, error: &(dyn std::error::Error + 'static)) -> bool {
        error.to_string() == "superseded"
    }
}
