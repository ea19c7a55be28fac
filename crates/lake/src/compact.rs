//! Compaction: small files merged by Delta commits, a checkpoint, and vacuum.
//!
//! Streaming at one-second latency adds a file per table partition per second. [`Lake::compact`]
//! does, per table:
//!
//! 1. **Bin-packing** (what delta-rs `optimize` does): the active files of a partition with fewer
//!    than half [`CompactOptions::target_rows`] rows are read and rewritten, in groups of up to
//!    `target_rows` rows, as one file each; one commit per group removes the inputs and adds the
//!    output, both with `dataChange = false` (operation `OPTIMIZE`). Rows are copied unchanged.
//!    A reader sees either the inputs or the output, never both and never neither. The commit
//!    reads no data files and does not change data, so it commits alongside concurrent appends
//!    (ingest keeps running); if another compaction removed the same inputs first, Delta's
//!    conflict checker refuses the commit and the group is left for the next run.
//! 2. A **checkpoint** of the log, so readers replay a Parquet checkpoint instead of every JSON
//!    commit.
//! 3. **Vacuum**: files removed by commits more than [`CompactOptions::retention`] ago are deleted
//!    (a reader of an older version, `--lake-version`, within the retention still finds its
//!    files), and files that no commit ever added (a flush whose process died before its commit)
//!    once they are older than [`CompactOptions::orphan_min_age`] (never younger, whatever the
//!    retention: a flush in progress writes its files before its commit).
//!
//! The old `_commits/` markers of a pre-Delta lake are not touched here: see [`crate::convert`].

use std::collections::BTreeMap;
use std::time::Duration;

use arrow::array::RecordBatch;
use chrono::Utc;
use deltalake::kernel::transaction::{CommitBuilder, TableReference};
use deltalake::kernel::{Action, Add};
use deltalake::operations::vacuum::VacuumMode;
use deltalake::protocol::DeltaOperation;
use object_store::ObjectStoreExt as _;

use crate::{Error, Lake, Result, Table, WriteOptions};

/// File names of Kafka flushes start with this (`kafka-<time>-<pid>-<seq>`).
pub const KAFKA_FLUSH_PREFIX: &str = "kafka-";

/// File names of compaction outputs start with this.
pub const COMPACTED_PREFIX: &str = "compacted-";

/// How to compact.
#[derive(Debug, Clone)]
pub struct CompactOptions {
    /// Tables to compact.
    pub tables: Vec<Table>,
    /// Rows per merged file at most; files at least half this size are left as they are.
    pub target_rows: usize,
    /// Inputs per merged file at most.
    pub max_inputs: usize,
    /// Files removed by a commit are deleted this long after that commit (vacuum).
    pub retention: Duration,
    /// Files that no commit added are deleted once they are this old (and older than
    /// `retention`).
    pub orphan_min_age: Duration,
    /// Encoding of merged files.
    pub write: WriteOptions,
}

impl Default for CompactOptions {
    fn default() -> Self {
        CompactOptions {
            tables: Table::ALL.to_vec(),
            target_rows: 1_000_000,
            max_inputs: 2_000,
            retention: Duration::from_secs(7 * 24 * 3600),
            orphan_min_age: Duration::from_secs(3600),
            write: WriteOptions::default(),
        }
    }
}

/// What a compaction did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// Merged files written (and committed).
    pub files_written: usize,
    /// Input files merged (removed from the tables by commits).
    pub files_merged: usize,
    /// Rows copied.
    pub rows: u64,
    /// Groups left for the next run because a concurrent compaction committed first.
    pub conflicts: usize,
    /// Checkpoints written.
    pub checkpoints: usize,
    /// Files deleted by vacuum (removed longer ago than the retention, or never committed).
    pub files_vacuumed: usize,
}

struct Input {
    file: deltalake::kernel::LogicalFileView,
    rows: usize,
}

impl Lake {
    /// Compacts, checkpoints and vacuums; see the [module documentation](crate::compact).
    pub fn compact(&self, options: &CompactOptions) -> Result<CompactReport> {
        let (l, o) = (self.clone(), options.clone());
        crate::block_on(async move { l.compact_async(&o).await })
    }

    async fn compact_async(&self, options: &CompactOptions) -> Result<CompactReport> {
        let mut report = CompactReport::default();
        for &table in &options.tables {
            self.bin_pack(table, options, &mut report).await?;
            let t = self.latest(table).await?;
            deltalake::checkpoints::create_checkpoint(&t, None)
                .await
                .map_err(Error::delta(format!("checkpointing {}", table.dir())))?;
            report.checkpoints += 1;
            let retention = chrono::Duration::from_std(options.retention).unwrap_or(chrono::Duration::MAX);
            let orphans = chrono::Duration::from_std(options.retention.max(options.orphan_min_age))
                .unwrap_or(chrono::Duration::MAX);
            for (mode, age) in [(VacuumMode::Lite, retention), (VacuumMode::Full, orphans)] {
                let t = self.latest(table).await?;
                let (_, metrics) = t
                    .vacuum()
                    .with_mode(mode)
                    .with_retention_period(age)
                    .with_enforce_retention_duration(false)
                    .await
                    .map_err(Error::delta(format!("vacuuming {}", table.dir())))?;
                report.files_vacuumed += metrics.files_deleted.len();
            }
        }
        Ok(report)
    }

