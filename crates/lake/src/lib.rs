//! The on-disk layout of the alara lake and its one write primitive: an atomic Parquet file.
//!
//! The lake is a directory with one sub-directory per table (`readings/`, `workers/`, …), Hive-style
//! partitions below (`year=2025/`), and Parquet files compressed with zstd. A file is written under a
//! hidden temporary name, flushed to disk, then renamed into place and the directory synced: a
//! reader (DataFusion, DuckDB, pyarrow) sees a whole file or nothing, and a crash leaves at most a
//! `.tmp` file that no reader matches and the next writer sweeps.
//!
//! The lake is append-only. Duplicates (a file ingested twice, a Kafka batch replayed after a crash)
//! are expected and resolved at read time by identity, in the SQL views of `queries/`.
#![deny(missing_docs)]

pub mod commits;
pub mod compact;
mod sink;
mod writer;

use std::path::{Path, PathBuf};

pub use commits::{COMMITS_DIR, Checkpoint, CommitMarker, Commits, NextOffset, OffsetRange};
pub use compact::{CompactOptions, CompactReport, KAFKA_FLUSH_PREFIX};
pub use sink::ParquetSink;
pub use writer::{FileWriter, WriteOptions};

/// Errors of the lake.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file system operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// On which path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Encoding Parquet failed.
    #[error("writing Parquet {path}: {source}")]
    Parquet {
        /// The temporary file being written.
        path: PathBuf,
        /// The encoder's error.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// A table name that the lake does not know.
    #[error("unknown table '{0}'")]
    UnknownTable(String),
}

/// Result with the lake's error.
pub type Result<T> = std::result::Result<T, Error>;

/// A table of the lake: its directory and how it is partitioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// Dosimeter results, partitioned by the year of `period_end`.
    Readings,
    /// Worker versions.
    Workers,
    /// Procedure attendances, partitioned by the year of `started_at`.
    Procedures,
    /// Alerts and their delivery events.
    Alerts,
    /// Explanations recorded by `alara explain`.
    Explanations,
    /// Rejected input.
    Rejects,
}

impl Table {
    /// Every table.
    pub const ALL: [Table; 6] =
        [Table::Readings, Table::Workers, Table::Procedures, Table::Alerts, Table::Explanations, Table::Rejects];

    /// Directory name, which is also the raw table's base name.
    pub fn dir(self) -> &'static str {
        match self {
            Table::Readings => "readings",
            Table::Workers => "workers",
            Table::Procedures => "procedures",
            Table::Alerts => "alerts",
            Table::Explanations => "explanations",
            Table::Rejects => "rejects",
        }
    }

    /// The Hive partition key of the table, if any (a string column taken from the path).
    pub fn partition_key(self) -> Option<&'static str> {
        match self {
            Table::Readings | Table::Procedures => Some("year"),
            _ => None,
        }
    }

    /// Looks a table up by directory name.
    pub fn from_dir(name: &str) -> Result<Table> {
        Table::ALL.into_iter().find(|t| t.dir() == name).ok_or_else(|| Error::UnknownTable(name.to_string()))
    }
}

/// A lake directory.
#[derive(Debug, Clone)]
pub struct Lake {
    root: PathBuf,
}

impl Lake {
    /// Opens (and creates if needed) a lake at `root`, with every table directory present so that
    /// readers can register empty tables.
    pub fn open(root: impl Into<PathBuf>) -> Result<Lake> {
        let root = root.into();
        for t in Table::ALL {
            let dir = root.join(t.dir());
            std::fs::create_dir_all(&dir).map_err(|source| Error::Io { op: "creating", path: dir, source })?;
        }
        Ok(Lake { root })
    }

    /// The lake's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of a table.
    pub fn table_dir(&self, table: Table) -> PathBuf {
        self.root.join(table.dir())
    }

    /// The directory of one partition (`year=2025`) of a table, or the table directory for an
    /// unpartitioned table.
    pub fn partition_dir(&self, table: Table, value: Option<&str>) -> PathBuf {
        match (table.partition_key(), value) {
            (Some(k), Some(v)) => self.table_dir(table).join(format!("{k}={v}")),
            _ => self.table_dir(table),
        }
    }

