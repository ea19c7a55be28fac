//! Compaction: many small Parquet files of a partition merged into a few large ones, while ingest
//! keeps writing.
//!
//! Streaming at one-second latency writes a file per table partition per second. [`Lake::compact`]
//! merges them, per table partition, into files of up to [`CompactOptions::target_rows`] rows:
//!
//! 1. Only *settled* files are merged: files of a Kafka flush that has its commit marker (see
//!    [`crate::commits`]), earlier compaction outputs, files of other writers (the file source), and
//!    Kafka flush files without a marker once they are older than
//!    [`CompactOptions::uncommitted_min_age`] (the process that wrote them died; its offsets were
//!    re-read by the next one, so they are duplicates, but they may also hold the only copy of
//!    offsets that Kafka has since deleted, so they are merged, never dropped).
//! 2. The merged file is written like every lake file (temporary, fsync, rename, directory fsync)
//!    and its footer lists its inputs (`alara.compacted_from`).
//! 3. After a grace period ([`CompactOptions::grace`]) the inputs are removed. Until then a reader
//!    listing the partition sees every row twice: the identity views (`readings`, `rejects`,
//!    `workers`, `worker_history`, `procedures`) absorb that, only the raw `*_all` tables show the
//!    duplicates. The grace period lets a query that listed the inputs just before the rename
//!    still open them. A reader never sees a gap: inputs go only after the merged file is durable.
//! 4. A crash between 2 and 3 leaves inputs next to a merged file that lists them: the next run
//!    removes them first and never merges them again.
//! 5. Commit markers of flushes that no longer have any file are folded into a checkpoint
//!    (written before the markers are removed), so positions survive and `_commits/` stays small.
//!
//! Rows are copied batch by batch (a row group in memory at a time), unchanged: same columns, same
//! values, same `ingested_at` and `origin`, so every query answers the same before and after.
//! Only one compaction runs at a time per lake (an exclusive lock on `_compact.lock`).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use chrono::Utc;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::commits::{Checkpoint, Commits, NextOffset, invalid, sync_dir};
use crate::{Error, FileWriter, Lake, Result, Table, WriteOptions};

/// File names of Kafka flushes start with this (`kafka-<time>-<pid>-<seq>`).
pub const KAFKA_FLUSH_PREFIX: &str = "kafka-";

/// File names of compaction outputs start with this.
pub const COMPACTED_PREFIX: &str = "compacted-";

/// Footer key listing the inputs of a merged file (a JSON array of file names).
pub const COMPACTED_FROM_KEY: &str = "alara.compacted_from";

/// How to compact.
#[derive(Debug, Clone)]
pub struct CompactOptions {
    /// Tables to compact. The default is the ingest tables; `alerts` and `explanations` are left
    /// alone (their writers may name files on purpose).
    pub tables: Vec<Table>,
    /// Rows per merged file at most; files at least half this size are left as they are.
    pub target_rows: usize,
    /// Inputs per merged file at most (their names go into its footer).
    pub max_inputs: usize,
    /// Age after which a Kafka flush file without a commit marker is merged too.
    pub uncommitted_min_age: Duration,
    /// Time between the merged file appearing and its inputs being removed.
    pub grace: Duration,
    /// Encoding of merged files.
    pub write: WriteOptions,
}

impl Default for CompactOptions {
    fn default() -> Self {
        CompactOptions {
            tables: vec![Table::Readings, Table::Workers, Table::Procedures, Table::Rejects],
            target_rows: 1_000_000,
            max_inputs: 2_000,
            uncommitted_min_age: Duration::from_secs(3600),
            grace: Duration::from_secs(10),
            write: WriteOptions::default(),
        }
    }
}

