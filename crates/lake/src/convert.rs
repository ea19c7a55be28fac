//! Converting a lake of the former layout (Parquet files plus `_commits/` markers) into Delta
//! tables, in place.
//!
//! The former lake made a Kafka flush count once its marker `_commits/<flush>.json` existed;
//! files of a flush without a marker were written by a process that died before marking them,
//! and their offsets were read again by the next one. Conversion keeps exactly what the former
//! reader counted as committed:
//! - every Parquet file of a table, except Kafka flush files (`kafka-…`) whose flush has no
//!   marker, and except the inputs of a merged file (`alara.compacted_from` in its footer) that
//!   an interrupted compaction left behind;
//! - the Kafka positions of the markers and checkpoints, as application transactions of the
//!   `readings` commit, so that ingest resumes where it was.
//!
//! Files are not moved or rewritten: one commit per table adds them where they are. The former
//! `_commits/` directory is renamed `_commits.converted/` once every table is committed. Files
//! left out stay on disk, unreferenced: `alara compact` (vacuum) removes them after the orphan
//! age. Only local lakes can be converted (the former layout never existed on object storage).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use chrono::Utc;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties, TableReference};
use deltalake::kernel::{Action, Add, Transaction};
use deltalake::protocol::{DeltaOperation, SaveMode};

use crate::compact::KAFKA_FLUSH_PREFIX;
use crate::delta::{POSITIONS_TABLE, app_id};
use crate::{COMMITS_DIR, Error, Lake, Result, Table};

/// Footer key listing the inputs of a file merged by the former compaction.
const COMPACTED_FROM_KEY: &str = "alara.compacted_from";

/// What a conversion did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConvertReport {
    /// Files added to the Delta tables.
    pub files: usize,
    /// Rows in those files.
    pub rows: u64,
    /// Kafka flush files left out: their flush has no marker.
    pub uncommitted: usize,
    /// Inputs of a merged file left out (an interrupted former compaction).
    pub merged_leftovers: usize,
    /// Kafka positions carried over.
    pub positions: usize,
}

/// Whether `root` holds a lake of the former layout that is not converted yet.
pub fn is_legacy(root: &Path) -> bool {
    let any_table_dir = Table::ALL.iter().any(|t| root.join(t.dir()).is_dir());
    let delta = Table::ALL.iter().any(|t| root.join(t.dir()).join("_delta_log").is_dir());
    any_table_dir && !delta
}

