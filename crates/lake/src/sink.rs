//! The lake as a [`BatchSink`]: one Delta commit per table for each flush, with the flush's Kafka
//! positions as application transactions (see the [`crate::delta`] module for the order and why).

use std::collections::BTreeMap;

use alara_model::schema::{procedures_batch, readings_batch, rejects_batch, workers_batch};
use alara_model::{BatchSink, Flush};
use chrono::Datelike;

use crate::{Error, FlushPart, KafkaTxn, Lake, Table, WriteOptions};

/// Footer and commit metadata key holding the Kafka offset ranges of a flush (a JSON array of
/// `{"topic", "partition", "first", "last"}`), as the Kafka source of `alara-ingest` sets it.
pub const KAFKA_RANGES_KEY: &str = "alara.kafka.ranges";

/// Writes flushes into the lake's Delta tables.
#[derive(Debug, Clone)]
pub struct DeltaSink {
    lake: Lake,
    options: WriteOptions,
}

/// The former name of [`DeltaSink`], kept for existing callers.
pub type ParquetSink = DeltaSink;

impl DeltaSink {
    /// A sink over a lake.
    pub fn new(lake: Lake, options: WriteOptions) -> DeltaSink {
        DeltaSink { lake, options }
    }

    /// The lake written to.
    pub fn lake(&self) -> &Lake {
        &self.lake
    }
}

fn arrow_err(e: arrow::error::ArrowError) -> Error {
    Error::Parquet { path: "(flush)".into(), source: parquet::errors::ParquetError::ArrowError(e.to_string()) }
}

/// The Kafka positions a flush's metadata carries (none for other sources).
pub fn kafka_txns(metadata: &[(String, String)]) -> Result<Vec<KafkaTxn>, Error> {
    let Some((_, json)) = metadata.iter().find(|(k, _)| k == KAFKA_RANGES_KEY) else { return Ok(Vec::new()) };
    let ranges: Vec<serde_json::Value> =
        serde_json::from_str(json).map_err(|e| Error::Invalid(format!("{KAFKA_RANGES_KEY}: {e}")))?;
    ranges
        .iter()
        .map(|r| {
            let topic = r["topic"].as_str();
            let (partition, first, last) = (r["partition"].as_i64(), r["first"].as_i64(), r["last"].as_i64());
            match (topic, partition, first, last) {
                (Some(t), Some(p), Some(f), Some(l)) => {
                    Ok(KafkaTxn { topic: t.to_string(), partition: p as i32, first: f, next: l + 1 })
                }
                _ => Err(Error::Invalid(format!("{KAFKA_RANGES_KEY}: malformed range {r}"))),
            }
        })
        .collect()
}

/// The parts of a flush, per table and partition. Readings and procedures are split by year so
/// that 12-month queries read two partitions.
pub fn flush_parts(flush: &Flush) -> Result<Vec<FlushPart>, Error> {
    let mut parts = Vec::new();
    let mut by_year: BTreeMap<i32, Vec<_>> = BTreeMap::new();
    for r in &flush.readings {
        by_year.entry(r.row.period_end.year()).or_default().push(r.clone());
    }
    for (year, rows) in by_year {
        let b = readings_batch(&rows).map_err(arrow_err)?;
        parts.push(FlushPart { table: Table::Readings, partition: Some(year.to_string()), batches: vec![b] });
    }
    let mut by_year: BTreeMap<i32, Vec<_>> = BTreeMap::new();
    for r in &flush.procedures {
        by_year.entry(r.row.started_at.year()).or_default().push(r.clone());
    }
    for (year, rows) in by_year {
        let b = procedures_batch(&rows).map_err(arrow_err)?;
        parts.push(FlushPart { table: Table::Procedures, partition: Some(year.to_string()), batches: vec![b] });
    }
    if !flush.workers.is_empty() {
        let b = workers_batch(&flush.workers).map_err(arrow_err)?;
        parts.push(FlushPart { table: Table::Workers, partition: None, batches: vec![b] });
    }
    if !flush.rejects.is_empty() {
        let b = rejects_batch(&flush.rejects).map_err(arrow_err)?;
        parts.push(FlushPart { table: Table::Rejects, partition: None, batches: vec![b] });
    }
    Ok(parts)
}

impl BatchSink for DeltaSink {
    type Error = Error;

    fn write(&mut self, flush: &Flush) -> Result<(), Error> {
        let mut options = self.options.clone();
        options.metadata.extend(flush.metadata.iter().cloned());
        let txns = kafka_txns(&flush.metadata)?;
        let parts = flush_parts(flush)?;
        let (lake, name) = (self.lake.clone(), flush.name.clone());
        crate::block_on(async move { lake.commit_parts(&name, parts, &options, &txns).await })?;
        Ok(())
    }
}
