//! Streaming, atomic Parquet files.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use crate::{Error, Result};

/// How files are encoded.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// Rows per row group. A row group is buffered in memory until full, so this bounds the
    /// writer's memory however large the input is.
    pub max_row_group_rows: usize,
    /// zstd level.
    pub zstd_level: i32,
    /// Extra key/value metadata stored in the file footer (e.g. the Kafka offsets a file covers).
    pub metadata: Vec<(String, String)>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions { max_row_group_rows: 128 * 1024, zstd_level: 3, metadata: Vec::new() }
    }
}

/// A Parquet file being written under a temporary name; [`FileWriter::finish`] makes it visible.
/// Dropping it without finishing removes the temporary file.
pub struct FileWriter {
    tmp: PathBuf,
    dest: PathBuf,
    writer: Option<ArrowWriter<BufWriter<File>>>,
    rows: usize,
}

impl std::fmt::Debug for FileWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileWriter").field("dest", &self.dest).field("rows", &self.rows).finish()
    }
}

impl FileWriter {
    pub(crate) fn create(dir: &Path, name: &str, schema: SchemaRef, options: &WriteOptions) -> Result<FileWriter> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io { op: "creating", path: dir.to_path_buf(), source })?;
        let dest = dir.join(format!("{name}.parquet"));
        // Hidden and with a foreign extension: no reader globbing *.parquet picks it up.
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let file = File::create(&tmp).map_err(|source| Error::Io { op: "creating", path: tmp.clone(), source })?;
        let kv: Vec<KeyValue> = options.metadata.iter().map(|(k, v)| KeyValue::new(k.clone(), v.clone())).collect();
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(options.zstd_level).unwrap_or_default()))
            .set_max_row_group_row_count(Some(options.max_row_group_rows))
            .set_key_value_metadata(if kv.is_empty() { None } else { Some(kv) })
            .build();
        let writer = ArrowWriter::try_new(BufWriter::new(file), schema, Some(props))
            .map_err(|source| Error::Parquet { path: tmp.clone(), source })?;
        Ok(FileWriter { tmp, dest, writer: Some(writer), rows: 0 })
    }

    /// Appends a batch (encoded into the current row group; full row groups go to disk).
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        // `writer` is only None after finish(), which consumes self.
        let w = self.writer.as_mut().expect("writer present until finish");
        w.write(batch).map_err(|source| Error::Parquet { path: self.tmp.clone(), source })?;
        self.rows += batch.num_rows();
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Bytes buffered in memory for the row group in progress.
    pub fn in_progress_bytes(&self) -> usize {
        self.writer.as_ref().map(|w| w.in_progress_size()).unwrap_or(0)
    }

    /// Writes the footer, syncs the file, renames it into place and syncs the directory, so the
    /// file survives a power cut once this returns. Returns the final path.
    pub fn finish(mut self) -> Result<PathBuf> {
        let w = self.writer.take().expect("writer present until finish");
        let buf = w.into_inner().map_err(|source| Error::Parquet { path: self.tmp.clone(), source })?;
        let file = buf.into_inner().map_err(|e| Error::Io {
            op: "flushing",
            path: self.tmp.clone(),
            source: e.into_error(),
        })?;
        file.sync_all().map_err(|source| Error::Io { op: "syncing", path: self.tmp.clone(), source })?;
        drop(file);
        std::fs::rename(&self.tmp, &self.dest).map_err(|source| Error::Io {
            op: "renaming into place",
            path: self.dest.clone(),
            source,
        })?;
        if let Some(dir) = self.dest.parent() {
            // Directory fsync makes the rename durable; not supported everywhere, so best effort.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(self.dest.clone())
    }
}

impl Drop for FileWriter {
    fn drop(&mut self) {
        if self.writer.is_some() {
            // Abandoned (error path): do not leave a temporary behind.
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
