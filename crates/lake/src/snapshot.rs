//! Reading a table as of a snapshot: the files that one Delta version holds, and time travel.
//!
//! A query engine reads a table through [`TableSnapshot::store`], an object store that lists
//! exactly the snapshot's files (and reads through to the real store), so a reader that lists a
//! directory (DataFusion's listing table, with its Hive partition pruning) sees one Delta version
//! and nothing else: not the files of a flush whose commit never happened, not the inputs that a
//! compaction removed. Time travel is a snapshot of an older version.
//!
//! What "the lake as of version N" means across six tables: `readings` at version N, and every
//! other table at its last version committed at or before the commit time of `readings` version
//! N (`commitInfo.timestamp`, milliseconds). `--lake-time T` is every table at its last version
//! committed at or before T. A table created after that moment reads as empty.

use std::collections::BTreeSet;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use deltalake::DeltaTableBuilder;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, ObjectStoreExt as _,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

use crate::delta::POSITIONS_TABLE;
use crate::{Error, Lake, Result, Table};

/// Which state of the lake to read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AsOf {
    /// The latest version of every table.
    #[default]
    Latest,
    /// `readings` at this version, the other tables as of its commit time.
    Version(u64),
    /// Every table as of this time.
    Time(DateTime<Utc>),
}

/// The files of one table at one version.
#[derive(Debug, Clone)]
pub struct TableSnapshot {
    /// The table.
    pub table: Table,
    /// The Delta version read (`None`: the table did not exist yet at that time).
    pub version: Option<u64>,
    /// The active files, paths relative to the table root.
    pub files: Vec<ObjectMeta>,
    /// The table's object store (rooted at the table), as delta-rs opened it.
    pub inner: Arc<dyn ObjectStore>,
}

impl TableSnapshot {
    /// A read-only object store rooted at the table that lists exactly this snapshot's files.
    pub fn store(&self) -> Arc<dyn ObjectStore> {
        Arc::new(SnapshotStore { inner: self.inner.clone(), files: Arc::new(self.files.clone()) })
    }

    /// One of the snapshot's files, whole, from whatever store holds the lake (blocking); `None`
    /// when a vacuum removed it since the snapshot was taken (a later snapshot no longer names
    /// it). For readers without a query engine, such as the alert engine's start-up replay.
    pub fn read(&self, file: &ObjectMeta) -> Result<Option<Bytes>> {
        let (store, location) = (self.inner.clone(), file.location.clone());
        crate::block_on(async move {
            let err = |e: object_store::Error| Error::Invalid(format!("reading {location}: {e}"));
            match store.get(&location).await {
                Ok(got) => got.bytes().await.map(Some).map_err(err),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(err(e)),
            }
        })
    }
}

impl Lake {
    /// The files of a table as of `as_of` (blocking).
    pub fn snapshot(&self, table: Table, as_of: &AsOf) -> Result<TableSnapshot> {
        let l = self.clone();
        let as_of = as_of.clone();
        crate::block_on(async move {
            let at = l.resolve(&as_of).await?;
            l.snapshot_at(table, at).await
        })
    }

    /// Every table as of `as_of`, consistently (see the module documentation).
    pub async fn snapshots(&self, as_of: &AsOf) -> Result<Vec<TableSnapshot>> {
        let at = self.resolve(as_of).await?;
        let mut out = Vec::new();
        for t in Table::ALL {
            out.push(self.snapshot_at(t, at.clone()).await?);
        }
        Ok(out)
    }

    /// Turns a request into a per-table rule.
    async fn resolve(&self, as_of: &AsOf) -> Result<At> {
        Ok(match as_of {
            AsOf::Latest => At::Latest,
            AsOf::Time(t) => At::Millis(t.timestamp_millis(), None),
            AsOf::Version(v) => {
                let latest = self.latest(POSITIONS_TABLE).await?;
                let newest = latest.version().unwrap_or(0);
                if *v > newest {
                    return Err(Error::Invalid(format!(
                        "--lake-version {v}: the readings table has versions 0 to {newest} (see `alara sql -c \
                         \"SELECT * FROM lake_snapshot\"`)"
                    )));
                }
                let ts = commit_millis(latest.object_store().as_ref(), *v).await?;
                At::Millis(ts, Some(*v))
            }
        })
    }

    async fn snapshot_at(&self, table: Table, at: At) -> Result<TableSnapshot> {
        let ctx = || format!("reading the log of {}", table.dir());
        let t = match at {
            At::Latest => Some(self.latest(table).await?),
            At::Millis(ts, pinned) => {
                let latest = self.latest(table).await?;
                let version = match pinned {
                    Some(v) if table == POSITIONS_TABLE => Some(v),
                    _ => version_at(latest.object_store().as_ref(), latest.version().unwrap_or(0), ts).await?,
                };
                match version {
                    None => None,
                    Some(v) => Some(
                        DeltaTableBuilder::from_url(self.table_url(table))
                            .map_err(Error::delta(ctx()))?
                            .with_version(v)
                            .load()
                            .await
                            .map_err(Error::delta(format!("reading {} at version {v}", table.dir())))?,
                    ),
                }
            }
        };
        let Some(t) = t else {
            let any = self.latest(table).await?;
            return Ok(TableSnapshot { table, version: None, files: Vec::new(), inner: any.object_store() });
        };
        let state = t.snapshot().map_err(Error::delta(ctx()))?;
        let mut files = Vec::new();
        for f in state.log_data().iter() {
            files.push(ObjectMeta {
                location: f.object_store_path(),
                last_modified: f.modification_datetime().unwrap_or_default(),
                size: f.size().max(0) as u64,
                e_tag: None,
                version: None,
            });
        }
        files.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(TableSnapshot { table, version: t.version(), files, inner: t.object_store() })
    }
}

