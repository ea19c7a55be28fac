//! Gathering a report's data: the lake opened "as of" a date, the report's queries run over it,
//! each result converted into the model's [`Table`]. The report renders these tables and runs no
//! SQL; the binary only wires the two.
//!
//! "As of" is applied *below* the views: each raw table of dose data is replaced by a filtered
//! view of itself ([`queries::as_of_filters`]), then every view of `queries/` is planned again on
//! top, so the detections see the lake as it stood at the end of the as-of day.

pub mod queries;

use std::collections::BTreeMap;
use std::path::Path;

use alara_lake::AsOf;
use alara_model::table::Table;
use chrono::NaiveDate;

pub use queries::{Query, as_of_filters, queries, ts};

use crate::rows::table_from_batches;
use crate::session::{Session, SessionOptions};
use crate::{Error, Result};

/// What a gathering produced.
#[derive(Debug, Clone, Default)]
pub struct Gathered {
    /// Query results by query name.
    pub tables: BTreeMap<String, Table>,
    /// Queries skipped because a table or view they read is not defined, with a reason a
    /// reader understands.
    pub unavailable: BTreeMap<String, String>,
    /// Queries that failed, with the error (the report is written without them).
    pub failed: BTreeMap<String, String>,
    /// Data files left out because they failed the lake's integrity check (`lake_faults`).
    pub faults: Vec<alara_lake::FileFault>,
}

/// The detection views a baseline compares (the findings of a report).
pub const DETECTIONS: &[&str] = &["overexposure", "missing_badge", "unexplained_heterogeneity"];

/// Opens the lake as it was at `lake_at` (a Delta snapshot; usually the latest), restricted to
/// the data of the report date, and runs the report's queries (all of them, or those named).
pub async fn gather(
    lake: &Path,
    options: &SessionOptions,
    lake_at: &AsOf,
    as_of: NaiveDate,
    only: Option<&[&str]>,
) -> Result<Gathered> {
    let session = Session::open_as_of(lake, options, lake_at).await?;
    restrict_to(&session, as_of).await?;
    let ctx = session.ctx();
    let mut g = Gathered { faults: session.faults(), ..Gathered::default() };
    let legal_results = ctx.table_exist("legal_results").unwrap_or(false);
    for q in queries(as_of, legal_results) {
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
            let batches =
                df.collect().await.map_err(|source| Error::DataFusion { context: q.name.to_string(), source })?;
            table_from_batches(&schema, &batches).map_err(|e| Error::Invalid(format!("{}: {e}", q.name)))
        }
        .await;
        match result {
            Ok(t) => {
                g.tables.insert(q.name.to_string(), t);
            }
            Err(e) => {
                g.failed.insert(q.name.to_string(), e.to_string());
            }
        }
    }
    Ok(g)
}

/// Hides data after the report date below the views, then plans every view again on top.
async fn restrict_to(session: &Session, as_of: NaiveDate) -> Result<()> {
    let ctx = session.ctx();
    let df_err = |context: &str| {
        let context = format!("restricting the lake to the report date: {context}");
        move |source| Error::DataFusion { context, source }
    };
    for (table, predicate) in as_of_filters(as_of) {
        let Some(provider) = ctx.deregister_table(table).map_err(df_err(table))? else { continue };
        let source = format!("{table}_before_as_of");
        ctx.register_table(source.as_str(), provider).map_err(df_err(table))?;
        let view =
            ctx.sql(&format!("SELECT * FROM {source} WHERE {predicate}")).await.map_err(df_err(table))?.into_view();
        ctx.register_table(table, view).map_err(df_err(table))?;
    }
    // Views may read each other; they are planned again with the read-only guard of `open`.
    let views = session.queries().to_vec();
    session.plan_views(&views).await
}