/// What a compaction did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// Merged files written.
    pub files_written: usize,
    /// Input files merged (and removed).
    pub files_merged: usize,
    /// Rows copied.
    pub rows: u64,
    /// Inputs left behind by an interrupted earlier compaction, removed now.
    pub leftovers_removed: usize,
    /// Kafka flush files skipped because their commit marker is missing (a flush in progress).
    pub uncommitted_skipped: usize,
    /// Commit markers folded into a checkpoint.
    pub markers_folded: usize,
}

/// One candidate input.
struct Input {
    path: PathBuf,
    name: String,
    rows: usize,
    schema: SchemaRef,
}

impl Lake {
    /// Merges small files; see the [module documentation](crate::compact).
    pub fn compact(&self, options: &CompactOptions) -> Result<CompactReport> {
        let _lock = self.lock_compaction()?;
        let commits = self.commits()?;
        let committed = commits.committed_flushes();
        let mut report = CompactReport::default();
        let mut to_remove: Vec<PathBuf> = Vec::new();
        let mut seq = 0usize;
        for &table in &options.tables {
            let mut by_dir: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
            for f in self.files(table)? {
                let dir = f.parent().map(Path::to_path_buf).unwrap_or_default();
                by_dir.entry(dir).or_default().push(f);
            }
            for (dir, files) in by_dir {
                let inputs = self.eligible(&dir, &files, &committed, options, &mut report)?;
                for group in plan(inputs, options) {
                    seq += 1;
                    let rows = self.merge(&dir, &group, seq, options)?;
                    tracing::info!(table = table.dir(), dir = %dir.display(), files = group.len(), rows, "merged");
                    report.files_written += 1;
                    report.files_merged += group.len();
                    report.rows += rows;
                    to_remove.extend(group.into_iter().map(|i| i.path));
                }
            }
        }
        if !to_remove.is_empty() {
            std::thread::sleep(options.grace);
            remove_all(&to_remove)?;
        }
        report.markers_folded = self.fold_markers(&commits)?;
        self.sweep_commit_temporaries(Duration::from_secs(3600));
        Ok(report)
    }

