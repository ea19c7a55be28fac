//! `alara report`: the nightly report. `alara_detect::gather` runs the report's queries over the
//! lake as of a date; `alara_report` renders the results and writes the files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use alara_detect::SessionOptions;
use alara_detect::gather::{DETECTIONS, gather};
use alara_lake::AsOf;
use alara_report::i18n::Lang;
use alara_report::{BaselinePlan, Inputs};
use anyhow::Context;
use chrono::NaiveDate;

use crate::UsageError;
use crate::config::Config;

/// Arguments of `alara report`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Lake directory.
    #[arg(long, env = "ALARA_LAKE", value_name = "DIR")]
    pub lake: Option<PathBuf>,
    /// Report date (YYYY-MM-DD, UTC): wearing periods ending after this day, and procedures and
    /// worker records after it, are ignored. The same lake and date give the same bytes.
    #[arg(long, value_name = "DATE")]
    pub as_of: NaiveDate,
    /// Output directory: report.html, one CSV per table, summary.json.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Count as new what a report as of this date did not show. Default: the findings of the
    /// previous summary.json in --out (none: everything is new).
    #[arg(long, value_name = "DATE")]
    pub since: Option<NaiveDate>,
    /// Read view definitions from this directory instead of the built-in queries/.
    #[arg(long, value_name = "DIR")]
    pub queries: Option<PathBuf>,
    /// Language of report.html: `fr` (the default) or `en`. The CSV files and summary.json are
    /// the same in both.
    #[arg(long, env = "ALARA_LANG", value_name = "fr|en", default_value = "fr", value_parser = parse_lang)]
    pub lang: Lang,
    /// Which state of the lake to read (default: the latest).
    #[command(flatten)]
    pub lake_at: super::sql::LakeAt,
}

/// `fr` or `en`, for clap.
pub fn parse_lang(s: &str) -> Result<Lang, String> {
    Lang::parse(s).ok_or_else(|| format!("unknown language `{s}`: fr or en"))
}

/// Runs the command.
pub fn run(args: Args, config: &Config) -> anyhow::Result<ExitCode> {
    let lake = config.lake(args.lake.as_deref())?;
    super::sql::check_lake(&lake)?;
    let lake_at = args.lake_at.as_of()?;
    if args.since.is_some_and(|s| s >= args.as_of) {
        return Err(UsageError(format!(
            "--since {} must be before --as-of {}",
            args.since.unwrap_or_default(),
            args.as_of
        ))
        .into());
    }
    let options = SessionOptions { queries_dir: args.queries.clone(), config: config.limits.clone() };
    let rt = super::runtime()?;
    let outcome =
        rt.block_on(write_report_at(&lake, &options, &lake_at, args.as_of, args.since, args.lang, &args.out))?;
    let c = &outcome.summary.counts;
    println!(
        "as of {}: {} workers over a limit, {} ESR candidates, {} new findings, {} workers needing attention",
        args.as_of, c.workers_over_limit, c.esr_candidates, c.new_findings, c.workers_needing_attention
    );
    // The last line is the page, for scripts.
    println!("{}", outcome.page.display());
    super::sql::warn_faults(outcome.quarantined);
    for (name, err) in &outcome.failed {
        eprintln!("alara: report section {name} failed: {err}");
    }
    Ok(if outcome.failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// What a report run produced.
pub struct Outcome {
    /// Path of report.html.
    pub page: PathBuf,
    /// Headline numbers.
    pub summary: alara_report::Summary,
    /// Queries that failed (the report was written without them).
    pub failed: BTreeMap<String, String>,
    /// Data files left out because they failed the lake's integrity check.
    pub quarantined: usize,
}

/// Gathers, renders and writes a report over the latest lake (also used by `alara demo`).
pub async fn write_report(
    lake: &Path,
    options: &SessionOptions,
    as_of: NaiveDate,
    since: Option<NaiveDate>,
    lang: Lang,
    out: &Path,
) -> anyhow::Result<Outcome> {
    write_report_at(lake, options, &AsOf::Latest, as_of, since, lang, out).await
}

/// Gathers, renders and writes a report over the lake as it was at `lake_at`.
pub async fn write_report_at(
    lake: &Path,
    options: &SessionOptions,
    lake_at: &AsOf,
    as_of: NaiveDate,
    since: Option<NaiveDate>,
    lang: Lang,
    out: &Path,
) -> anyhow::Result<Outcome> {
    let gathered = gather(lake, options, lake_at, as_of, None).await.context("gathering the report's data")?;
    let previous = match alara_report::read_previous(out) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("alara: ignoring the previous summary ({e}); every finding counts as new");
            None
        }
    };
    let baseline = match alara_report::plan_baseline(previous.as_ref(), since, as_of) {
        BaselinePlan::None => None,
        BaselinePlan::Previous(b) => Some(b),
        BaselinePlan::Since(d) => {
            let then = gather(lake, options, lake_at, d, Some(DETECTIONS))
                .await
                .context("gathering the findings (--since)")?;
            if let Some((name, err)) = then.failed.iter().next() {
                anyhow::bail!("gathering the findings as of {d} (--since): {name}: {err}");
            }
            Some(alara_report::since_baseline(d, alara_report::model::finding_keys(&then.tables)))
        }
    };
    let mut unavailable = gathered.unavailable;
    for (name, err) in &gathered.failed {
        unavailable.insert(name.clone(), format!("the query failed: {err}"));
    }
    let inputs = Inputs {
        as_of,
        tables: gathered.tables,
        unavailable,
        baseline,
        generator: format!("alara {}", env!("CARGO_PKG_VERSION")),
        lang,
        quarantined_files: gathered.faults.len(),
    };
    let report = alara_report::build(&inputs);
    let page = report.write(out).with_context(|| format!("writing the report into {}", out.display()))?;
    Ok(Outcome { page, summary: report.summary, failed: gathered.failed, quarantined: inputs.quarantined_files })
}
