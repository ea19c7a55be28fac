//! A DataFusion session over a lake, read-only.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use alara_lake::{AsOf, FileFault, Lake, Table, TableSnapshot};
use arrow::array::{RecordBatch, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::ListingOptions;
use datafusion::execution::context::{SQLOptions, SessionConfig, SessionContext};
use datafusion::prelude::DataFrame;

use crate::config::DetectConfig;
use crate::queries::{Query, embedded_queries, load_queries};
use crate::{Error, Result};

/// How to open a session.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// Read view definitions from this directory instead of the compiled-in `queries/`.
    pub queries_dir: Option<PathBuf>,
    /// Dose levels, exposed as the `thresholds` table.
    pub config: DetectConfig,
}

/// The schema of each lake table's data files.
pub fn table_schema(table: Table) -> Option<SchemaRef> {
    Some(table.schema())
}

/// A read-only DataFusion session with the lake tables and views registered.
pub struct Session {
    ctx: SessionContext,
    queries: Vec<Query>,
    /// The lake, kept so that [`Session::refresh`] reads only the commits made since.
    lake: Lake,
    /// The Delta version of each table registered, in [`Table::ALL`] order.
    versions: tokio::sync::Mutex<Vec<Option<u64>>>,
    /// The files the registered snapshots left out (`lake_faults`).
    faults: std::sync::Mutex<Vec<FileFault>>,
}

impl Session {
    /// Opens the latest snapshot of the lake at `root` (creating empty tables if needed) and
    /// registers tables and views.
    pub async fn open(root: &Path, options: &SessionOptions) -> Result<Session> {
        Session::open_as_of(root, options, &AsOf::Latest).await
    }

    /// Opens the lake as it was at `as_of` (Delta time travel; see `alara_lake::snapshot` for
    /// what a version means across tables) and registers tables and views.
    pub async fn open_as_of(root: &Path, options: &SessionOptions, as_of: &AsOf) -> Result<Session> {
        let lake = Lake::open(root)?;
        let config = SessionConfig::new().with_information_schema(true).with_target_partitions(2);
        let ctx = SessionContext::new_with_config(config);
        let mut snapshots = lake.snapshots(as_of).await?;
        let faults = crate::faults::quarantine(&mut snapshots).await?;
        let versions = tokio::sync::Mutex::new(snapshots.iter().map(|s| s.version).collect());
        for snapshot in &snapshots {
            register_table(&ctx, snapshot).await?;
        }
        register_versions(&ctx, &snapshots)?;
        crate::faults::register(&ctx, &faults, chrono::Utc::now())?;
        let thresholds = options.config.thresholds_batch();
        let mem = MemTable::try_new(thresholds.schema(), vec![vec![thresholds]])
            .map_err(|source| Error::DataFusion { context: "registering thresholds".into(), source })?;
        ctx.register_table("thresholds", Arc::new(mem))
            .map_err(|source| Error::DataFusion { context: "registering thresholds".into(), source })?;
        // Non-dose parameters of the detection views (run lengths, p-values, tolerances).
        let parameters = options.config.parameters_batch();
        let mem = MemTable::try_new(parameters.schema(), vec![vec![parameters]])
            .map_err(|source| Error::DataFusion { context: "registering detect_parameters".into(), source })?;
        ctx.register_table("detect_parameters", Arc::new(mem))
            .map_err(|source| Error::DataFusion { context: "registering detect_parameters".into(), source })?;
        crate::udf::register(&ctx);
        let queries = match &options.queries_dir {
            Some(dir) => load_queries(dir)?,
            None => embedded_queries(),
        };
        register_views(&ctx, &queries).await?;
        Ok(Session { ctx, queries, lake, versions, faults: std::sync::Mutex::new(faults) })
    }

