//! `alara alerts`: list the alerts of the outbox, re-send what hooks still owe, acknowledge.
//! Also the glue every ingest path uses to start and finish the alert engine.

use std::path::PathBuf;
use std::process::ExitCode;

use alara_alert::{Engine, EngineConfig, RuleConfig, Summary};
use alara_detect::{Session, SessionOptions};
use alara_lake::Lake;
use alara_model::AlertState;
use anyhow::Context;

use crate::UsageError;
use crate::config::Config;
use crate::output::{self, Format};

/// Arguments of `alara alerts`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Lake directory.
    #[arg(long, env = "ALARA_LAKE", value_name = "DIR")]
    pub lake: Option<PathBuf>,
    /// Only alerts in this state.
    #[arg(long, value_parser = state_parser(), conflicts_with_all = ["retry", "ack"])]
    pub state: Option<AlertState>,
    /// Output format of the list.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Re-send now what hooks still owe (failed or pending), then exit; 1 if some remain owed.
    #[arg(long, conflicts_with = "ack")]
    pub retry: bool,
    /// Record that a person has handled this alert (its id, or the first characters of it).
    #[arg(long, value_name = "ID")]
    pub ack: Option<String>,
    /// Who handled it (default: the login name).
    #[arg(long, value_name = "NAME", requires = "ack")]
    pub by: Option<String>,
    /// What was done.
    #[arg(long, value_name = "TEXT", requires = "ack")]
    pub note: Option<String>,
}

/// `--state`: one of the [`AlertState`] spellings, listed in `--help`.
fn state_parser() -> impl clap::builder::TypedValueParser<Value = AlertState> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(AlertState::ALL.iter().map(|s| s.as_str()))
        // The possible-values parser only lets the canonical spellings through.
        .map(|s| s.parse::<AlertState>().expect("a listed spelling"))
}

/// The engine's settings from `alara.toml`: the rule levels are `[limits]`, the very numbers
/// the detection views read, so stream and batch never disagree.
pub fn engine_config(config: &Config) -> EngineConfig {
    EngineConfig {
        rules: RuleConfig { limits: config.limits.limits.clone(), operational_alarm: config.alerts.operational_alarm },
        alerts: config.alerts.clone(),
        hooks: config.hooks.clone(),
    }
}

fn alert_error(e: alara_alert::Error) -> anyhow::Error {
    if e.is_usage() { UsageError(format!("configuration: {e}")).into() } else { e.into() }
}

/// Starts the alert engine over a lake (state rebuilt from it, owed alerts re-sent).
pub fn start_engine(lake: &Lake, config: &Config) -> anyhow::Result<Engine> {
    Engine::start(lake, engine_config(config)).map_err(alert_error).context("starting the alert engine")
}

/// Lets hooks deliver what they owe for at most `[alerts] drain_timeout_s`, and prints what
/// happened. Returns the alerts still owed.
pub fn finish_engine(engine: Engine, config: &Config) -> usize {
    let summary = engine.finish(config.alerts.drain_timeout());
    print_summary(&summary)
}

fn print_summary(summary: &Summary) -> usize {
    if summary.raised > 0 || summary.hooks.iter().any(|h| h.delivered + h.owed > 0) {
        println!("alerts: {} raised", summary.raised);
    }
    let mut owed = 0;
    for h in &summary.hooks {
        if h.delivered + h.owed == 0 {
            continue;
        }
        print!("  {:<20} {:>6} delivered", h.name, h.delivered);
        if h.owed > 0 {
            print!(" {:>6} still owed ({})", h.owed, h.last_error.as_deref().unwrap_or("not attempted yet"));
        }
        println!();
        owed += h.owed;
    }
    if owed > 0 {
        println!("  alerts still owed are kept in the outbox and re-sent at the next run or by `alara alerts --retry`");
    }
    owed
}

/// Runs the command.
pub fn run(args: Args, config: &Config) -> anyhow::Result<ExitCode> {
    let dir = config.lake(args.lake.as_deref())?;
    if !dir.is_dir() {
        return Err(UsageError(format!("{}: no lake there (run `alara ingest` first)", dir.display())).into());
    }
    let lake = Lake::open(&dir).with_context(|| format!("opening lake {}", dir.display()))?;
    if let Some(id) = &args.ack {
        let author = args
            .by
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .or_else(|| std::env::var("LOGNAME").ok())
            .unwrap_or_else(|| "unknown".to_string());
        let alert =
            alara_alert::acknowledge(&lake, id, &author, args.note.as_deref()).map_err(|e| match e.is_usage() {
                true => anyhow::Error::from(UsageError(e.to_string())),
                false => e.into(),
            })?;
        println!("acknowledged {} by {author}: {}", alert.alert_id, alert.summary);
        return Ok(ExitCode::SUCCESS);
    }
    if args.retry {
        let engine = Engine::deliver_only(&lake, engine_config(config)).map_err(alert_error)?;
        let owed_before = engine.owed_at_start();
        if owed_before == 0 {
            println!("nothing to re-send: every hook has taken every alert it wanted");
            return Ok(ExitCode::SUCCESS);
        }
        println!("re-sending {owed_before} owed alert deliveries");
        let owed = finish_engine(engine, config);
        return Ok(if owed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) });
    }
    list(&dir, &args, config)
}

fn list(dir: &std::path::Path, args: &Args, config: &Config) -> anyhow::Result<ExitCode> {
    let sql = alara_detect::listings::alerts(args.state, args.format == Format::Table);
    let rt = super::runtime()?;
    rt.block_on(async {
        let options = SessionOptions { queries_dir: None, config: config.limits.clone() };
        let session = Session::open(dir, &options).await.context("opening the lake")?;
        let df = session.sql(&sql).await?;
        let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await.context("listing alerts")?;
        output::write(&mut std::io::stdout(), args.format, &schema, &batches)?;
        anyhow::Ok(ExitCode::SUCCESS)
    })
}
