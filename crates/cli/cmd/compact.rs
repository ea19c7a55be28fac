//! `alara compact`: merge the lake's small files (one per flush) by Delta commits, checkpoint the
//! logs and vacuum, while ingest may be running. See `alara_lake::compact` for why it is safe.
//! `--convert` first turns a lake of the former layout (Parquet files and `_commits/` markers)
//! into Delta tables (`alara_lake::convert`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use alara_lake::{CompactOptions, Lake};
use anyhow::Context;

use crate::UsageError;
use crate::config::Config;

/// Arguments of `alara compact`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Lake directory (or s3://bucket/prefix).
    #[arg(long, env = "ALARA_LAKE", value_name = "DIR")]
    pub lake: Option<PathBuf>,
    /// Rows per merged file at most.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub target_rows: usize,
    /// Hours a file removed from a table (by a compaction) stays on storage before vacuum
    /// deletes it: readers of older versions (`--lake-version`, `--lake-time`) within that time,
    /// and queries running during the compaction, still find their files.
    #[arg(long, value_name = "H", default_value_t = 168)]
    pub retention_hours: u64,
    /// Seconds of retention instead of --retention-hours (former name of the option; tests and
    /// scripts that need removed files gone at once pass 0).
    #[arg(long, value_name = "S", hide = true)]
    pub grace_secs: Option<u64>,
    /// Minutes after which data files that no commit added (their writer died before its
    /// commit) are deleted. Never less than the retention.
    #[arg(long, value_name = "M", default_value_t = 60)]
    pub uncommitted_after_mins: u64,
    /// Convert a lake of the former layout (Parquet files and _commits/ markers) into Delta tables
    /// first. Only committed files are kept: flushes without a marker are left out.
    #[arg(long)]
    pub convert: bool,
}

/// Runs the command.
pub fn run(args: Args, config: &Config) -> anyhow::Result<ExitCode> {
    let dir = config.lake(args.lake.as_deref())?;
    super::sql::check_lake(&dir)?;
    if args.target_rows < 2 {
        return Err(UsageError("--target-rows must be at least 2".into()).into());
    }
    let legacy = alara_lake::convert::is_legacy(&dir);
    if legacy && !args.convert {
        return Err(UsageError(format!(
            "{}: a lake of the former layout (Parquet files and _commits/ markers); convert it to Delta tables \
             with `alara compact --convert --lake {}`",
            dir.display(),
            dir.display()
        ))
        .into());
    }
    let lake = if legacy {
        let (lake, r) = Lake::convert(&dir).with_context(|| format!("converting {}", dir.display()))?;
        println!(
            "converted {}: {} files ({} rows) now in Delta tables; {} files of flushes without a commit marker and \
             {} inputs of an interrupted compaction left out; {} Kafka positions carried over",
            dir.display(),
            r.files,
            r.rows,
            r.uncommitted,
            r.merged_leftovers,
            r.positions
        );
        lake
    } else {
        Lake::open(&dir).with_context(|| format!("opening lake {}", dir.display()))?
    };
    let retention = match args.grace_secs {
        Some(s) => Duration::from_secs(s),
        None => Duration::from_secs(args.retention_hours * 3600),
    };
    let options = CompactOptions {
        target_rows: args.target_rows,
        retention,
        orphan_min_age: Duration::from_secs(args.uncommitted_after_mins * 60),
        ..CompactOptions::default()
    };
    let r = lake.compact(&options).with_context(|| format!("compacting {}", dir.display()))?;
    println!(
        "compacted {}: {} files merged into {} ({} rows); {} checkpoints; {} files vacuumed; {} groups left for \
         later (a concurrent compaction)",
        dir.display(),
        r.files_merged,
        r.files_written,
        r.rows,
        r.checkpoints,
        r.files_vacuumed,
        r.conflicts
    );
    Ok(ExitCode::SUCCESS)
}