    /// Takes the lake's compaction lock, or says that another compaction holds it.
    fn lock_compaction(&self) -> Result<File> {
        let path = self.root().join("_compact.lock");
        let f = File::options().create(true).truncate(false).write(true).open(&path).map_err(|source| Error::Io {
            op: "opening",
            path: path.clone(),
            source,
        })?;
        match f.try_lock() {
            Ok(()) => Ok(f),
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::Io {
                op: "locking",
                path,
                source: std::io::Error::new(
                    std::io::ErrorKind::WouldBlock,
                    "another `alara compact` is running on this lake; wait for it to finish",
                ),
            }),
            Err(std::fs::TryLockError::Error(source)) => Err(Error::Io { op: "locking", path, source }),
        }
    }

    /// Removes the leftovers of interrupted compactions in `dir` and returns the files that may be
    /// merged now.
    fn eligible(
        &self,
        dir: &Path,
        files: &[PathBuf],
        committed: &BTreeSet<&str>,
        options: &CompactOptions,
        report: &mut CompactReport,
    ) -> Result<Vec<Input>> {
        let present: HashSet<String> = files.iter().filter_map(|p| file_name(p)).collect();
        // Inputs of a merged file are never merged again, and go once the grace period is over.
        let mut subsumed: HashSet<String> = HashSet::new();
        for f in files {
            let Some(name) = file_name(f).filter(|n| n.starts_with(COMPACTED_PREFIX)) else { continue };
            let builder = open(f)?;
            let from = compacted_from(&builder, f)?;
            let settled = age(f).is_some_and(|a| a >= options.grace);
            for input in from.into_iter().filter(|i| present.contains(i) && *i != name) {
                if settled {
                    remove_all(&[dir.join(&input)])?;
                    report.leftovers_removed += 1;
                    tracing::info!(file = %dir.join(&input).display(), "removed input left by an interrupted compaction");
                }
                subsumed.insert(input);
            }
        }
        let mut out = Vec::new();
        for f in files {
            let Some(name) = file_name(f) else { continue };
            if subsumed.contains(&name) {
                continue;
            }
            let stem = name.trim_end_matches(".parquet");
            if stem.starts_with(KAFKA_FLUSH_PREFIX)
                && !committed.contains(stem)
                && age(f).is_none_or(|a| a < options.uncommitted_min_age)
            {
                report.uncommitted_skipped += 1;
                continue;
            }
            let builder = match open(f) {
                Ok(b) => b,
                // Removed meanwhile (a file source replacing its file): nothing to merge.
                Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let rows = usize::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
            let big = if stem.starts_with(COMPACTED_PREFIX) { options.target_rows / 2 } else { options.target_rows };
            if rows >= big {
                continue;
            }
            out.push(Input { path: f.clone(), name, rows, schema: builder.schema().clone() });
        }
        Ok(out)
    }

    /// Copies `inputs` into one new file of `dir`; returns the rows copied.
    fn merge(&self, dir: &Path, inputs: &[Input], seq: usize, options: &CompactOptions) -> Result<u64> {
        // `plan` never returns an empty group.
        let schema = inputs[0].schema.clone();
        let name =
            format!("{COMPACTED_PREFIX}{}-{}-{seq:04}", Utc::now().format("%Y%m%dT%H%M%S%6f"), std::process::id());
        let mut write = options.write.clone();
        let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
        let from = serde_json::to_string(&names).map_err(|e| invalid(dir, e.to_string()))?;
        write.metadata.push((COMPACTED_FROM_KEY.to_string(), from));
        let mut out = FileWriter::create(dir, &name, schema.clone(), &write)?;
        let mut rows = 0u64;
        for input in inputs {
            let reader = open(&input.path)?
                .with_batch_size(8192)
                .build()
                .map_err(|source| Error::Parquet { path: input.path.clone(), source })?;
            for batch in reader {
                let batch = batch.map_err(|e| Error::Parquet {
                    path: input.path.clone(),
                    source: parquet::errors::ParquetError::ArrowError(e.to_string()),
                })?;
                // Same fields (checked by `plan`); rebuilt so footer metadata differences don't matter.
                let batch =
                    RecordBatch::try_new(schema.clone(), batch.columns().to_vec()).map_err(|e| Error::Parquet {
                        path: input.path.clone(),
                        source: parquet::errors::ParquetError::ArrowError(e.to_string()),
                    })?;
                rows += batch.num_rows() as u64;
                out.write(&batch)?;
            }
        }
        out.finish()?;
        Ok(rows)
    }

    /// Folds the markers of flushes that no longer have a file into one checkpoint; returns how
    /// many markers were folded.
    fn fold_markers(&self, commits: &Commits) -> Result<usize> {
        let mut present: HashSet<String> = HashSet::new();
        for t in Table::ALL {
            for f in self.files(t)? {
                if let Some(n) = file_name(&f) {
                    present.insert(n.trim_end_matches(".parquet").to_string());
                }
            }
        }
        let foldable: Vec<&(String, crate::commits::CommitMarker)> =
            commits.markers.iter().filter(|(_, m)| !present.contains(&m.flush)).collect();
        if foldable.is_empty() {
            return Ok(0);
        }
        let kept = Commits {
            markers: foldable.iter().map(|m| (*m).clone()).collect(),
            checkpoints: commits.checkpoints.clone(),
        };
        let next_offsets = kept
            .next_offsets()
            .into_iter()
            .map(|((topic, partition), next)| NextOffset { topic, partition, next })
            .collect();
        let checkpoint = Checkpoint { next_offsets, folded_markers: kept.total_markers(), written_at: Utc::now() };
        let name = self.record_checkpoint(&checkpoint)?;
        // The checkpoint is durable: what it covers may go.
        for (file, _) in &foldable {
            self.remove_commit_file(file)?;
        }
        for (file, _) in &commits.checkpoints {
            if *file != name {
                self.remove_commit_file(file)?;
            }
        }
        sync_dir(&self.commits_dir());
        tracing::info!(markers = foldable.len(), checkpoint = %name, "commit markers folded");
        Ok(foldable.len())
    }

    /// Removes temporaries of commit markers whose writer died.
    fn sweep_commit_temporaries(&self, min_age: Duration) {
        let Ok(entries) = std::fs::read_dir(self.commits_dir()) else { return };
        for e in entries.flatten() {
            let p = e.path();
            let hidden_tmp = file_name(&p).is_some_and(|n| n.starts_with('.') && n.ends_with(".tmp"));
            if hidden_tmp && age(&p).is_some_and(|a| a >= min_age) {
                let _ = std::fs::remove_file(&p);
            }
        }
    }
}