    /// The data files left out of the session because they failed the integrity check when the
    /// snapshot was read (the rows of `lake_faults`), in table then path order.
    pub fn faults(&self) -> Vec<FileFault> {
        // The lock guards a plain assignment: a poisoned lock still holds a whole value.
        self.faults.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The DataFusion context (for callers that need more than [`Session::sql`]).
    pub fn ctx(&self) -> &SessionContext {
        &self.ctx
    }

    /// The registered view definitions.
    pub fn queries(&self) -> &[Query] {
        &self.queries
    }

    /// Plans one read-only statement. DDL, DML (INSERT, COPY…) and session statements are refused.
    pub async fn sql(&self, sql: &str) -> Result<DataFrame> {
        self.ctx.sql_with_options(sql, read_only()).await.map_err(|source| refusal(&first_word(sql), source))
    }

    /// Plans one already parsed statement, read-only like [`Session::sql`]. Scripts are split
    /// with DataFusion's parser and each statement planned as parsed, never re-printed.
    pub async fn statement(&self, statement: datafusion::sql::parser::Statement) -> Result<DataFrame> {
        let word = first_word(&statement.to_string());
        let state = self.ctx.state();
        let plan = state.statement_to_plan(statement).await.map_err(|source| refusal(&word, source))?;
        read_only().verify_plan(&plan).map_err(|source| refusal(&word, source))?;
        self.ctx
            .execute_logical_plan(plan)
            .await
            .map_err(|source| Error::DataFusion { context: "query".into(), source })
    }

    /// Plans `queries` as views (again), read-only like every view file: a caller that swapped
    /// tables underneath (the report's as-of filters) re-plans the views on top with this.
    pub async fn plan_views(&self, queries: &[Query]) -> Result<()> {
        for q in queries {
            self.ctx
                .deregister_table(q.name.as_str())
                .map_err(|source| Error::DataFusion { context: format!("dropping view {}", q.name), source })?;
        }
        register_views(&self.ctx, queries).await
    }

    /// Brings a long-lived session (the SQL endpoint's) up to the lake's latest commits: when a
    /// table has a newer Delta version, every table is registered again at its latest snapshot
    /// and the views planned again on top. Returns whether anything changed. A statement that
    /// runs while this swaps the tables reads either snapshot, each a committed state.
    ///
    /// The new snapshot's files are checked as at opening (`lake_faults` is replaced); an
    /// unchanged snapshot is not checked again, which keeps a statement's refresh to a read of
    /// the logs.
    pub async fn refresh(&self) -> Result<bool> {
        let mut versions = self.versions.lock().await;
        let mut snapshots = self.lake.snapshots(&AsOf::Latest).await?;
        let latest: Vec<Option<u64>> = snapshots.iter().map(|s| s.version).collect();
        if *versions == latest {
            return Ok(false);
        }
        let faults = crate::faults::quarantine(&mut snapshots).await?;
        let err = |source| Error::DataFusion { context: "refreshing the session".into(), source };
        for snapshot in &snapshots {
            self.ctx.deregister_table(format!("{}_all", snapshot.table.dir()).as_str()).map_err(err)?;
            register_table(&self.ctx, snapshot).await?;
        }
        self.ctx.deregister_table("lake_snapshot").map_err(err)?;
        register_versions(&self.ctx, &snapshots)?;
        crate::faults::register(&self.ctx, &faults, chrono::Utc::now())?;
        *self.faults.lock().unwrap_or_else(|e| e.into_inner()) = faults;
        self.plan_views(&self.queries).await?;
        *versions = latest;
        Ok(true)
    }

    /// Runs one read-only statement and collects the result.
    pub async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        let df = self.sql(sql).await?;
        df.collect().await.map_err(|source| Error::DataFusion { context: "query".into(), source })
    }
}

fn read_only() -> SQLOptions {
    SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false)
}

fn refusal(word: &str, source: datafusion::error::DataFusionError) -> Error {
    let msg = source.to_string();
    if msg.contains("DDL not supported") || msg.contains("DML not supported") || msg.contains("Statement not supported")
    {
        Error::ReadOnly(word.to_string())
    } else {
        Error::DataFusion { context: "query".into(), source }
    }
}