    async fn bin_pack(&self, table: Table, options: &CompactOptions, report: &mut CompactReport) -> Result<()> {
        let t = self.latest(table).await?;
        let state = t.snapshot().map_err(Error::delta(format!("reading {}", table.dir())))?;
        let mut by_partition: BTreeMap<Vec<(String, Option<String>)>, Vec<Input>> = BTreeMap::new();
        for f in state.log_data().iter() {
            let rows = f.num_records().unwrap_or(usize::MAX);
            if rows >= options.target_rows / 2 {
                continue;
            }
            let mut key: Vec<_> = f.partition_values_map().into_iter().collect();
            key.sort();
            by_partition.entry(key).or_default().push(Input { file: f, rows });
        }
        for (partition, mut inputs) in by_partition {
            inputs.sort_by_key(|i| i.file.path().to_string());
            let mut groups: Vec<Vec<Input>> = Vec::new();
            let mut current: Vec<Input> = Vec::new();
            let mut rows = 0usize;
            for i in inputs {
                if !current.is_empty() && (rows + i.rows > options.target_rows || current.len() >= options.max_inputs) {
                    groups.push(std::mem::take(&mut current));
                    rows = 0;
                }
                rows += i.rows;
                current.push(i);
            }
            groups.push(current);
            for group in groups.into_iter().filter(|g| g.len() > 1) {
                self.merge(table, &partition, group, options, report).await?;
            }
        }
        Ok(())
    }

    async fn merge(
        &self,
        table: Table,
        partition: &[(String, Option<String>)],
        group: Vec<Input>,
        options: &CompactOptions,
        report: &mut CompactReport,
    ) -> Result<()> {
        let t = self.latest(table).await?;
        let store = t.object_store();
        let mut batches: Vec<RecordBatch> = Vec::new();
        for i in &group {
            let path = i.file.object_store_path();
            let bytes = match store.get(&path).await {
                Ok(g) => g.bytes().await,
                Err(e) => Err(e),
            }
            .map_err(|e| Error::delta(format!("reading {path} in {}", table.dir()))(e.into()))?;
            batches.extend(crate::writer::decode(bytes)?);
        }
        // Files written by an older alara may lack newer columns: cast to the table's schema.
        let schema = table.schema();
        let batches: Vec<RecordBatch> = batches
            .into_iter()
            .map(|b| align(&b, &schema))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::Invalid(format!("merging files of {}: {e}", table.dir())))?;
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        let bytes = crate::writer::encode(&batches, &options.write)?;
        let file = format!(
            "{COMPACTED_PREFIX}{}-{}.parquet",
            Utc::now().format("%Y%m%dT%H%M%S%6f"),
            crate::delta::unique_suffix()
        );
        let dir: Vec<String> = partition
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or("__HIVE_DEFAULT_PARTITION__")))
            .collect();
        let path = if dir.is_empty() { file } else { format!("{}/{file}", dir.join("/")) };
        let size = bytes.len() as i64;
        store
            .put(&deltalake::Path::from(path.as_str()), bytes.into())
            .await
            .map_err(|e| Error::delta(format!("writing {path} in {}", table.dir()))(e.into()))?;
        let mut actions: Vec<Action> = group.iter().map(|i| Action::Remove(i.file.remove_action(false))).collect();
        actions.push(Action::Add(Add {
            path,
            partition_values: partition.iter().cloned().collect(),
            size,
            modification_time: Utc::now().timestamp_millis(),
            data_change: false,
            stats: Some(serde_json::json!({ "numRecords": rows }).to_string()),
            ..Default::default()
        }));
        let operation = DeltaOperation::Optimize { predicate: None, target_size: options.target_rows as i64 };
        let snapshot = t.snapshot().map_err(Error::delta(format!("reading {}", table.dir())))?;
        match CommitBuilder::default()
            .with_actions(actions)
            .build(Some(snapshot as &dyn TableReference), t.log_store(), operation)
            .await
        {
            Ok(_) => {
                report.files_written += 1;
                report.files_merged += group.len();
                report.rows += rows as u64;
            }
            Err(deltalake::DeltaTableError::Transaction {
                source: deltalake::kernel::transaction::TransactionError::CommitConflict(c),
            }) => {
                // The merged file is an orphan now; vacuum removes it after the orphan age.
                tracing::warn!(table = table.dir(), conflict = %c, "a concurrent compaction merged these files first");
                report.conflicts += 1;
            }
            Err(e) => return Err(Error::delta(format!("committing the compaction of {}", table.dir()))(e)),
        }
        Ok(())
    }
}

/// A batch with exactly `schema`'s columns: missing ones as nulls, others cast.
fn align(
    b: &RecordBatch,
    schema: &arrow::datatypes::SchemaRef,
) -> std::result::Result<RecordBatch, arrow::error::ArrowError> {
    if b.schema().fields() == schema.fields() {
        return Ok(b.clone());
    }
    let cols = schema
        .fields()
        .iter()
        .map(|f| match b.column_by_name(f.name()) {
            Some(c) if c.data_type() == f.data_type() => Ok(c.clone()),
            Some(c) => arrow::compute::cast(c, f.data_type()),
            None => Ok(arrow::array::new_null_array(f.data_type(), b.num_rows())),
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    RecordBatch::try_new(schema.clone(), cols)
}
