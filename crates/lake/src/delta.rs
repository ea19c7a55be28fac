//! The lake's Delta tables: creation, commits (with Kafka positions as application transactions)
//! and positions read back from the log.
//!
//! # Kafka flushes and their positions
//!
//! A Kafka flush is one Delta commit per table it touches, in a fixed order: `rejects`, `workers`,
//! `procedures`, then **always** `readings`, even when the flush holds no reading (the commit then
//! adds no file). Every one of these commits carries, for each topic partition of the flush, an
//! application transaction (`txn`) with `appId` = [`app_id`] and `version` = the next offset
//! after the flush, as kafka-delta-ingest does. The `readings` commit comes last and is the one
//! that counts: **the lake's position of a partition is the `txn` version in the `readings` log**.
//!
//! Crash points, in order:
//! - before any commit: data files without a commit are invisible (and vacuumed later); the
//!   position has not moved, so the next owner re-reads the same offsets;
//! - after the `rejects` (or `workers`, `procedures`) commit, before `readings`: those rows are in
//!   the lake but the position has not moved; the next owner writes them again, and the identity
//!   views (one row per reading identity, per worker version, per reject origin) absorb the copy;
//! - after the `readings` commit, before the Kafka commit: the position moved with the data; Kafka's
//!   own commit lags, which only a lag monitor notices. Positions always come from the log.
//!
//! Two writers (a rebalance where the old owner is slow, a zombie process): before writing, and
//! again atomically in the `readings` commit, a flush checks that no writer has put the partition's
//! `txn` past the flush's first offset. Delta's conflict checker fails a commit whose `appId`s
//! were committed by someone else since the snapshot it read, so exactly one of two racing flushes
//! of the same offsets commits `readings`; the other gets [`Superseded`], abandons its buffer and
//! re-seeks to the lake's position.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use arrow::array::RecordBatch;
use chrono::Utc;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel as _;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties, TableReference, TransactionError};
use deltalake::kernel::{Action, Add, DataType as DeltaType, PrimitiveType, StructField, StructType, Transaction};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::{DeltaTable, DeltaTableBuilder, DeltaTableError};
use object_store::ObjectStoreExt as _;
use serde_json::Value;

use crate::{Error, Lake, Result, Table, WriteOptions};

/// The table whose `txn` versions are the lake's Kafka positions (committed last in a flush).
pub(crate) const POSITIONS_TABLE: Table = Table::Readings;

/// The application id of a topic partition's position.
pub fn app_id(topic: &str, partition: i32) -> String {
    format!("alara.kafka:{topic}:{partition}")
}

/// Rows of one table (and partition) in a commit.
#[derive(Debug, Clone)]
pub struct FlushPart {
    /// The table.
    pub table: Table,
    /// The partition value (`2025`), for partitioned tables.
    pub partition: Option<String>,
    /// The rows.
    pub batches: Vec<RecordBatch>,
}

/// The offsets of one topic partition that a Kafka flush covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaTxn {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// First offset of the flush.
    pub first: i64,
    /// The offset after the last one of the flush (the `txn` version).
    pub next: i64,
}

/// Another writer committed a partition past the start of this flush.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "Kafka offsets of {topic}/{partition} from {first} are already in the lake (position {lake_next}, committed by \
     another ingest process): this flush is abandoned and the partition re-read from the lake's position"
)]
pub struct Superseded {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// First offset of the abandoned flush.
    pub first: i64,
    /// The lake's position when the conflict was seen (`None`: a concurrent commit, position
    /// not read yet).
    pub lake_next: i64,
}

/// The root URL of a lake location (a local directory is created and made absolute).
pub(crate) fn root_url(root: &Path) -> Result<url::Url> {
    let text = root.to_string_lossy();
    if let Some((scheme, _)) = text.split_once("://") {
        if scheme == "file" {
            return root_url(Path::new(text.trim_start_matches("file://")));
        }
        crate::snapshot::register_object_stores();
        let mut url = url::Url::parse(&text).map_err(|e| Error::Invalid(format!("lake URL {text}: {e}")))?;
        if !url.path().ends_with('/') {
            url.set_path(&format!("{}/", url.path()));
        }
        if url.scheme() != "s3" && url.scheme() != "memory" {
            return Err(Error::Invalid(format!(
                "lake URL {text}: only local directories and s3://bucket/prefix URLs are supported"
            )));
        }
        return Ok(url);
    }
    std::fs::create_dir_all(root).map_err(|source| Error::Io { op: "creating", path: root.to_path_buf(), source })?;
    let abs = std::fs::canonicalize(root).map_err(|source| Error::Io {
        op: "resolving",
        path: root.to_path_buf(),
        source,
    })?;
    url::Url::from_directory_path(&abs)
        .map_err(|_| Error::Invalid(format!("{}: not a directory path that can be a URL", abs.display())))
}

