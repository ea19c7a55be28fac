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
}

/// The detection views a baseline compares (the findings of a report).
pub const DETECTIONS: &[&str] = &["overexposure", "missing_badge", "unexplained_heterogeneity"];

/// Opens the lake as of a date and runs the report's queries (all of them, or those named).
pub async fn gather(
    lake: &Path,
    options: &SessionOptions,
    as_of: NaiveDate,
    only: Option<&[&str]>,
) -> Result<Gathered> {
    let session = Session::open(lake, options).await?;
    restrict_to(&session, as_of).await?;
    let ctx = session.ctx();
    let mut g = Gathered::default();
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
    let views = session.queries().to_vec();
    for q in &views {
        ctx.deregister_table(q.name.as_str()).map_err(df_err(&q.name))?;
    }
    // Views may read each other: plan those whose inputs exist, then retry the rest.
    let mut pending: Vec<&crate::Query> = views.iter().collect();
    while !pending.is_empty() {
        let before = pending.len();
        let mut failed = Vec::new();
        let mut errors = Vec::new();
        for q in pending {
            match ctx.sql(&q.sql).await {
                Ok(df) => {
                    ctx.register_table(q.name.as_str(), df.into_view()).map_err(df_err(&q.name))?;
                }
                Err(e) => {
                    errors.push(format!("{}: {e}", q.name));
                    failed.push(q);
                }
            }
        }
        if failed.len() == before {
            return Err(Error::Views(format!(
                "restricting the lake to the report date: views could not be planned: {}",
                errors.join("; ")
            )));
        }
        pending = failed;
    }
    Ok(())
}
