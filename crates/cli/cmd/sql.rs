//! `alara sql`: read-only SQL over the lake, from `-c`, `-f` or an interactive prompt.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use alara_detect::{Session, SessionOptions};
use alara_lake::AsOf;
use anyhow::Context;
use datafusion::sql::parser::DFParser;

use crate::UsageError;
use crate::config::Config;
use crate::output::{self, Format};

/// Arguments of `alara sql`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Lake directory.
    #[arg(long, env = "ALARA_LAKE", value_name = "DIR")]
    pub lake: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Run these statements and exit.
    #[arg(short = 'c', value_name = "SQL", conflicts_with = "file")]
    pub command: Option<String>,
    /// Run the statements of this file and exit.
    #[arg(short = 'f', value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Read view definitions from this directory instead of the built-in queries/.
    #[arg(long, value_name = "DIR")]
    pub queries: Option<PathBuf>,
    /// Which state of the lake to read (default: the latest).
    #[command(flatten)]
    pub lake_at: LakeAt,
}

/// `--lake-version N` / `--lake-time TS`: read the lake as it was (Delta time travel).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LakeAt {
    /// Read the lake as it was at version N of its `readings` table: `readings` at that version,
    /// every other table at its last commit at or before that version's commit time. The query
    /// `SELECT * FROM lake_snapshot` shows the versions a session reads.
    #[arg(long, value_name = "N", conflicts_with = "lake_time")]
    pub lake_version: Option<u64>,
    /// Read every table of the lake as it was at this time (RFC 3339, e.g. 2026-11-23T08:00:00Z).
    #[arg(long, value_name = "TS")]
    pub lake_time: Option<String>,
}

impl LakeAt {
    /// The requested state.
    pub fn as_of(&self) -> anyhow::Result<AsOf> {
        Ok(match (&self.lake_version, &self.lake_time) {
            (Some(v), _) => AsOf::Version(*v),
            (None, Some(t)) => {
                let t = chrono::DateTime::parse_from_rfc3339(t).map_err(|e| {
                    UsageError(format!("--lake-time {t}: not an RFC 3339 time ({e}); e.g. 2026-11-23T08:00:00Z"))
                })?;
                AsOf::Time(t.with_timezone(&chrono::Utc))
            }
            (None, None) => AsOf::Latest,
        })
    }
}

/// Fails with a usage error when `lake` is neither a directory nor an object-store URL.
pub fn check_lake(lake: &std::path::Path) -> anyhow::Result<()> {
    if lake.is_dir() || lake.to_string_lossy().contains("://") {
        return Ok(());
    }
    Err(UsageError(format!("{}: no lake there (run `alara ingest` or `alara demo` first)", lake.display())).into())
}

/// Runs the command.
pub fn run(args: Args, config: &Config) -> anyhow::Result<ExitCode> {
    let lake = config.lake(args.lake.as_deref())?;
    check_lake(&lake)?;
    let lake_at = args.lake_at.as_of()?;
    let rt = super::runtime()?;
    rt.block_on(async {
        let options = SessionOptions { queries_dir: args.queries.clone(), config: config.limits.clone() };
        let session = Session::open_as_of(&lake, &options, &lake_at).await.context("opening the lake")?;
        warn_faults(session.faults().len());
        let text = match (&args.command, &args.file) {
            (Some(c), _) => Some(c.clone()),
            (None, Some(f)) => {
                Some(std::fs::read_to_string(f).map_err(|e| UsageError(format!("cannot read {}: {e}", f.display())))?)
            }
            (None, None) => None,
        };
        match text {
            Some(text) => {
                let ok = run_statements(&session, &text, args.format, &mut std::io::stdout()).await;
                Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
            }
            None => repl(&session, args.format).await,
        }
    })
}

/// One line on stderr when the session left unreadable files out, so that a count read from
/// stdout is never silently short (also used by `alara report`).
pub fn warn_faults(quarantined: usize) {
    if quarantined > 0 {
        eprintln!(
            "alara: warning: {quarantined} lake file(s) truncated or corrupt were left out of every query; \
             see `SELECT * FROM lake_faults`"
        );
    }
}

/// Splits `text` into statements and runs each, printing results; errors are printed with
/// DataFusion's message. Returns whether every statement succeeded.
pub async fn run_statements(session: &Session, text: &str, format: Format, out: &mut dyn Write) -> bool {
    let statements = match DFParser::parse_sql(text) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("alara: SQL error: {e}");
            return false;
        }
    };
    let mut ok = true;
    for st in statements {
        if let Err(e) = run_one(session, st, format, out).await {
            eprintln!("alara: {e:#}");
            ok = false;
            break;
        }
    }
    ok
}

async fn run_one(
    session: &Session,
    statement: datafusion::sql::parser::Statement,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let df = session.statement(statement).await?;
    let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await.context("query failed")?;
    output::write(out, format, &schema, &batches)?;
    out.flush()?;
    Ok(())
}

const HELP: &str = "Statements end with ';'. Tables: readings, workers, procedures, rejects, alerts, explanations \
(one row per identity; *_all keeps every copy), thresholds, lake_snapshot, lake_faults (files left out as \
unreadable), and the detection views.\n\
  \\d          list tables and views\n  \\d NAME     describe one\n  \\q          quit (or Ctrl-D)";

async fn repl(session: &Session, format: Format) -> anyhow::Result<ExitCode> {
    use rustyline::error::ReadlineError;
    let mut rl = rustyline::DefaultEditor::new().context("starting the prompt")?;
    let history = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".alara_history"));
    if let Some(h) = &history {
        let _ = rl.load_history(h);
    }
    println!("alara sql: read-only. \\? for help.");
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() { "alara> " } else { "   ...> " };
        match rl.readline(prompt) {
            Ok(line) => {
                let trimmed = line.trim();
                if buffer.is_empty() && trimmed.starts_with('\\') {
                    let _ = rl.add_history_entry(trimmed);
                    match trimmed {
                        "\\q" => break,
                        "\\?" | "\\h" => println!("{HELP}"),
                        "\\d" => {
                            let q = "SELECT table_name, table_type FROM information_schema.tables \
                                     WHERE table_schema = 'public' ORDER BY table_name";
                            run_statements(session, q, format, &mut std::io::stdout()).await;
                        }
                        d if d.starts_with("\\d ") => {
                            let name = d[3..].trim().replace('\'', "''");
                            let q = format!(
                                "SELECT column_name, data_type, is_nullable FROM information_schema.columns \
                                 WHERE table_name = '{name}' ORDER BY ordinal_position"
                            );
                            run_statements(session, &q, format, &mut std::io::stdout()).await;
                        }
                        other => eprintln!("unknown command {other}; \\? for help"),
                    }
                    continue;
                }
                buffer.push_str(&line);
                buffer.push('\n');
                if trimmed.ends_with(';') {
                    let _ = rl.add_history_entry(buffer.trim());
                    run_statements(session, &buffer, format, &mut std::io::stdout()).await;
                    buffer.clear();
                }
            }
            Err(ReadlineError::Interrupted) => buffer.clear(),
            Err(ReadlineError::Eof) => {
                if !buffer.trim().is_empty() {
                    run_statements(session, &buffer, format, &mut std::io::stdout()).await;
                }
                break;
            }
            Err(e) => return Err(e).context("reading the prompt"),
        }
    }
    if let Some(h) = &history {
        let _ = rl.save_history(h);
    }
    Ok(ExitCode::SUCCESS)
}
