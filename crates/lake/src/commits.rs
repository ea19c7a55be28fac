//! Commit markers of the former lake layout (before Delta Lake): read by [`crate::convert`] to
//! carry a former lake's committed files and Kafka positions into Delta tables. What follows
//! describes that former layout.
//!
//! A flush of the Kafka source writes one Parquet file per table and partition, then, once every
//! one of them is durable, a small JSON marker `_commits/<flush>.json` naming the offset range of
//! each topic partition the flush covers. The marker is written like the data files (temporary
//! name, fsync, rename, directory fsync), so it exists whole or not at all, and only after the data
//! it vouches for. Positions therefore come only from *complete* flushes: a process killed in the
//! middle of a flush leaves data files without a marker, the restart re-reads those offsets, and the
//! identity views of `queries/` absorb the second copy.
//!
//! Markers pile up (one per flush, one flush per second per process). `alara compact` folds the
//! markers of flushes whose files it has merged into a checkpoint, `_commits/checkpoint-*.json`,
//! holding the next offset of every partition. The next offset of a partition is the maximum over
//! every marker and checkpoint present, so folding is safe in any order as long as a checkpoint is
//! durable before the markers it replaces are removed.
//!
//! Why the maximum is the right position: a consumer session for a partition starts at the lake's
//! maximum + 1 at that moment, and writes markers in order, each range continuing the previous
//! one. So the offsets covered by the markers of a partition are always downward closed (all of
//! `0..=max`, less the offsets Kafka itself skipped), whichever session wrote the maximum.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Error, Lake, Result};

/// Directory of commit markers and checkpoints, under the lake root.
pub const COMMITS_DIR: &str = "_commits";

/// Prefix of checkpoint files in [`COMMITS_DIR`].
const CHECKPOINT_PREFIX: &str = "checkpoint-";

/// The offsets of one topic partition that a flush covers: every message from `first` to `last`
/// (both included) that Kafka delivered is in the flush, as a row or a reject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetRange {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// First offset covered.
    pub first: i64,
    /// Last offset covered.
    pub last: i64,
}

/// The marker of one complete flush.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommitMarker {
    /// The flush name (its data files are `<flush>.parquet` in each table partition).
    pub flush: String,
    /// Offset ranges covered, one per topic partition.
    pub ranges: Vec<OffsetRange>,
    /// Rows written (rejects included).
    pub rows: u64,
    /// When the marker was written.
    pub committed_at: DateTime<Utc>,
    /// The consumer group that wrote it (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// The next offset of one topic partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextOffset {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// First offset not yet in the lake.
    pub next: i64,
}

/// Folded markers: the next offset of every partition they covered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Next offsets.
    pub next_offsets: Vec<NextOffset>,
    /// How many markers were folded into this checkpoint, over its history.
    pub folded_markers: u64,
    /// When it was written.
    pub written_at: DateTime<Utc>,
}

/// A consistent reading of [`COMMITS_DIR`].
#[derive(Debug, Clone, Default)]
pub struct Commits {
    /// Markers, by file name.
    pub markers: Vec<(String, CommitMarker)>,
    /// Checkpoints, by file name.
    pub checkpoints: Vec<(String, Checkpoint)>,
}

impl Commits {
    /// The next offset to read for every partition the lake knows: maximum `last` + 1 over the
    /// markers, and maximum `next` over the checkpoints.
    pub fn next_offsets(&self) -> BTreeMap<(String, i32), i64> {
        let mut out: BTreeMap<(String, i32), i64> = BTreeMap::new();
        let mut raise = |topic: &str, partition: i32, next: i64| {
            let e = out.entry((topic.to_string(), partition)).or_insert(next);
            *e = (*e).max(next);
        };
        for (_, c) in &self.checkpoints {
            for n in &c.next_offsets {
                raise(&n.topic, n.partition, n.next);
            }
        }
        for (_, m) in &self.markers {
            for r in &m.ranges {
                raise(&r.topic, r.partition, r.last + 1);
            }
        }
        out
    }

    /// Names of the flushes that have a marker.
    pub fn committed_flushes(&self) -> BTreeSet<&str> {
        self.markers.iter().map(|(_, m)| m.flush.as_str()).collect()
    }

    /// Folded markers over the whole history (checkpoints) plus markers present.
    pub fn total_markers(&self) -> u64 {
        self.checkpoints.iter().map(|(_, c)| c.folded_markers).max().unwrap_or(0) + self.markers.len() as u64
    }
}

impl Lake {
    /// The directory of commit markers.
    pub fn commits_dir(&self) -> PathBuf {
        self.root().join(COMMITS_DIR)
    }

    /// Writes the marker of a complete flush, atomically and durably. Call it only once every data
    /// file of the flush is durable.
    pub fn record_commit(&self, marker: &CommitMarker) -> Result<PathBuf> {
        if marker.flush.is_empty() || marker.flush.contains(['/', '\\']) || marker.flush.starts_with('.') {
            return Err(invalid(&self.commits_dir(), format!("flush name '{}' cannot name a file", marker.flush)));
        }
        let bytes = serde_json::to_vec_pretty(marker).map_err(|e| invalid(&self.commits_dir(), e.to_string()))?;
        write_atomic(&self.commits_dir(), &format!("{}.json", marker.flush), &bytes)
    }

