//! `alara report`: the nightly report. Runs the queries of `alara_report::gather` over the lake
//! as of a date and hands the results to `alara_report`, which renders and writes the files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use alara_detect::{Session, SessionOptions};
use alara_lake::AsOf;
use alara_report::{BaselinePlan, Inputs, Table, gather};
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
    /// Which state of the lake to read (default: the latest).
    #[command(flatten)]
    pub lake_at: super::sql::LakeAt,
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
    let outcome = rt.block_on(write_report_at(&lake, &options, &lake_at, args.as_of, args.since, &args.out))?;
    let c = &outcome.summary.counts;
    println!(
        "as of {}: {} workers over a limit, {} ESR candidates, {} new findings, {} workers needing attention",
        args.as_of, c.workers_over_limit, c.esr_candidates, c.new_findings, c.workers_needing_attention
    );
    // The last line is the page, for scripts.
    println!("{}", outcome.page.display());
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
}

/// Gathers, renders and writes a report over the latest lake (also used by `alara demo`).
pub async fn write_report(
    lake: &Path,
    options: &SessionOptions,
    as_of: NaiveDate,
    since: Option<NaiveDate>,
    out: &Path,
) -> anyhow::Result<Outcome> {
    write_report_at(lake, options, &AsOf::Latest, as_of, since, out).await
}

/// Gathers, renders and writes a report over the lake as it was at `lake_at`.
pub async fn write_report_at(
    lake: &Path,
    options: &SessionOptions,
    lake_at: &AsOf,
    as_of: NaiveDate,
    since: Option<NaiveDate>,
    out: &Path,
) -> anyhow::Result<Outcome> {
    let gathered = gather_at(lake, options, lake_at, as_of, None).await?;
    let previous = match alara_report::read_previous(out) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("alara: ignoring the previous summary ({e}); every finding counts as new");
            None
        }
    };
    let baseline = match alara_report::plan_baseline(previous.as_ref(), since, as_of) {
        BaselinePlan::None => None,
        BaselinePlan::Known(b) => Some(b),
        BaselinePlan::Since(d) => {
            let detections = ["overexposure", "missing_badge", "unexplained_heterogeneity"];
            let then = gather_at(lake, options, lake_at, d, Some(&detections)).await?;
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
    };
    let report = alara_report::build(&inputs);
    let page = report.write(out).with_context(|| format!("writing the report into {}", out.display()))?;
    Ok(Outcome { page, summary: report.summary, failed: gathered.failed })
}

struct Gathered {
    tables: BTreeMap<String, Table>,
    unavailable: BTreeMap<String, String>,
    failed: BTreeMap<String, String>,
}

/// Opens the lake as of a date and runs the report's queries (all, or those named).
async fn gather_at(
    lake: &Path,
    options: &SessionOptions,
    lake_at: &AsOf,
    as_of: NaiveDate,
    only: Option<&[&str]>,
) -> anyhow::Result<Gathered> {
    let session = Session::open_as_of(lake, options, lake_at).await.context("opening the lake")?;
    restrict_to(&session, as_of).await.context("restricting the lake to the report date")?;
    let ctx = session.ctx();
    let mut g = Gathered { tables: BTreeMap::new(), unavailable: BTreeMap::new(), failed: BTreeMap::new() };
    let legal_results = ctx.table_exist("legal_results").unwrap_or(false);
    for q in gather::queries(as_of, legal_results) {
        if only.is_some_and(|names| !names.contains(&q.name)) {
            continue;
        }
        if let Some(missing) = q.needs.iter().find(|n| !ctx.table_exist(**n).unwrap_or(false)) {
            g.unavailable
                .insert(q.name.to_string(), format!("`{missing}` is not defined in this version of alara's queries"));
            continue;
        }
        let result = async {
            let df = session.sql(&q.sql).await?;
            let schema = df.schema().as_arrow().clone();
            let batches = df
                .collect()
                .await
                .map_err(|source| alara_detect::Error::DataFusion { context: q.name.to_string(), source })?;
            anyhow::Ok(Table::from_batches(&schema, &batches)?)
        }
        .await;
        match result {
            Ok(t) => {
                g.tables.insert(q.name.to_string(), t);
            }
            Err(e) => {
                g.failed.insert(q.name.to_string(), format!("{e:#}"));
            }
        }
    }
    Ok(g)
}

/// Hides data after the report date *below* the views: each raw table of dose data is replaced
/// by a filtered view of itself, then every view of `queries/` is planned again on top, so the
/// detections see the lake as it stood at the end of the as-of day.
async fn restrict_to(session: &Session, as_of: NaiveDate) -> anyhow::Result<()> {
    let ctx = session.ctx();
    for (table, predicate) in gather::as_of_filters(as_of) {
        let Some(provider) = ctx.deregister_table(table)? else { continue };
        let source = format!("{table}_before_as_of");
        ctx.register_table(source.as_str(), provider)?;
        let view = ctx.sql(&format!("SELECT * FROM {source} WHERE {predicate}")).await?.into_view();
        ctx.register_table(table, view)?;
    }
    // Views may read each other; they are planned with the same read-only guard as at open.
    let queries = session.queries().to_vec();
    session.plan_views(&queries).await.context("planning the views as of the report date")?;
    Ok(())
}
