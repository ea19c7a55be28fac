//! `alara`: the command line. It parses arguments and configuration, sets up logging, and wires
//! the library crates together; it holds no business logic of its own.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod alloc;
mod cmd;
mod config;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Occupational radiation dosimetry: ingest dose results into a Parquet lake, detect
/// overexposures, missing badges and unexplained heterogeneity, alert and report.
#[derive(Debug, Parser)]
#[command(name = "alara", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// Configuration file (default: ./alara.toml when it exists).
    #[arg(long, global = true, env = "ALARA_CONFIG", value_name = "FILE")]
    config: Option<std::path::PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a realistic data set, ingest it, detect, report and alert: no broker needed.
    Demo(cmd::demo::Args),
    /// Write readings, workers and procedures files with known anomalies and a manifest.
    Generate(cmd::generate::Args),
    /// Consume files or Kafka topics into the lake.
    Ingest(cmd::ingest::Args),
    /// Read-only SQL over the lake and the detection views.
    Sql(cmd::sql::Args),
    /// Record why a finding for a worker and period is explained.
    Explain(cmd::explain::Args),
    /// Write the nightly report (HTML, CSV extracts, JSON summary) as of a date.
    Report(cmd::report::Args),
    /// Merge the lake's small files into large ones (safe while ingest runs).
    Compact(cmd::compact::Args),
    /// List alerts (pending, delivered, failed, acknowledged), re-send failed ones, acknowledge.
    Alerts(cmd::alerts::Args),
    /// Serve the web application (alerts, findings, dose statements, SQL) behind a login.
    Serve(cmd::serve::Args),
    /// Manage the users of `alara serve`.
    User(cmd::user::Args),
}

/// An error the user fixes by changing the command line or the configuration (exit code 2).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let result = config::Config::load(cli.config.as_deref()).and_then(|config| run(cli.command, &config));
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("alara: {err:#}");
            if err.chain().any(|e| e.is::<UsageError>()) || is_missing_key(&err) {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn is_missing_key(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        matches!(e.downcast_ref::<alara_ingest::Error>(), Some(alara_ingest::Error::MissingPseudonymKey { .. }))
    })
}

fn run(command: Command, config: &config::Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Demo(a) => cmd::demo::run(a, config),
        Command::Generate(a) => cmd::generate::run(a),
        Command::Ingest(a) => cmd::ingest::run(a, config),
        Command::Sql(a) => cmd::sql::run(a, config),
        Command::Explain(a) => cmd::explain::run(a, config),
        Command::Report(a) => cmd::report::run(a, config),
        Command::Compact(a) => cmd::compact::run(a, config),
        Command::Alerts(a) => cmd::alerts::run(a, config),
        Command::Serve(a) => cmd::serve::run(a, config),
        Command::User(a) => cmd::user::run(a, config),
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
