//! The lake as a [`BatchSink`]: one Parquet file per table and partition for each flush.

use std::collections::BTreeMap;

use alara_model::schema::{procedures_batch, readings_batch, rejects_batch, workers_batch};
use alara_model::{BatchSink, Flush};
use chrono::Datelike;

use crate::{Error, Lake, Table, WriteOptions};

/// Writes flushes into the lake. Files are named `<flush name>.parquet` in each partition, so a
/// flush replayed under the same name replaces its earlier copy.
#[derive(Debug, Clone)]
pub struct ParquetSink {
    lake: Lake,
    options: WriteOptions,
}

impl ParquetSink {
    /// A sink over a lake.
    pub fn new(lake: Lake, options: WriteOptions) -> ParquetSink {
        ParquetSink { lake, options }
    }

    /// The lake written to.
    pub fn lake(&self) -> &Lake {
        &self.lake
    }
}

fn arrow_err(path: &str, e: arrow::error::ArrowError) -> Error {
    Error::Parquet { path: path.into(), source: parquet::errors::ParquetError::ArrowError(e.to_string()) }
}

impl BatchSink for ParquetSink {
    type Error = Error;

    fn write(&mut self, flush: &Flush) -> Result<(), Error> {
        let mut options = self.options.clone();
        options.metadata.extend(flush.metadata.iter().cloned());
        let name = &flush.name;

        // Readings and procedures are split by year so 12-month queries read two partitions.
        let mut by_year: BTreeMap<i32, Vec<_>> = BTreeMap::new();
        for r in &flush.readings {
            by_year.entry(r.row.period_end.year()).or_default().push(r.clone());
        }
        for (year, rows) in by_year {
            let b = readings_batch(&rows).map_err(|e| arrow_err(name, e))?;
            self.lake.write(Table::Readings, Some(&year.to_string()), name, &[b], &options)?;
        }
        let mut by_year: BTreeMap<i32, Vec<_>> = BTreeMap::new();
        for r in &flush.procedures {
            by_year.entry(r.row.started_at.year()).or_default().push(r.clone());
        }
        for (year, rows) in by_year {
            let b = procedures_batch(&rows).map_err(|e| arrow_err(name, e))?;
            self.lake.write(Table::Procedures, Some(&year.to_string()), name, &[b], &options)?;
        }
        if !flush.workers.is_empty() {
            let b = workers_batch(&flush.workers).map_err(|e| arrow_err(name, e))?;
            self.lake.write(Table::Workers, None, name, &[b], &options)?;
        }
        if !flush.rejects.is_empty() {
            let b = rejects_batch(&flush.rejects).map_err(|e| arrow_err(name, e))?;
            self.lake.write(Table::Rejects, None, name, &[b], &options)?;
        }
        Ok(())
    }
}