#[derive(Debug, Clone)]
enum At {
    Latest,
    /// Commit time in ms, and the positions table's version when pinned by `--lake-version`.
    Millis(i64, Option<u64>),
}

fn log_path(version: u64) -> Path {
    Path::from(format!("_delta_log/{version:020}.json"))
}

/// The commit time of a version: `commitInfo.timestamp`, or the log file's modification time.
pub(crate) async fn commit_millis(store: &dyn ObjectStore, version: u64) -> Result<i64> {
    let path = log_path(version);
    let err = |e: object_store::Error| Error::Invalid(format!("reading {path}: {e} (version expired from the log?)"));
    let got = store.get(&path).await.map_err(err)?;
    let modified = got.meta.last_modified.timestamp_millis();
    let bytes = got.bytes().await.map_err(err)?;
    for line in bytes.split(|b| *b == b'\n') {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(line)
            && let Some(ts) = v.get("commitInfo").and_then(|c| c.get("timestamp")).and_then(|t| t.as_i64())
        {
            return Ok(ts);
        }
    }
    Ok(modified)
}

/// The last version committed at or before `ts` (ms), by binary search over the commit times of
/// the versions still in the log; `None` when the first one is later.
async fn version_at(store: &dyn ObjectStore, newest: u64, ts: i64) -> Result<Option<u64>> {
    // Versions still in the log: from the oldest JSON commit file present to `newest`.
    let mut oldest = newest;
    let mut list = store.list(Some(&Path::from("_delta_log")));
    while let Some(m) = list.next().await {
        let m = m.map_err(|e| Error::Invalid(format!("listing the Delta log: {e}")))?;
        if let Some(v) = m.location.filename().and_then(|n| n.strip_suffix(".json")).and_then(|n| n.parse::<u64>().ok())
        {
            oldest = oldest.min(v);
        }
    }
    if commit_millis(store, oldest).await? > ts {
        return Ok(None);
    }
    let (mut lo, mut hi) = (oldest, newest);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if commit_millis(store, mid).await? <= ts {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Ok(Some(lo))
}

/// Registers the object stores that lake URLs may use (S3), once per process.
pub(crate) fn register_object_stores() {
    crate::s3::register();
}

/// A read-only view of a table's store that lists only one snapshot's files.
#[derive(Debug)]
struct SnapshotStore {
    inner: Arc<dyn ObjectStore>,
    files: Arc<Vec<ObjectMeta>>,
}

impl fmt::Display for SnapshotStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeltaSnapshot({} files of {})", self.files.len(), self.inner)
    }
}

fn read_only(op: &str) -> object_store::Error {
    object_store::Error::NotSupported { source: format!("{op}: a lake snapshot is read-only").into() }
}

fn under(prefix: Option<&Path>, p: &Path) -> bool {
    match prefix {
        None => true,
        Some(pre) if pre.as_ref().is_empty() => true,
        Some(pre) => p.prefix_match(pre).is_some(),
    }
}

#[async_trait]
impl ObjectStore for SnapshotStore {
    async fn put_opts(&self, _: &Path, _: PutPayload, _: PutOptions) -> object_store::Result<PutResult> {
        Err(read_only("put"))
    }

    async fn put_multipart_opts(
        &self,
        _: &Path,
        _: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        Err(read_only("put"))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> object_store::Result<Vec<Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        locations.map(|_| Err(read_only("delete"))).boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let out: Vec<_> = self.files.iter().filter(|m| under(prefix, &m.location)).cloned().map(Ok).collect();
        futures::stream::iter(out).boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let depth = prefix.map(|p| p.parts().count()).unwrap_or(0);
        let mut dirs = BTreeSet::new();
        let mut objects = Vec::new();
        for m in self.files.iter().filter(|m| under(prefix, &m.location)) {
            let parts: Vec<_> = m.location.parts().collect();
            if parts.len() == depth + 1 {
                objects.push(m.clone());
            } else if parts.len() > depth + 1 {
                dirs.insert(Path::from_iter(parts[..=depth].iter().cloned()));
            }
        }
        Ok(ListResult { common_prefixes: dirs.into_iter().collect(), objects })
    }

    async fn copy_opts(&self, _: &Path, _: &Path, _: CopyOptions) -> object_store::Result<()> {
        Err(read_only("copy"))
    }
}
