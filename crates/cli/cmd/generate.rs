//! `alara generate`: a realistic data set with known anomalies.

use std::path::PathBuf;
use std::process::ExitCode;

use alara_generate::{GenerateOptions, generate};

use crate::UsageError;

/// Arguments of `alara generate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output directory.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Number of workers.
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Number of months of results.
    #[arg(long, value_name = "M")]
    pub months: Option<u32>,
    /// Random seed (same seed, same files).
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut opts = GenerateOptions::default();
    if let Some(w) = args.workers {
        opts.workers = w;
    }
    if let Some(m) = args.months {
        opts.months = m;
    }
    if let Some(s) = args.seed {
        opts.seed = s;
    }
    let manifest = generate(&args.out, &opts).map_err(|e| {
        if e.is_usage() { anyhow::Error::from(UsageError(e.to_string())) } else { anyhow::Error::from(e) }
    })?;
    println!(
        "wrote {} readings lines, {} workers lines, {} procedures lines and manifest.json ({} injected cases) to {}",
        manifest.counts.readings_lines,
        manifest.counts.workers_lines,
        manifest.counts.procedures_lines,
        manifest.cases.len(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
