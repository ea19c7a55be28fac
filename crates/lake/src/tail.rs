//! Following a table's commits: the data files each new Delta version added, whoever wrote it.
//!
//! Several `alara ingest` processes share one lake; each must see every writer's rows (the alert
//! rules of each process are evaluated against the lake's shared truth, not against the part of
//! the stream one process consumed). A follower remembers the last version it read and asks for
//! what came after: the `add` actions with `dataChange = true` of each later commit, in version
//! order. Compaction commits (`dataChange = false`) rewrite rows already seen and are skipped.
//!
//! A log entry that cannot be read or parsed (a truncated JSON line, a file an interrupted copy
//! left behind) is reported to the caller as a [`Skipped`] entry, with the version and why, so
//! that one bad entry never stops every process; the caller logs and counts it.

use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _};
use serde_json::Value;

use crate::{Error, Lake, Result, Table};

/// What one commit added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    /// The Delta version of the commit.
    pub version: u64,
    /// Data files added by it (paths relative to the table root), in log order.
    pub files: Vec<String>,
}

/// A log entry that could not be read, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The Delta version.
    pub version: u64,
    /// What went wrong.
    pub reason: String,
}

/// The commits after a version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tail {
    /// The newest version of the table when read (`None`: no commit yet).
    pub newest: Option<u64>,
    /// The commits that added data files, in version order.
    pub added: Vec<Added>,
    /// Entries that could not be read.
    pub skipped: Vec<Skipped>,
}

impl Lake {
    /// The commits of `table` after version `after` (every commit when `None`), up to its
    /// newest version (blocking).
    pub fn commits_after(&self, table: Table, after: Option<u64>) -> Result<Tail> {
        let l = self.clone();
        crate::block_on(async move {
            let t = l.latest(table).await?;
            let Some(newest) = t.version() else { return Ok(Tail::default()) };
            let first = after.map_or(0, |v| v + 1);
            let store = t.object_store();
            let mut out = Tail { newest: Some(newest), ..Tail::default() };
            for version in first..=newest {
                match commit_entry(store.as_ref(), version).await.and_then(|b| added_files(&b)) {
                    Ok(files) if files.is_empty() => {}
                    Ok(files) => out.added.push(Added { version, files }),
                    Err(reason) => out.skipped.push(Skipped { version, reason }),
                }
            }
            Ok(out)
        })
    }

    /// One data file of a table, whole (blocking); `None` when a vacuum removed it.
    pub fn read_data_file(&self, table: Table, relative: &str) -> Result<Option<Bytes>> {
        let l = self.clone();
        let relative = relative.to_string();
        crate::block_on(async move {
            let store = l.latest(table).await?.object_store();
            let path = Path::from_url_path(&relative).map_err(|e| Error::Invalid(format!("{relative}: {e}")))?;
            match store.get(&path).await {
                Ok(got) => got.bytes().await.map(Some).map_err(|e| Error::Invalid(format!("reading {relative}: {e}"))),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(Error::Invalid(format!("reading {relative}: {e}"))),
            }
        })
    }
}

/// The data files a commit added (`add` actions with `dataChange` true), or why the entry
/// cannot be read.
fn added_files(entry: &[u8]) -> std::result::Result<Vec<String>, String> {
    let mut files = Vec::new();
    for (line, action) in log_actions(entry)? {
        if let Some(add) = action.get("add") {
            let path =
                add.get("path").and_then(Value::as_str).ok_or_else(|| format!("line {line}: add without a path"))?;
            if add.get("dataChange").and_then(Value::as_bool).unwrap_or(true) {
                // Paths in the log are URL-encoded (RFC 2396), relative to the table root.
                files.push(path.to_string());
            }
        }
    }
    Ok(files)
}

/// The log entry of one version, or why it cannot be read.
pub(crate) async fn commit_entry(store: &dyn ObjectStore, version: u64) -> std::result::Result<Bytes, String> {
    let path = Path::from(format!("_delta_log/{version:020}.json"));
    match store.get(&path).await {
        Ok(got) => got.bytes().await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// The actions of one commit entry (one JSON object per line) with their line numbers. Every
/// line must parse: a truncated entry is refused whole rather than read in part.
pub(crate) fn log_actions(entry: &[u8]) -> std::result::Result<Vec<(usize, Value)>, String> {
    let mut actions = Vec::new();
    for (i, line) in entry.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        actions.push((i + 1, serde_json::from_slice(line).map_err(|e| format!("line {}: {e}", i + 1))?));
    }
    Ok(actions)
}

/// Where side files live in a table directory: a directory whose name starts with `_`, which
/// Delta readers and vacuum leave alone (as they do `_delta_log`).
const SIDE_DIR: &str = "_alara";

impl Lake {
    /// Writes a side file of a table (not table data: e.g. a checkpoint of the alert engine's
    /// state), whole and atomically replacing the previous one (blocking).
    pub fn put_side_file(&self, table: Table, name: &str, bytes: Bytes) -> Result<()> {
        let (l, path) = (self.clone(), Path::from(format!("{SIDE_DIR}/{name}")));
        crate::block_on(async move {
            let store = l.latest(table).await?.object_store();
            store.put(&path, bytes.into()).await.map_err(|e| Error::Invalid(format!("writing {path}: {e}")))?;
            Ok(())
        })
    }

    /// Reads a side file of a table; `None` when there is none (blocking).
    pub fn side_file(&self, table: Table, name: &str) -> Result<Option<Bytes>> {
        let (l, path) = (self.clone(), Path::from(format!("{SIDE_DIR}/{name}")));
        crate::block_on(async move {
            let store = l.latest(table).await?.object_store();
            match store.get(&path).await {
                Ok(got) => got.bytes().await.map(Some).map_err(|e| Error::Invalid(format!("reading {path}: {e}"))),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(Error::Invalid(format!("reading {path}: {e}"))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_adds_are_listed_and_rewrites_and_truncations_are_not() {
        let entry = br#"{"commitInfo":{"timestamp":1}}
{"add":{"path":"year=2025/a.parquet","dataChange":true}}
{"add":{"path":"b.parquet","dataChange":false}}
{"remove":{"path":"c.parquet","dataChange":false}}
"#;
        assert_eq!(added_files(entry).unwrap(), vec!["year=2025/a.parquet".to_string()]);
        let truncated = br#"{"add":{"path":"a.parquet","dataChange":true}}
{"add":{"path":"b.par"#;
        assert!(added_files(truncated).unwrap_err().starts_with("line 2"));
    }
}