    /// Writes a checkpoint under a fresh name and returns its file name.
    pub fn record_checkpoint(&self, checkpoint: &Checkpoint) -> Result<String> {
        let name = format!(
            "{CHECKPOINT_PREFIX}{}-{}.json",
            checkpoint.written_at.format("%Y%m%dT%H%M%S%6f"),
            std::process::id()
        );
        let bytes = serde_json::to_vec_pretty(checkpoint).map_err(|e| invalid(&self.commits_dir(), e.to_string()))?;
        write_atomic(&self.commits_dir(), &name, &bytes)?;
        Ok(name)
    }

    /// Reads every marker and checkpoint. A file that disappears between listing and reading (a
    /// compaction folding markers) makes the whole reading start again, so the result never misses
    /// both a marker and the checkpoint that replaced it.
    pub fn commits(&self) -> Result<Commits> {
        let dir = self.commits_dir();
        'retry: for _ in 0..100 {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Commits::default()),
                Err(source) => return Err(Error::Io { op: "listing", path: dir, source }),
            };
            let mut names = Vec::new();
            for e in entries {
                let e = e.map_err(|source| Error::Io { op: "listing", path: dir.clone(), source })?;
                let name = e.file_name().to_string_lossy().into_owned();
                if name.ends_with(".json") && !name.starts_with('.') {
                    names.push(name);
                }
            }
            names.sort();
            let mut out = Commits::default();
            for name in names {
                let path = dir.join(&name);
                let bytes = match std::fs::read(&path) {
                    Ok(b) => b,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue 'retry,
                    Err(source) => return Err(Error::Io { op: "reading", path, source }),
                };
                if name.starts_with(CHECKPOINT_PREFIX) {
                    let c: Checkpoint = serde_json::from_slice(&bytes).map_err(|e| invalid(&path, e.to_string()))?;
                    out.checkpoints.push((name, c));
                } else {
                    let m: CommitMarker = serde_json::from_slice(&bytes).map_err(|e| invalid(&path, e.to_string()))?;
                    out.markers.push((name, m));
                }
            }
            return Ok(out);
        }
        Err(invalid(&dir, "the commit markers kept changing while being read (100 attempts)".into()))
    }
}

/// A file-system error for content that is not what the lake expects.
pub(crate) fn invalid(path: &Path, msg: String) -> Error {
    Error::Io {
        op: "reading",
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, msg),
    }
}

/// Writes `bytes` as `dir/name` through a hidden temporary, fsyncs it, renames it into place and
/// fsyncs the directory.
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io { op: "creating", path: dir.to_path_buf(), source })?;
    let dest = dir.join(name);
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut f = File::create(&tmp).map_err(io("creating", &tmp))?;
    f.write_all(bytes).map_err(io("writing", &tmp))?;
    f.sync_all().map_err(io("syncing", &tmp))?;
    drop(f);
    std::fs::rename(&tmp, &dest).map_err(io("renaming into place", &dest))?;
    sync_dir(dir);
    Ok(dest)
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io { op, path: path.to_path_buf(), source }
}

/// Makes renames and removals in `dir` durable. Not supported on every file system: best effort.
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker(flush: &str, ranges: &[(&str, i32, i64, i64)]) -> CommitMarker {
        CommitMarker {
            flush: flush.into(),
            ranges: ranges
                .iter()
                .map(|(t, p, f, l)| OffsetRange { topic: t.to_string(), partition: *p, first: *f, last: *l })
                .collect(),
            rows: 1,
            committed_at: Utc::now(),
            group: None,
        }
    }

    #[test]
    fn next_offsets_are_the_maximum_over_markers_and_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path()).unwrap();
        assert!(lake.commits().unwrap().next_offsets().is_empty());
        lake.record_commit(&marker("kafka-1", &[("r", 0, 0, 9), ("r", 1, 0, 4)])).unwrap();
        lake.record_commit(&marker("kafka-2", &[("r", 0, 10, 19)])).unwrap();
        lake.record_checkpoint(&Checkpoint {
            next_offsets: vec![NextOffset { topic: "w".into(), partition: 2, next: 7 }],
            folded_markers: 3,
            written_at: Utc::now(),
        })
        .unwrap();
        let c = lake.commits().unwrap();
        let next = c.next_offsets();
        assert_eq!(next[&("r".to_string(), 0)], 20);
        assert_eq!(next[&("r".to_string(), 1)], 5);
        assert_eq!(next[&("w".to_string(), 2)], 7);
        assert_eq!(c.committed_flushes().into_iter().collect::<Vec<_>>(), vec!["kafka-1", "kafka-2"]);
        assert_eq!(c.total_markers(), 5);
        // No temporary is left behind, and the markers are not Parquet: readers ignore them.
        let names: Vec<_> = std::fs::read_dir(lake.commits_dir()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 3);
        assert!(lake.files(crate::Table::Readings).unwrap().is_empty());
    }

    #[test]
    fn a_flush_name_must_be_a_plain_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path()).unwrap();
        assert!(lake.record_commit(&marker("../x", &[])).is_err());
        assert!(lake.record_commit(&marker(".hidden", &[])).is_err());
    }
}
