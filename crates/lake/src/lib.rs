//! The alara lake: one Delta Lake table per record kind, on a local disk or object storage.
//!
//! The lake is a directory (or an `s3://bucket/prefix` URL) with one Delta table per table of
//! [`Table::ALL`] (`readings/`, `workers/`, …), Hive-style partitions below (`year=2025/`), and
//! Parquet files compressed with zstd. A file enters or leaves a table only through a commit of the
//! table's `_delta_log/`: a data file is written first under a fresh name, then the commit that
//! adds it is written with put-if-absent. A crash between the two leaves a file that no commit
//! names, which every Delta reader (Spark, delta-rs, DuckDB's `delta_scan`, alara itself) ignores
//! and `alara compact` removes once it is older than the retention.
//!
//! Kafka positions live in the same commits as the data they cover, as Delta application
//! transactions (see [`sink`]). Duplicates that a crash between two tables' commits can leave (a
//! flush replayed after its `rejects` commit but before its `readings` commit) are resolved at read
//! time by identity, in the SQL views of `queries/`.
//!
//! Delta-rs is async; this crate's API is synchronous for its synchronous callers (the ingest core,
//! the alert outbox) and runs delta-rs on a small runtime of its own ([`block_on`]), so it can be
//! called from inside or outside another tokio runtime.
#![deny(missing_docs)]

pub mod commits;
pub mod compact;
pub mod convert;
mod delta;
pub mod faults;
mod guard;
mod s3;
pub mod sink;
pub mod snapshot;
pub mod tail;
mod txns;
mod writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

pub use commits::{COMMITS_DIR, Checkpoint, CommitMarker, Commits, NextOffset, OffsetRange};
pub use compact::{CompactOptions, CompactReport, KAFKA_FLUSH_PREFIX};
pub use delta::{FlushPart, KafkaTxn, Superseded};
pub use faults::{FileFault, Problem};
pub use sink::{DeltaSink, ParquetSink};
pub use snapshot::{AsOf, TableSnapshot};
pub use tail::{Added, Skipped, Tail};
pub use writer::WriteOptions;

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
        /// The file being written.
        path: PathBuf,
        /// The encoder's error.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// A table name that the lake does not know.
    #[error("unknown table '{0}'")]
    UnknownTable(String),
    /// A Delta operation (log read, commit, object store) failed.
    #[error("{context}: {source}")]
    Delta {
        /// What was being done.
        context: String,
        /// The delta-rs error.
        #[source]
        source: Box<deltalake::DeltaTableError>,
    },
    /// Another writer committed these Kafka offsets first: the flush was not committed and the
    /// source must re-read from the lake's positions.
    #[error(transparent)]
    Superseded(#[from] Superseded),
    /// The lake location or a time-travel request cannot work; the message says what to change.
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    pub(crate) fn delta(context: impl Into<String>) -> impl FnOnce(deltalake::DeltaTableError) -> Error {
        let context = context.into();
        move |source| Error::Delta { context, source: Box::new(source) }
    }
}

/// Result with the lake's error.
pub type Result<T> = std::result::Result<T, Error>;

/// A table of the lake: its directory, schema and partitioning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
    /// Who viewed which worker in `alara serve`.
    AccessLog,
}

impl Table {
    /// Every table.
    pub const ALL: [Table; 7] = [
        Table::Readings,
        Table::Workers,
        Table::Procedures,
        Table::Alerts,
        Table::Explanations,
        Table::Rejects,
        Table::AccessLog,
    ];

    /// Directory name, which is also the raw table's base name.
    pub fn dir(self) -> &'static str {
        match self {
            Table::Readings => "readings",
            Table::Workers => "workers",
            Table::Procedures => "procedures",
            Table::Alerts => "alerts",
            Table::Explanations => "explanations",
            Table::Rejects => "rejects",
            Table::AccessLog => "access_log",
        }
    }

    /// The Hive partition key of the table, if any (a string column, stored in the Delta log and
    /// the path, not in the data files, as Spark does).
    pub fn partition_key(self) -> Option<&'static str> {
        match self {
            Table::Readings | Table::Procedures => Some("year"),
            _ => None,
        }
    }

    /// The schema of the table's data files (without the partition column).
    pub fn schema(self) -> arrow::datatypes::SchemaRef {
        use alara_model::schema::*;
        match self {
            Table::Readings => readings_schema(),
            Table::Workers => workers_schema(),
            Table::Procedures => procedures_schema(),
            Table::Rejects => rejects_schema(),
            Table::Explanations => explanations_schema(),
            Table::Alerts => alerts_schema(),
            Table::AccessLog => access_log_schema(),
        }
    }

    /// Looks a table up by directory name.
    pub fn from_dir(name: &str) -> Result<Table> {
        Table::ALL.into_iter().find(|t| t.dir() == name).ok_or_else(|| Error::UnknownTable(name.to_string()))
    }
}