/// Groups inputs (sorted by name) into merges: consecutive files with the same fields, at most
/// `target_rows` rows and `max_inputs` files each, two files at least.
fn plan(mut inputs: Vec<Input>, options: &CompactOptions) -> Vec<Vec<Input>> {
    inputs.sort_by(|a, b| a.name.cmp(&b.name));
    let mut groups: Vec<Vec<Input>> = Vec::new();
    let mut current: Vec<Input> = Vec::new();
    let mut rows = 0usize;
    for i in inputs {
        let fits = current.first().is_none_or(|f| f.schema.fields() == i.schema.fields())
            && rows + i.rows <= options.target_rows
            && current.len() < options.max_inputs;
        if !fits {
            groups.push(std::mem::take(&mut current));
            rows = 0;
        }
        rows += i.rows;
        current.push(i);
    }
    groups.push(current);
    groups.retain(|g| g.len() >= 2);
    groups
}

fn open(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>> {
    let f = File::open(path).map_err(|source| Error::Io { op: "opening", path: path.to_path_buf(), source })?;
    ParquetRecordBatchReaderBuilder::try_new(f).map_err(|source| Error::Parquet { path: path.to_path_buf(), source })
}

/// The input names a merged file lists in its footer.
fn compacted_from(builder: &ParquetRecordBatchReaderBuilder<File>, path: &Path) -> Result<Vec<String>> {
    let kv = builder.metadata().file_metadata().key_value_metadata();
    let Some(value) = kv.and_then(|kv| kv.iter().find(|e| e.key == COMPACTED_FROM_KEY)).and_then(|e| e.value.clone())
    else {
        return Ok(Vec::new());
    };
    serde_json::from_str(&value).map_err(|e| invalid(path, format!("footer key {COMPACTED_FROM_KEY}: {e}")))
}

fn remove_all(paths: &[PathBuf]) -> Result<()> {
    let mut dirs = BTreeSet::new();
    for p in paths {
        match std::fs::remove_file(p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(Error::Io { op: "removing", path: p.clone(), source }),
        }
        if let Some(d) = p.parent() {
            dirs.insert(d.to_path_buf());
        }
    }
    for d in dirs {
        sync_dir(&d);
    }
    Ok(())
}

fn file_name(p: &Path) -> Option<String> {
    p.file_name().map(|n| n.to_string_lossy().into_owned())
}

fn age(p: &Path) -> Option<Duration> {
    std::fs::metadata(p).ok()?.modified().ok()?.elapsed().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commits::{CommitMarker, OffsetRange};
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false), Field::new("s", DataType::Utf8, true)]))
    }

    fn write(lake: &Lake, name: &str, ids: std::ops::Range<i64>) {
        let b = RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(Int64Array::from_iter_values(ids.clone())),
                Arc::new(StringArray::from_iter_values(ids.map(|i| format!("v{i}")))),
            ],
        )
        .unwrap();
        lake.write(Table::Readings, Some("2025"), name, &[b], &WriteOptions::default()).unwrap();
    }

    fn ids(lake: &Lake) -> Vec<i64> {
        let mut out = Vec::new();
        for f in lake.files(Table::Readings).unwrap() {
            for b in open(&f).unwrap().build().unwrap() {
                let b = b.unwrap();
                let a = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
                out.extend(a.values().iter().copied());
            }
        }
        out.sort();
        out
    }

    fn marker(lake: &Lake, flush: &str, last: i64) {
        lake.record_commit(&CommitMarker {
            flush: flush.into(),
            ranges: vec![OffsetRange { topic: "t".into(), partition: 0, first: 0, last }],
            rows: 1,
            committed_at: Utc::now(),
            group: None,
        })
        .unwrap();
    }

    fn options() -> CompactOptions {
        CompactOptions { grace: Duration::ZERO, ..CompactOptions::default() }
    }

    #[test]
    fn merges_committed_and_foreign_files_and_keeps_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path()).unwrap();
        write(&lake, "kafka-a", 0..10);
        write(&lake, "kafka-b", 10..20);
        write(&lake, "kafka-c", 20..30); // no marker yet: a flush in progress
        write(&lake, "files-x", 30..40);
        marker(&lake, "kafka-a", 9);
        marker(&lake, "kafka-b", 19);
        let before = ids(&lake);
        let r = lake.compact(&options()).unwrap();
        assert_eq!((r.files_written, r.files_merged, r.rows, r.uncommitted_skipped), (1, 3, 30, 1));
        assert_eq!(ids(&lake), before);
        let names: Vec<String> = lake.files(Table::Readings).unwrap().iter().filter_map(|p| file_name(p)).collect();
        assert_eq!(names.len(), 2);
        assert!(names.iter().any(|n| n == "kafka-c.parquet"));
        // Markers of merged flushes are folded; positions are unchanged.
        assert_eq!(r.markers_folded, 2);
        let c = lake.commits().unwrap();
        assert!(c.markers.is_empty());
        assert_eq!(c.next_offsets()[&("t".to_string(), 0)], 20);
        // The marker of the flush in progress arrives: the next run merges it into the earlier output.
        marker(&lake, "kafka-c", 29);
        let r = lake.compact(&options()).unwrap();
        assert_eq!((r.files_written, r.files_merged), (1, 2));
        assert_eq!(ids(&lake), before);
        assert_eq!(lake.files(Table::Readings).unwrap().len(), 1);
        assert_eq!(lake.commits().unwrap().next_offsets()[&("t".to_string(), 0)], 30);
        assert_eq!(lake.commits().unwrap().checkpoints.len(), 1);
    }

    #[test]
    fn inputs_left_by_an_interrupted_compaction_are_removed_not_merged_again() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path()).unwrap();
        write(&lake, "files-a", 0..5);
        write(&lake, "files-b", 5..9);
        lake.compact(&options()).unwrap();
        // As if the process had died before removing them: the inputs are back next to the merged file.
        write(&lake, "files-a", 0..5);
        write(&lake, "files-b", 5..9);
        let r = lake.compact(&options()).unwrap();
        assert_eq!(r.leftovers_removed, 2);
        assert_eq!(r.files_written, 0);
        assert_eq!(ids(&lake), (0..9).collect::<Vec<_>>());
    }

    #[test]
    fn only_one_compaction_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path()).unwrap();
        let held = lake.lock_compaction().unwrap();
        let err = lake.compact(&options()).unwrap_err().to_string();
        assert!(err.contains("another `alara compact` is running"), "{err}");
        drop(held);
        lake.compact(&options()).unwrap();
    }

    #[test]
    fn big_files_and_lone_files_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path()).unwrap();
        write(&lake, "files-a", 0..100);
        write(&lake, "files-b", 100..101);
        let r = lake.compact(&CompactOptions { target_rows: 50, ..options() }).unwrap();
        assert_eq!(r.files_written, 0);
        assert_eq!(lake.files(Table::Readings).unwrap().len(), 2);
    }
}
