//! `alara demo`: the whole pipeline on generated data, no broker needed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use alara_detect::{Session, SessionOptions};
use alara_generate::{GenerateOptions, generate};
use alara_model::Kind;
use anyhow::Context;

use crate::config::Config;
use crate::output::Format;

/// Arguments of `alara demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Working directory (input files, lake, report).
    #[arg(long, value_name = "DIR", default_value = "alara-demo")]
    pub dir: PathBuf,
    /// Number of workers to generate.
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub workers: usize,
    /// Language of the report: `fr` (the default) or `en`.
    #[arg(long, env = "ALARA_LANG", value_name = "fr|en", default_value = "fr", value_parser = super::report::parse_lang)]
    pub lang: alara_report::i18n::Lang,
}

/// Runs the command.
pub fn run(args: Args, config: &Config) -> anyhow::Result<ExitCode> {
    let input = args.dir.join("input");
    let lake = args.dir.join("lake");
    if lake.exists() {
        // A demo starts afresh so its numbers are the generator's.
        std::fs::remove_dir_all(&lake).with_context(|| format!("clearing {}", lake.display()))?;
    }
    let opts = GenerateOptions { workers: args.workers, ..GenerateOptions::default() };
    println!("1/4 generating a hospital: {} workers, {} months → {}", opts.workers, opts.months, input.display());
    let manifest = generate(&input, &opts).context("generating the data set")?;
    println!("    {} injected cases listed in {}", manifest.cases.len(), input.join("manifest.json").display());

    println!("2/4 ingesting into {}", lake.display());
    let w = input.join("workers.csv");
    let p = input.join("procedures.csv");
    let r = input.join("readings.jsonl");
    let files: Vec<(Kind, &Path)> = vec![(Kind::Workers, &w), (Kind::Procedures, &p), (Kind::Readings, &r)];
    // The streaming alert rules fire as the readings land, to a local log rather than to any
    // hook of alara.toml: a demo never pages anyone.
    let alert_log = args.dir.join("alerts.jsonl");
    if alert_log.exists() {
        std::fs::remove_file(&alert_log).with_context(|| format!("clearing {}", alert_log.display()))?;
    }
    let mut config = config.clone();
    config.hooks = vec![alara_alert::HookConfig::log(&alert_log)];
    let config = &config;
    let counts = super::ingest::ingest_files(&lake, &files, config)?;
    super::ingest::print_counts(&lake, &counts);

    println!("3/4 what is in the lake");
    let rt = super::runtime()?;
    rt.block_on(async {
        let options = SessionOptions { queries_dir: None, config: config.limits.clone() };
        let session = Session::open(&lake, &options).await?;
        for statement in alara_detect::listings::LAKE_OVERVIEW {
            super::sql::run_statements(&session, statement, Format::Table, &mut std::io::stdout()).await;
        }
        anyhow::Ok(())
    })?;
    println!("4/4 writing the report");
    // The report date is the last day of the generated months, so the demo's report is the same
    // on any day it is run.
    let as_of = opts.end.pred_opt().unwrap_or(opts.end);
    let out = args.dir.join("report");
    let options = SessionOptions { queries_dir: None, config: config.limits.clone() };
    let outcome = rt.block_on(super::report::write_report(&lake, &options, as_of, None, args.lang, &out))?;
    let c = &outcome.summary.counts;
    println!(
        "    as of {as_of}: {} workers over a limit, {} declaration (ESR) candidates, {} workers needing attention",
        c.workers_over_limit, c.esr_candidates, c.workers_needing_attention
    );
    for (name, err) in &outcome.failed {
        eprintln!("alara: report section {name} failed: {err}");
    }
    let page = std::fs::canonicalize(&outcome.page).unwrap_or_else(|_| outcome.page.clone());
    println!("    report: {}", page.display());
    println!("    open:   file://{}", page.display());
    println!("\nalerts as delivered (one JSON per line): {}", alert_log.display());
    println!("alerts and their state: alara alerts --lake {}", lake.display());
    println!("explore: alara sql --lake {}", lake.display());
    first_user(&lake, config)?;
    Ok(if outcome.failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The web application: creates a first admin (password printed once) when the demo's users file
/// has nobody, and says what to run and open.
fn first_user(lake: &Path, config: &Config) -> anyhow::Result<()> {
    let file = config.serve.users_file.clone().unwrap_or_else(|| alara_serve::users::default_path(lake));
    let mut users = alara_serve::Users::load(&file)?;
    if users.is_empty() {
        let password = alara_serve::auth::token()?[..20].to_string();
        users.set("admin", alara_serve::Role::Admin, &password)?;
        users.save()?;
        println!("\nweb application user created: admin / {password} (shown once; more with `alara user add`)");
    }
    println!("serve:   alara serve --lake {}   (add --pg 127.0.0.1:5432 for BI tools and psql)", lake.display());
    println!("then open http://127.0.0.1:8080/");
    Ok(())
}