    /// Starts a new file `name` (without extension) in a partition. Nothing is visible until
    /// [`FileWriter::finish`].
    pub fn create(
        &self,
        table: Table,
        partition: Option<&str>,
        name: &str,
        schema: arrow::datatypes::SchemaRef,
        options: &WriteOptions,
    ) -> Result<FileWriter> {
        let dir = self.partition_dir(table, partition);
        FileWriter::create(&dir, name, schema, options)
    }

    /// Writes whole batches as one file, atomically. Returns the final path, or `None` when there
    /// was nothing to write.
    pub fn write(
        &self,
        table: Table,
        partition: Option<&str>,
        name: &str,
        batches: &[arrow::array::RecordBatch],
        options: &WriteOptions,
    ) -> Result<Option<PathBuf>> {
        let Some(first) = batches.iter().find(|b| b.num_rows() > 0) else {
            return Ok(None);
        };
        let mut w = self.create(table, partition, name, first.schema(), options)?;
        for b in batches {
            w.write(b)?;
        }
        w.finish().map(Some)
    }

    /// Every finished Parquet file of a table, sorted by path.
    pub fn files(&self, table: Table) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        collect_parquet(&self.table_dir(table), &mut out)?;
        out.sort();
        Ok(out)
    }

    /// Removes temporary files left by a writer that died (kill -9, full disk). Only files older
    /// than `min_age` are removed, so a concurrent writer's file in progress is left alone.
    pub fn sweep_temporaries(&self, min_age: std::time::Duration) -> Result<usize> {
        let mut n = 0;
        for t in Table::ALL {
            let mut tmps = Vec::new();
            collect(&self.table_dir(t), &mut tmps, &|p| p.extension().is_some_and(|e| e == "tmp"))?;
            for p in tmps {
                let old = std::fs::metadata(&p)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|m| m.elapsed().ok())
                    .is_some_and(|age| age >= min_age);
                if old && std::fs::remove_file(&p).is_ok() {
                    n += 1;
                }
            }
        }
        Ok(n)
    }
}

fn collect_parquet(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    collect(dir, out, &|p| p.extension().is_some_and(|e| e == "parquet"))
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>, keep: &dyn Fn(&Path) -> bool) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(Error::Io { op: "listing", path: dir.to_path_buf(), source });
        }
    };
    for e in entries {
        let e = e.map_err(|source| Error::Io { op: "listing", path: dir.to_path_buf(), source })?;
        let p = e.path();
        if p.is_dir() {
            collect(&p, out, keep)?;
        } else if keep(&p) {
            out.push(p);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    #[test]
    fn a_file_is_invisible_until_finished() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path()).unwrap();
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![1, 2, 3]))]).unwrap();
        let mut w = lake.create(Table::Readings, Some("2025"), "f1", schema, &WriteOptions::default()).unwrap();
        w.write(&batch).unwrap();
        assert!(lake.files(Table::Readings).unwrap().is_empty());
        let path = w.finish().unwrap();
        assert_eq!(lake.files(Table::Readings).unwrap(), vec![path.clone()]);
        assert!(path.to_string_lossy().contains("readings/year=2025/f1.parquet"));
        let f = std::fs::File::open(&path).unwrap();
        let rows: usize = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
            .unwrap()
            .build()
            .unwrap()
            .map(|b| b.unwrap().num_rows())
            .sum();
        assert_eq!(rows, 3);
    }

    #[test]
    fn an_abandoned_writer_leaves_only_a_sweepable_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path()).unwrap();
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![1]))]).unwrap();
        let mut w = lake.create(Table::Rejects, None, "f2", schema, &WriteOptions::default()).unwrap();
        w.write(&batch).unwrap();
        std::mem::forget(w); // as if the process died before finish()
        assert!(lake.files(Table::Rejects).unwrap().is_empty());
        assert_eq!(lake.sweep_temporaries(std::time::Duration::ZERO).unwrap(), 1);
    }
}