impl Lake {
    /// Converts the former layout at `root` into Delta tables; see the [module documentation].
    ///
    /// [module documentation]: crate::convert
    pub fn convert(root: &Path) -> Result<(Lake, ConvertReport)> {
        if !is_legacy(root) {
            return Err(Error::Invalid(format!(
                "{}: not a lake of the former layout (no table directory, or already Delta tables)",
                root.display()
            )));
        }
        let url = crate::delta::root_url(root)?;
        let lake = Lake::at(root.to_path_buf(), url);
        let commits = lake.commits()?;
        let committed: BTreeSet<String> = commits.committed_flushes().into_iter().map(str::to_string).collect();
        let positions = commits.next_offsets();
        let mut report = ConvertReport { positions: positions.len(), ..Default::default() };
        let mut plan: Vec<(Table, Vec<Add>)> = Vec::new();
        for table in Table::ALL {
            let dir = root.join(table.dir());
            let mut files = Vec::new();
            collect_parquet(&dir, &mut files)?;
            files.sort();
            let mut merged_inputs = BTreeSet::new();
            for f in &files {
                merged_inputs.extend(compacted_from(f));
            }
            let mut adds = Vec::new();
            for f in files {
                let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let stem = name.trim_end_matches(".parquet");
                if name.starts_with(KAFKA_FLUSH_PREFIX) && !committed.contains(stem) {
                    report.uncommitted += 1;
                    continue;
                }
                if merged_inputs.contains(&name) {
                    report.merged_leftovers += 1;
                    continue;
                }
                let rows = footer_rows(&f)?;
                let meta =
                    std::fs::metadata(&f).map_err(|source| Error::Io { op: "reading", path: f.clone(), source })?;
                let rel = f.strip_prefix(&dir).unwrap_or(&f).to_string_lossy().replace('\\', "/");
                let mut partition_values = HashMap::new();
                if let Some(key) = table.partition_key() {
                    let value = rel.split('/').find_map(|seg| seg.strip_prefix(&format!("{key}=")).map(str::to_string));
                    partition_values.insert(key.to_string(), value);
                }
                report.files += 1;
                report.rows += rows;
                adds.push(Add {
                    path: rel,
                    partition_values,
                    size: meta.len() as i64,
                    modification_time: meta
                        .modified()
                        .ok()
                        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
                        .map(|d| d.as_millis() as i64)
                        .unwrap_or_else(|| Utc::now().timestamp_millis()),
                    data_change: true,
                    stats: Some(serde_json::json!({ "numRecords": rows }).to_string()),
                    ..Default::default()
                });
            }
            plan.push((table, adds));
        }
        let l = lake.clone();
        let txns: Vec<Transaction> =
            positions.iter().map(|((topic, p), next)| Transaction::new(app_id(topic, *p), *next)).collect();
        crate::block_on(async move {
            l.create_missing_tables().await?;
            // Positions last, as a Kafka flush does: a crash before it leaves ingest re-reading.
            plan.sort_by_key(|(t, _)| *t == POSITIONS_TABLE);
            for (table, adds) in plan {
                let t = l.latest(table).await?;
                let mut properties = CommitProperties::default()
                    .with_metadata([("alara.converted_from".to_string(), serde_json::Value::from("parquet+markers"))]);
                if table == POSITIONS_TABLE {
                    properties = properties.with_application_transactions(txns.clone());
                } else if adds.is_empty() {
                    continue;
                }
                let snapshot = t.snapshot().map_err(Error::delta("converting"))?;
                CommitBuilder::from(properties)
                    .with_actions(adds.into_iter().map(Action::Add).collect())
                    .build(
                        Some(snapshot as &dyn TableReference),
                        t.log_store(),
                        DeltaOperation::Write { mode: SaveMode::Append, partition_by: None, predicate: None },
                    )
                    .await
                    .map_err(Error::delta(format!("converting {}", table.dir())))?;
            }
            Ok::<_, Error>(())
        })?;
        let markers = root.join(COMMITS_DIR);
        if markers.is_dir() {
            let to = root.join(format!("{COMMITS_DIR}.converted"));
            std::fs::rename(&markers, &to).map_err(|source| Error::Io { op: "renaming", path: markers, source })?;
        }
        Ok((lake, report))
    }
}

fn footer(path: &Path) -> Result<parquet::file::metadata::ParquetMetaData> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let f =
        std::fs::File::open(path).map_err(|source| Error::Io { op: "opening", path: path.to_path_buf(), source })?;
    let r = SerializedFileReader::new(f).map_err(|source| Error::Parquet { path: path.to_path_buf(), source })?;
    Ok(r.metadata().clone())
}

fn footer_rows(path: &Path) -> Result<u64> {
    Ok(footer(path)?.file_metadata().num_rows().max(0) as u64)
}

fn compacted_from(path: &Path) -> Vec<String> {
    let Ok(meta) = footer(path) else { return Vec::new() };
    let kv = meta.file_metadata().key_value_metadata().cloned().unwrap_or_default();
    kv.iter()
        .find(|k| k.key == COMPACTED_FROM_KEY)
        .and_then(|k| k.value.as_deref())
        .and_then(|v| serde_json::from_str::<Vec<String>>(v).ok())
        .unwrap_or_default()
}

fn collect_parquet(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(Error::Io { op: "listing", path: dir.to_path_buf(), source }),
    };
    for e in entries {
        let e = e.map_err(|source| Error::Io { op: "listing", path: dir.to_path_buf(), source })?;
        let p = e.path();
        let hidden = e.file_name().to_string_lossy().starts_with(['.', '_']);
        if hidden {
            continue;
        }
        if p.is_dir() {
            collect_parquet(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "parquet") {
            out.push(p);
        }
    }
    Ok(())
}
