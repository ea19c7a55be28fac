//! `alara explain`: record why a finding is explained.

use std::path::PathBuf;
use std::process::ExitCode;

use alara_detect::explain::{Decision, Explanation, record};
use alara_lake::Lake;
use alara_model::records::parse_timestamp;
use chrono::{Duration, Utc};

use crate::UsageError;
use crate::config::Config;

/// Arguments of `alara explain`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Lake directory.
    #[arg(long, env = "ALARA_LAKE", value_name = "DIR")]
    pub lake: Option<PathBuf>,
    /// Worker id (pseudonymous).
    #[arg(long, value_name = "W")]
    pub worker: String,
    /// First day covered (date or RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub from: String,
    /// Last day covered, inclusive (date or RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub to: String,
    /// Why the finding is not a concern, in words an inspector can read.
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// Only for this signal or level (e.g. peer_outlier); default: every finding of the period.
    #[arg(long, value_name = "SIGNAL")]
    pub signal: Option<String>,
    /// For a possible significant event: `declared` (declared to ASNR) or `not_esr` (analysed,
    /// not an event); needs --signal naming the level (esr, limit, classification, pregnancy).
    /// Shown in the esr_register view.
    #[arg(long, value_name = "DECISION")]
    pub decision: Option<String>,
    /// Author (default: the login name).
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
}

/// Runs the command.
pub fn run(args: Args, config: &Config) -> anyhow::Result<ExitCode> {
    let lake = Lake::open(config.lake(args.lake.as_deref())?)?;
    let from =
        parse_timestamp(&args.from).ok_or_else(|| UsageError(format!("--from '{}' is not a date", args.from)))?;
    let to_raw = parse_timestamp(&args.to).ok_or_else(|| UsageError(format!("--to '{}' is not a date", args.to)))?;
    // A bare date for --to means the whole day.
    let to = if args.to.trim().len() == 10 { to_raw + Duration::days(1) - Duration::microseconds(1) } else { to_raw };
    let author = args
        .by
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .unwrap_or_else(|| "unknown".to_string());
    let decision = match args.decision.as_deref() {
        None => None,
        Some(d) => Some(
            Decision::parse(d)
                .ok_or_else(|| UsageError(format!("--decision '{d}' is not one of: declared, not_esr")))?,
        ),
    };
    let e = Explanation {
        worker_id: args.worker,
        period_start: from,
        period_end: to,
        signal: args.signal,
        reason: args.reason,
        author,
        recorded_at: Utc::now(),
        decision,
    };
    let id = record(&lake, &e).map_err(|err| match err {
        alara_detect::Error::Invalid(m) => anyhow::Error::from(UsageError(m)),
        other => other.into(),
    })?;
    println!("recorded explanation {id} for {} from {} to {} by {}", e.worker_id, args.from, args.to, e.author);
    Ok(ExitCode::SUCCESS)
}
