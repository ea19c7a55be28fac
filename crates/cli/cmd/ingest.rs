//! `alara ingest`: files or Kafka into the lake.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use alara_ingest::{Core, CoreConfig, Counts, ingest_file};
use alara_lake::{DeltaSink, Lake, WriteOptions};
use alara_model::Kind;
use anyhow::Context;

use crate::UsageError;
use crate::config::Config;

/// Arguments of `alara ingest`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Lake directory.
    #[arg(long, env = "ALARA_LAKE", value_name = "DIR")]
    pub lake: Option<PathBuf>,
    /// Kafka bootstrap servers (host:port,…): consume the contract topics. Without a value, the
    /// `[kafka] brokers` of the configuration.
    #[arg(
        long,
        value_name = "BROKERS",
        num_args = 0..=1,
        default_missing_value = "",
        conflicts_with_all = ["readings", "workers", "procedures"]
    )]
    pub kafka: Option<String>,
    /// Kafka consumer group.
    #[arg(long, value_name = "G", requires = "kafka")]
    pub group: Option<String>,
    /// Readings file (JSON Lines or CSV); repeatable.
    #[arg(long, value_name = "F")]
    pub readings: Vec<PathBuf>,
    /// Workers file; repeatable.
    #[arg(long, value_name = "F")]
    pub workers: Vec<PathBuf>,
    /// Procedures file; repeatable.
    #[arg(long, value_name = "F")]
    pub procedures: Vec<PathBuf>,
    /// Exit once every assigned partition is caught up (Kafka) — files always end.
    #[arg(long)]
    pub until_idle: bool,
    /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9464) while consuming Kafka.
    #[arg(long, value_name = "ADDR", requires = "kafka")]
    pub metrics: Option<std::net::SocketAddr>,
}

/// Runs the command.
pub fn run(args: Args, config: &Config) -> anyhow::Result<ExitCode> {
    let lake_dir = config.lake(args.lake.as_deref())?;
    if let Some(brokers) = &args.kafka {
        return super::ingest_kafka::run(&lake_dir, brokers, &args, config);
    }
    let files: Vec<(Kind, &Path)> = args
        .workers
        .iter()
        .map(|p| (Kind::Workers, p.as_path()))
        .chain(args.procedures.iter().map(|p| (Kind::Procedures, p.as_path())))
        .chain(args.readings.iter().map(|p| (Kind::Readings, p.as_path())))
        .collect();
    if files.is_empty() {
        return Err(UsageError(
            "nothing to ingest: give --kafka BROKERS, or --readings/--workers/--procedures FILE".into(),
        )
        .into());
    }
    for (_, f) in &files {
        if !f.is_file() {
            return Err(UsageError(format!("{}: no such file", f.display())).into());
        }
    }
    let counts = ingest_files(&lake_dir, &files, config)?;
    print_counts(&lake_dir, &counts);
    Ok(ExitCode::SUCCESS)
}

/// Ingests files in order (workers, procedures, then readings) and returns the counts.
pub fn ingest_files(lake_dir: &Path, files: &[(Kind, &Path)], config: &Config) -> anyhow::Result<Counts> {
    let lake = Lake::open(lake_dir).with_context(|| format!("opening lake {}", lake_dir.display()))?;
    lake.sweep_temporaries(std::time::Duration::from_secs(3600))?;
    let validator = config.ingest.validator(config.pseudonymizer()?);
    let sink = DeltaSink::new(lake, WriteOptions::default());
    let prefix = format!("files-{}-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%6f"), std::process::id());
    let alerts = super::alerts::start_engine(sink.lake(), config)?;
    let mut core = Core::new(validator, sink, CoreConfig { max_buffered_rows: config.ingest.max_batch_rows }, prefix);
    core.observe(alerts.observer());
    for (kind, path) in files {
        ingest_file(&mut core, *kind, path).with_context(|| format!("ingesting {}", path.display()))?;
        tracing::info!(file = %path.display(), "file read");
    }
    core.flush(Vec::new()).context("writing the last batch to the lake")?;
    super::alerts::finish_engine(alerts, config);
    Ok(core.counts())
}

/// Prints what was accepted and rejected, per kind.
pub fn print_counts(lake_dir: &Path, c: &Counts) {
    println!("ingested into {}:", lake_dir.display());
    for k in Kind::ALL {
        if c.accepted(k) + c.rejected(k) > 0 {
            println!("  {:<11} {:>9} accepted {:>7} rejected", k.table(), c.accepted(k), c.rejected(k));
        }
    }
    if c.total_rejected() > 0 {
        println!(
            "  rejected records are in the `rejects` table with their reason: alara sql --lake {} -c 'SELECT origin, reason FROM rejects'",
            lake_dir.display()
        );
    }
}