/// The text after the leading `--` comment lines (the header of a view file).
fn strip_comments(sql: &str) -> &str {
    let mut rest = sql.trim_start();
    while let Some(r) = rest.strip_prefix("--") {
        rest = r.split_once('\n').map_or("", |(_, after)| after).trim_start();
    }
    rest
}

fn first_word(sql: &str) -> String {
    sql.split_whitespace().next().unwrap_or("").to_uppercase()
}

/// Registers `<table>_all` over exactly the files of one Delta snapshot: an object store that
/// lists only those files (and reads through to the lake's store), under a URL of its own, read
/// by DataFusion's listing table with the Hive partition column as before.
async fn register_table(ctx: &SessionContext, snapshot: &TableSnapshot) -> Result<()> {
    let table = snapshot.table;
    let name = format!("{}_all", table.dir());
    let err = |source| Error::DataFusion { context: format!("registering table {name}"), source };
    // A URL scheme allows letters, digits, `+`, `-` and `.` only (`access_log` → `access-log`).
    let url = format!("alara-{}://snapshot/", table.dir().replace('_', "-"));
    let store_url =
        url::Url::parse(&url).map_err(|e| err(datafusion::error::DataFusionError::External(Box::new(e))))?;
    ctx.register_object_store(&store_url, snapshot.store());
    let mut options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    if let Some(key) = table.partition_key() {
        options = options.with_table_partition_cols(vec![(key.to_string(), DataType::Utf8)]);
    }
    ctx.register_listing_table(&name, &url, options, table_schema(table), None).await.map_err(err)
}

/// `lake_snapshot`: the Delta version of each table that the session reads.
fn register_versions(ctx: &SessionContext, snapshots: &[TableSnapshot]) -> Result<()> {
    let err = |source| Error::DataFusion { context: "registering lake_snapshot".into(), source };
    let schema = Arc::new(Schema::new(vec![
        Field::new("table_name", DataType::Utf8, false),
        Field::new("version", DataType::UInt64, true),
        Field::new("files", DataType::UInt64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from_iter_values(snapshots.iter().map(|s| s.table.dir()))),
            Arc::new(UInt64Array::from_iter(snapshots.iter().map(|s| s.version))),
            Arc::new(UInt64Array::from_iter_values(snapshots.iter().map(|s| s.files.len() as u64))),
        ],
    )
    .map_err(|e| err(e.into()))?;
    let mem = MemTable::try_new(schema, vec![vec![batch]]).map_err(err)?;
    ctx.register_table("lake_snapshot", Arc::new(mem)).map_err(err)?;
    Ok(())
}

/// Registers views in dependency order: a view whose inputs are not there yet is retried after
/// the others, so files need no numbering.
async fn register_views(ctx: &SessionContext, queries: &[Query]) -> Result<()> {
    let mut pending: Vec<&Query> = queries.iter().collect();
    loop {
        let mut failed = Vec::new();
        let mut errors = Vec::new();
        let before = pending.len();
        for q in pending {
            // The same read-only guard as typed SQL: `ctx.sql` would run a CREATE EXTERNAL TABLE
            // or COPY found in a view file (`--queries DIR`) while planning it.
            let planned = match ctx.sql_with_options(&q.sql, read_only()).await {
                Ok(df) => Ok(df.into_view()),
                Err(e) => match refusal(&first_word(strip_comments(&q.sql)), e) {
                    Error::ReadOnly(word) => {
                        return Err(Error::Invalid(format!(
                            "view file {}.sql: {word} refused: a view file holds one read-only SELECT",
                            q.name
                        )));
                    }
                    Error::DataFusion { source, .. } => Err(source),
                    other => return Err(other),
                },
            };
            match planned {
                Ok(view) => {
                    ctx.register_table(q.name.as_str(), view).map_err(|source| Error::DataFusion {
                        context: format!("registering view {}", q.name),
                        source,
                    })?;
                }
                Err(e) => {
                    errors.push(format!("{}: {e}", q.name));
                    failed.push(q);
                }
            }
        }
        if failed.is_empty() {
            return Ok(());
        }
        if failed.len() == before {
            return Err(Error::Views(errors.join("\n")));
        }
        pending = failed;
    }
}
