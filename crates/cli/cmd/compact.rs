//! `alara compact`: merge the lake's small files (one per flush) into large ones, per table
//! partition, while ingest may be running. See `alara_lake::compact` for why it is safe.

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
    /// Lake directory.
    #[arg(long, env = "ALARA_LAKE", value_name = "DIR")]
    pub lake: Option<PathBuf>,
    /// Rows per merged file at most.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub target_rows: usize,
    /// Seconds between a merged file appearing and its inputs being removed, so that queries
    /// that listed the inputs just before can still read them (they see duplicates meanwhile,
    /// which the identity views absorb).
    #[arg(long, value_name = "S", default_value_t = 10)]
    pub grace_secs: u64,
    /// Minutes after which Kafka flush files without a commit marker (their writer died) are
    /// merged too.
    #[arg(long, value_name = "M", default_value_t = 60)]
    pub uncommitted_after_mins: u64,
}

/// Runs the command.
pub fn run(args: Args, config: &Config) -> anyhow::Result<ExitCode> {
    let dir = config.lake(args.lake.as_deref())?;
    if !dir.is_dir() {
        return Err(UsageError(format!("{}: no such lake directory", dir.display())).into());
    }
    if args.target_rows < 2 {
        return Err(UsageError("--target-rows must be at least 2".into()).into());
    }
    let lake = Lake::open(&dir).with_context(|| format!("opening lake {}", dir.display()))?;
    let options = CompactOptions {
        target_rows: args.target_rows,
        grace: Duration::from_secs(args.grace_secs),
        uncommitted_min_age: Duration::from_secs(args.uncommitted_after_mins * 60),
        ..CompactOptions::default()
    };
    let r = lake.compact(&options).with_context(|| format!("compacting {}", dir.display()))?;
    println!(
        "compacted {}: {} files merged into {} ({} rows); {} leftovers removed; {} commit markers folded; \
         {} files of flushes in progress left for later",
        dir.display(),
        r.files_merged,
        r.files_written,
        r.rows,
        r.leftovers_removed,
        r.markers_folded,
        r.uncommitted_skipped
    );
    Ok(ExitCode::SUCCESS)
}