/// A lake: a local directory or an object-store URL, with one Delta table per [`Table`].
#[derive(Debug, Clone)]
pub struct Lake {
    /// The local directory, or the URL as given (`s3://bucket/prefix`).
    root: PathBuf,
    /// The root as a URL with a trailing slash.
    url: url::Url,
    /// Tables loaded so far, kept to update them incrementally instead of replaying the log.
    cache: Arc<Mutex<HashMap<Table, deltalake::DeltaTable>>>,
    /// The `txn` versions (Kafka positions, guards) followed so far, per table.
    txns: Arc<Mutex<HashMap<Table, txns::KnownTxns>>>,
}

impl Lake {
    /// Opens a lake at `root` (a directory, or an `s3://bucket/prefix` URL), creating every
    /// missing table as an empty Delta table so that readers can register it.
    pub fn open(root: impl Into<PathBuf>) -> Result<Lake> {
        let root = root.into();
        if convert::is_legacy(&root) {
            return Err(Error::Invalid(format!(
                "{}: a lake of the former layout (Parquet files and _commits/ markers); convert it to Delta tables \
                 with `alara compact --convert --lake {}`",
                root.display(),
                root.display()
            )));
        }
        let lake = Lake::at(root.clone(), delta::root_url(&root)?);
        let l = lake.clone();
        block_on(async move { l.create_missing_tables().await })?;
        Ok(lake)
    }

    /// A handle on `root` (at `url`) with nothing loaded yet, tables neither checked nor created.
    pub(crate) fn at(root: PathBuf, url: url::Url) -> Lake {
        Lake { root, url, cache: Arc::default(), txns: Arc::default() }
    }

    /// The lake's root as given (a local directory, or the URL).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether the lake is on the local file system.
    pub fn is_local(&self) -> bool {
        self.url.scheme() == "file"
    }

    /// The lake's root URL (trailing slash).
    pub fn url(&self) -> &url::Url {
        &self.url
    }

    /// The URL of a table (trailing slash).
    pub fn table_url(&self, table: Table) -> url::Url {
        // Joining a plain directory name onto a URL ending in '/' cannot fail.
        self.url.join(&format!("{}/", table.dir())).expect("table URL")
    }

    /// The directory of a table (a local path, or the URL text for object storage).
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

    /// Writes whole batches as one file in one Delta commit. Returns the file's path (local
    /// lakes) or URL text, or `None` when there was nothing to write.
    pub fn write(
        &self,
        table: Table,
        partition: Option<&str>,
        name: &str,
        batches: &[arrow::array::RecordBatch],
        options: &WriteOptions,
    ) -> Result<Option<PathBuf>> {
        let batches: Vec<_> = batches.iter().filter(|b| b.num_rows() > 0).cloned().collect();
        if batches.is_empty() {
            return Ok(None);
        }
        let part = FlushPart { table, partition: partition.map(str::to_string), batches };
        let l = self.clone();
        let (name, options) = (name.to_string(), options.clone());
        let paths = block_on(async move { l.commit_parts(&name, vec![part], &options, &[]).await })?;
        Ok(paths.into_iter().next().map(|p| self.local_or_url(table, &p)))
    }

    /// Every file of a table's latest snapshot (what a reader sees), sorted by path. Local paths
    /// for a local lake, URL text otherwise.
    pub fn files(&self, table: Table) -> Result<Vec<PathBuf>> {
        let snap = self.snapshot(table, &AsOf::Latest)?;
        let mut out: Vec<PathBuf> = snap.files.iter().map(|f| self.local_or_url(table, f.location.as_ref())).collect();
        out.sort();
        Ok(out)
    }

    fn local_or_url(&self, table: Table, relative: &str) -> PathBuf {
        if self.is_local() {
            self.table_dir(table).join(relative)
        } else {
            PathBuf::from(format!("{}{relative}", self.table_url(table)))
        }
    }

    /// Kept for callers of the former layout: temporaries no longer exist (data files are written
    /// whole before the commit that names them), so there is nothing to sweep. Files of commits
    /// that never happened are removed by `alara compact` (vacuum) after the retention.
    pub fn sweep_temporaries(&self, _min_age: std::time::Duration) -> Result<usize> {
        Ok(0)
    }
}

/// Runs a future to completion on the lake's own runtime, from synchronous code (inside or
/// outside another tokio runtime). Two worker threads: the target machine has two cores.
pub fn block_on<F>(f: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let rt = RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("alara-lake")
            .enable_all()
            .build()
            .expect("the lake's runtime starts")
    });
    let handle = rt.spawn(f);
    // `unconstrained`: a caller inside a tokio task (the Kafka loop's flush, the alert engine it
    // calls) carries that task's cooperative budget, which only resets when the task yields to
    // its scheduler, and a blocked caller never does. Once the budget is spent, a JoinHandle
    // answers Pending and wakes itself at once, forever: ingest spun at 100 % CPU with the lake
    // runtime idle, after about 128 lake reads within one turn of the loop.
    match futures::executor::block_on(tokio::task::unconstrained(handle)) {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

#[cfg(test)]
mod tests;
