//! Application transaction versions (`txn`), followed commit by commit instead of replayed.
//!
//! The lake's Kafka positions and the alert guards are `txn` versions (see `delta.rs` and
//! `guard.rs`). delta-rs answers `transaction_version` with a replay of the log since the last
//! checkpoint, and its JSON reader starts up to 1,000 file reads at once, each with its own
//! decoder. Asked for every partition of every flush, twice, and for the guard of every raise,
//! that replay was most of the log the ingest read (strace: 3,659 reads of commit files for 28
//! flushes) and its one large transient allocation (heaptrack: about 400 MB of JSON decoders).
//!
//! A `txn` version changes only in a commit that carries it. So the lake keeps, per table, the
//! version it last looked at and the `txn` versions it knows as of that version; to answer for a
//! newer version it reads only the commits in between, each once, and replays the log only for
//! an application id it has never been asked about (once per process and id: a partition newly
//! assigned, a guard never read). Tables here never set `delta.setTransactionRetentionDuration`,
//! so a `txn` never expires and the newest one in log order is the answer.

use std::collections::HashMap;

use deltalake::DeltaTable;
use serde_json::Value;

use crate::{Error, Lake, Result, Table};

/// What a process knows of one table's `txn` versions.
#[derive(Debug, Clone, Default)]
pub(crate) struct KnownTxns {
    /// The table version these answers hold for.
    version: u64,
    /// Application id → its `txn` version as of `version` (`None`: it has none).
    by_app: HashMap<String, Option<i64>>,
}

impl Lake {
    /// The `txn` version of each application id in `apps` as of `t`'s version (ids without one
    /// are left out). `t` is the table's latest state, from [`Lake::latest`].
    pub(crate) async fn txn_versions(
        &self,
        table: Table,
        t: &DeltaTable,
        apps: &[String],
    ) -> Result<HashMap<String, i64>> {
        let Some(newest) = t.version() else { return Ok(HashMap::new()) };
        let cached = self.txns.lock().expect("txn cache").get(&table).cloned();
        let mut known = match cached {
            // Another task of this process may have looked at a newer version than `t`: start
            // again from `t` rather than answer for a version the caller did not read.
            Some(k) if k.version <= newest => k,
            _ => KnownTxns { version: newest, by_app: HashMap::new() },
        };
        let store = t.object_store();
        for version in known.version + 1..=newest {
            match crate::tail::commit_entry(store.as_ref(), version).await.and_then(|bytes| txns_in(&bytes)) {
                Ok(txns) => known.by_app.extend(txns.into_iter().map(|(app, v)| (app, Some(v)))),
                Err(reason) => {
                    // An entry that cannot be read (cleaned up behind a checkpoint, truncated):
                    // forget what was followed and ask delta-rs, which reads the checkpoint.
                    tracing::debug!(table = table.dir(), version, %reason, "txn versions read again from the log");
                    known.by_app.clear();
                }
            }
        }
        known.version = newest;
        let snapshot = t.snapshot().map_err(Error::delta(format!("reading the log of {}", table.dir())))?;
        for app in apps {
            if !known.by_app.contains_key(app) {
                let v = snapshot
                    .transaction_version(t.log_store().as_ref(), app.clone())
                    .await
                    .map_err(Error::delta(format!("reading the application transactions of {}", table.dir())))?;
                known.by_app.insert(app.clone(), v);
            }
        }
        let out = apps.iter().filter_map(|a| Some((a.clone(), known.by_app.get(a).copied().flatten()?))).collect();
        let mut cache = self.txns.lock().expect("txn cache");
        if cache.get(&table).is_none_or(|k| k.version <= known.version) {
            cache.insert(table, known);
        }
        Ok(out)
    }
}

/// The `txn` actions of one commit entry (application id, version), in log order.
fn txns_in(entry: &[u8]) -> std::result::Result<Vec<(String, i64)>, String> {
    let mut out = Vec::new();
    for (line, action) in crate::tail::log_actions(entry)? {
        if let Some(txn) = action.get("txn") {
            let app = txn.get("appId").and_then(Value::as_str);
            let version = txn.get("version").and_then(Value::as_i64);
            match (app, version) {
                (Some(app), Some(v)) => out.push((app.to_string(), v)),
                _ => return Err(format!("line {line}: a txn without appId or version")),
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txn_actions_are_read_in_log_order_and_a_truncated_entry_is_refused() {
        let entry = br#"{"commitInfo":{"timestamp":1}}
{"txn":{"appId":"alara.kafka:r:0","version":10,"lastUpdated":1}}
{"add":{"path":"a.parquet","dataChange":true}}
{"txn":{"appId":"alara.kafka:r:1","version":7}}
"#;
        assert_eq!(
            txns_in(entry).unwrap(),
            vec![("alara.kafka:r:0".to_string(), 10), ("alara.kafka:r:1".to_string(), 7)]
        );
        let truncated = br#"{"txn":{"appId":"alara.kafka:r:0","version":10}}
{"txn":{"appId":"alara.ka"#;
        assert!(txns_in(truncated).unwrap_err().starts_with("line 2"));
    }
}