/// The Delta schema of a table: its data columns plus the partition column.
fn delta_schema(table: Table) -> Result<Vec<StructField>> {
    let schema: StructType = table
        .schema()
        .as_ref()
        .try_into_kernel()
        .map_err(|e| Error::Invalid(format!("schema of {}: {e}", table.dir())))?;
    let mut fields: Vec<StructField> = schema.fields().cloned().collect();
    if let Some(key) = table.partition_key() {
        fields.push(StructField::new(key, DeltaType::Primitive(PrimitiveType::String), true));
    }
    Ok(fields)
}

impl Lake {
    pub(crate) async fn create_missing_tables(&self) -> Result<()> {
        for table in Table::ALL {
            let url = self.table_url(table);
            let t = DeltaTableBuilder::from_url(url.clone())
                .map_err(Error::delta(format!("opening {url}")))?
                .build()
                .map_err(Error::delta(format!("opening {url}")))?;
            if t.verify_deltatable_existence().await.map_err(Error::delta(format!("opening {url}")))? {
                continue;
            }
            let created = t
                .create()
                .with_table_name(table.dir())
                .with_columns(delta_schema(table)?)
                .with_partition_columns(table.partition_key())
                .with_save_mode(SaveMode::Ignore)
                .await;
            if let Err(e) = created {
                // Another process created it at the same moment: fine if it is there now.
                if !t.verify_deltatable_existence().await.unwrap_or(false) {
                    return Err(Error::delta(format!("creating the Delta table {url}"))(e));
                }
            }
        }
        Ok(())
    }

    /// The latest state of a table (incrementally updated from the last one loaded).
    pub(crate) async fn latest(&self, table: Table) -> Result<DeltaTable> {
        let cached = self.cache.lock().expect("table cache").get(&table).cloned();
        let t = match cached {
            Some(mut t) => {
                t.update_state().await.map_err(Error::delta(format!("reading the log of {}", table.dir())))?;
                t
            }
            None => {
                let url = self.table_url(table);
                DeltaTableBuilder::from_url(url.clone())
                    .map_err(Error::delta(format!("opening {url}")))?
                    .load()
                    .await
                    .map_err(Error::delta(format!("opening {url}")))?
            }
        };
        self.cache.lock().expect("table cache").insert(table, t.clone());
        Ok(t)
    }

    /// The lake's next offset of each topic partition asked for (absent: never ingested).
    pub async fn kafka_positions_async(&self, tps: &[(String, i32)]) -> Result<HashMap<(String, i32), i64>> {
        let t = self.latest(POSITIONS_TABLE).await?;
        let apps: Vec<String> = tps.iter().map(|(topic, p)| app_id(topic, *p)).collect();
        let known = self.txn_versions(POSITIONS_TABLE, &t, &apps).await?;
        Ok(tps.iter().zip(&apps).filter_map(|(tp, app)| Some((tp.clone(), *known.get(app)?))).collect())
    }

    /// Blocking [`Lake::kafka_positions_async`].
    pub fn kafka_positions(&self, tps: &[(String, i32)]) -> Result<HashMap<(String, i32), i64>> {
        let l = self.clone();
        let tps = tps.to_vec();
        crate::block_on(async move { l.kafka_positions_async(&tps).await })
    }

    /// Writes `parts` as one Delta commit per table (see the module documentation for the order
    /// and the Kafka `txns`). Returns the paths added, relative to their tables.
    pub async fn commit_parts(
        &self,
        name: &str,
        parts: Vec<FlushPart>,
        options: &WriteOptions,
        txns: &[KafkaTxn],
    ) -> Result<Vec<String>> {
        let mut by_table: BTreeMap<u8, (Table, Vec<FlushPart>)> = BTreeMap::new();
        for p in parts {
            by_table.entry(commit_rank(p.table)).or_insert_with(|| (p.table, Vec::new())).1.push(p);
        }
        if !txns.is_empty() {
            by_table.entry(commit_rank(POSITIONS_TABLE)).or_insert_with(|| (POSITIONS_TABLE, Vec::new()));
            // Cheap early check, so that a writer that lost its partitions does not even write
            // the other tables. The check that decides is the one in the readings commit.
            let t = self.latest(POSITIONS_TABLE).await?;
            self.check_positions(&t, txns).await?;
        }
        let mut added = Vec::new();
        for (_, (table, parts)) in by_table {
            added.extend(self.commit_table(table, name, parts, options, txns).await?);
        }
        Ok(added)
    }

