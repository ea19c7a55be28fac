//! Parquet encoding of the lake's data files.

use arrow::array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use crate::{Error, Result};

/// How files are encoded.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// Rows per row group.
    pub max_row_group_rows: usize,
    /// zstd level.
    pub zstd_level: i32,
    /// Extra key/value metadata, stored in the file footer and in the Delta commit's `commitInfo`
    /// (e.g. the Kafka offsets a flush covers).
    pub metadata: Vec<(String, String)>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions { max_row_group_rows: 128 * 1024, zstd_level: 3, metadata: Vec::new() }
    }
}

/// Encodes batches (one schema) as one Parquet file in memory. A flush is bounded in rows by its
/// source, and compaction outputs by `--target-rows`, so the file fits in memory; object stores
/// take it in one put.
pub(crate) fn encode(batches: &[RecordBatch], options: &WriteOptions) -> Result<Vec<u8>> {
    let err = |source| Error::Parquet { path: "(in memory)".into(), source };
    let Some(first) = batches.first() else { return Ok(Vec::new()) };
    let kv: Vec<KeyValue> = options.metadata.iter().map(|(k, v)| KeyValue::new(k.clone(), v.clone())).collect();
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(options.zstd_level).unwrap_or_default()))
        .set_max_row_group_row_count(Some(options.max_row_group_rows))
        .set_key_value_metadata(if kv.is_empty() { None } else { Some(kv) })
        .build();
    let mut w = ArrowWriter::try_new(Vec::new(), first.schema(), Some(props)).map_err(err)?;
    for b in batches {
        w.write(b).map_err(err)?;
    }
    w.into_inner().map_err(err)
}

/// Decodes a Parquet file held in memory.
pub(crate) fn decode(bytes: bytes::Bytes) -> Result<Vec<RecordBatch>> {
    let err = |source| Error::Parquet { path: "(in memory)".into(), source };
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(err)?
        .with_batch_size(64 * 1024)
        .build()
        .map_err(err)?;
    reader.collect::<std::result::Result<Vec<_>, _>>().map_err(|e| err(e.into()))
}
