//! Guarded commits: "append this only if nobody else appended under the same name since I last
//! looked", so that several processes that reach the same decision make it once.
//!
//! The guard is a Delta application transaction (`txn`) of the table: every guarded commit
//! carries `appId` = the guard and `version` = the version it read plus one. A writer reads the
//! guard's version, decides (e.g. which alerts are new), and commits only if the guard has not
//! moved; a concurrent commit with the same `appId` makes Delta's conflict checker fail ours.
//! The loser re-reads what the winner wrote and decides again. This is how the `alara ingest`
//! processes of one consumer group raise each alert once, whichever of them sees it first.

use arrow::array::RecordBatch;
use chrono::Utc;
use deltalake::DeltaTableError;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties, TableReference, TransactionError};
use deltalake::kernel::{Action, Add, Transaction};
use deltalake::protocol::{DeltaOperation, SaveMode};
use object_store::ObjectStoreExt as _;

use crate::{Error, Lake, Result, Table, WriteOptions};

impl Lake {
    /// The version of a guard in a table's log (`None`: never used).
    pub fn guard_version(&self, table: Table, guard: &str) -> Result<Option<i64>> {
        let (l, guard) = (self.clone(), guard.to_string());
        crate::block_on(async move {
            let t = l.latest(table).await?;
            Ok(l.txn_versions(table, &t, std::slice::from_ref(&guard)).await?.remove(&guard))
        })
    }

    /// Writes `batches` as one file in one commit of an unpartitioned table, only if `guard` is
    /// still at `expected` (read with [`Lake::guard_version`] before deciding what to write).
    /// `Ok(true)`: committed, the guard moved to `expected + 1`; `Ok(false)`: another writer
    /// moved it first, nothing is visible (the orphan file is vacuumed later).
    pub fn write_guarded(
        &self,
        table: Table,
        name: &str,
        batches: &[RecordBatch],
        guard: &str,
        expected: Option<i64>,
    ) -> Result<bool> {
        let (l, name, guard, batches) = (self.clone(), name.to_string(), guard.to_string(), batches.to_vec());
        crate::block_on(async move { l.write_guarded_async(table, &name, &batches, &guard, expected).await })
    }

    async fn write_guarded_async(
        &self,
        table: Table,
        name: &str,
        batches: &[RecordBatch],
        guard: &str,
        expected: Option<i64>,
    ) -> Result<bool> {
        let ctx = || format!("committing to {}", table.dir());
        let t = self.latest(table).await?;
        let now = self.txn_versions(table, &t, &[guard.to_string()]).await?.remove(guard);
        if now != expected {
            return Ok(false);
        }
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        let mut actions = Vec::new();
        if rows > 0 {
            let bytes = crate::writer::encode(batches, &WriteOptions::default())?;
            let path = format!("{name}-{}.parquet", crate::delta::unique_suffix());
            let size = bytes.len() as i64;
            t.object_store()
                .put(&deltalake::Path::from(path.as_str()), bytes.into())
                .await
                .map_err(|e| Error::delta(format!("writing {path} in {}", table.dir()))(e.into()))?;
            actions.push(Action::Add(Add {
                path,
                size,
                modification_time: Utc::now().timestamp_millis(),
                data_change: true,
                stats: Some(serde_json::json!({ "numRecords": rows }).to_string()),
                ..Default::default()
            }));
        }
        let next = expected.map_or(0, |v| v + 1);
        let properties = CommitProperties::default()
            .with_application_transactions(vec![Transaction::new(guard, next)])
            .with_metadata([("alara.guarded".to_string(), serde_json::Value::from(name))]);
        let operation = DeltaOperation::Write { mode: SaveMode::Append, partition_by: None, predicate: None };
        let snapshot = t.snapshot().map_err(Error::delta(ctx()))?;
        let result = CommitBuilder::from(properties)
            .with_actions(actions)
            .build(Some(snapshot as &dyn TableReference), t.log_store(), operation)
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(DeltaTableError::Transaction { source: TransactionError::CommitConflict(c) }) => {
                tracing::debug!(table = table.dir(), guard, conflict = %c, "another writer moved the guard first");
                Ok(false)
            }
            Err(e) => Err(Error::delta(ctx())(e)),
        }
    }
}