    async fn commit_table(
        &self,
        table: Table,
        name: &str,
        parts: Vec<FlushPart>,
        options: &WriteOptions,
        txns: &[KafkaTxn],
    ) -> Result<Vec<String>> {
        let t = self.latest(table).await?;
        let store = t.object_store();
        let mut actions = Vec::new();
        let mut added = Vec::new();
        for part in parts {
            let rows: usize = part.batches.iter().map(RecordBatch::num_rows).sum();
            if rows == 0 {
                continue;
            }
            let bytes = crate::writer::encode(&part.batches, options)?;
            let file = format!("{name}-{}.parquet", unique_suffix());
            let (path, partition_values) = match (table.partition_key(), &part.partition) {
                (Some(k), Some(v)) => (format!("{k}={v}/{file}"), HashMap::from([(k.to_string(), Some(v.clone()))])),
                _ => (file, HashMap::new()),
            };
            let size = bytes.len() as i64;
            store
                .put(&deltalake::Path::from(path.as_str()), bytes.into())
                .await
                .map_err(|e| Error::delta(format!("writing {path} in {}", table.dir()))(e.into()))?;
            actions.push(Action::Add(Add {
                path: path.clone(),
                partition_values,
                size,
                modification_time: Utc::now().timestamp_millis(),
                data_change: true,
                stats: Some(serde_json::json!({ "numRecords": rows }).to_string()),
                ..Default::default()
            }));
            added.push(path);
        }
        if actions.is_empty() && (txns.is_empty() || table != POSITIONS_TABLE) {
            return Ok(added);
        }
        let positions = table == POSITIONS_TABLE && !txns.is_empty();
        if positions {
            self.check_positions(&t, txns).await?;
        }
        let mut properties = CommitProperties::default().with_application_transactions(
            txns.iter().map(|x| Transaction::new(app_id(&x.topic, x.partition), x.next)).collect(),
        );
        let mut info: Vec<(String, Value)> =
            options.metadata.iter().map(|(k, v)| (k.clone(), Value::from(v.clone()))).collect();
        info.push(("alara.flush".into(), Value::from(name)));
        properties = properties.with_metadata(info);
        let operation = DeltaOperation::Write { mode: SaveMode::Append, partition_by: None, predicate: None };
        let snapshot = t.snapshot().map_err(Error::delta(format!("reading {}", table.dir())))?;
        let result = CommitBuilder::from(properties)
            .with_actions(actions)
            .build(Some(snapshot as &dyn TableReference), t.log_store(), operation)
            .await;
        match result {
            Ok(_) => Ok(added),
            Err(DeltaTableError::Transaction { source: TransactionError::CommitConflict(c) }) if !txns.is_empty() => {
                tracing::warn!(table = table.dir(), conflict = %c, "another writer committed the same Kafka partitions");
                let first = &txns[0];
                Err(Error::Superseded(Superseded {
                    topic: first.topic.clone(),
                    partition: first.partition,
                    first: first.first,
                    lake_next: -1,
                }))
            }
            Err(e) => Err(Error::delta(format!("committing to {}", table.dir()))(e)),
        }
    }
}

/// Commit order of a flush: the positions table last.
fn commit_rank(t: Table) -> u8 {
    match t {
        Table::Rejects => 0,
        Table::Workers => 1,
        Table::Procedures => 2,
        Table::Alerts => 3,
        Table::Explanations | Table::AccessLog => 4,
        Table::Readings => 5,
    }
}

impl Lake {
    /// Fails with [`Superseded`] when the log already holds a position past a flush's first offset.
    async fn check_positions(&self, t: &DeltaTable, txns: &[KafkaTxn]) -> Result<()> {
        let apps: Vec<String> = txns.iter().map(|x| app_id(&x.topic, x.partition)).collect();
        let lake = self.txn_versions(POSITIONS_TABLE, t, &apps).await?;
        for (x, app) in txns.iter().zip(&apps) {
            if let Some(&next) = lake.get(app)
                && next > x.first
            {
                return Err(Error::Superseded(Superseded {
                    topic: x.topic.clone(),
                    partition: x.partition,
                    first: x.first,
                    lake_next: next,
                }));
            }
        }
        Ok(())
    }
}

/// A suffix that makes a data file name unique even when a flush name is reused.
pub(crate) fn unique_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Utc::now().timestamp_nanos_opt().unwrap_or_default() as u128);
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}
