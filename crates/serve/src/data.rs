//! The lake, as the pages see it: the report's queries run live in a detection session, folded
//! by the report's model, and kept for a short while so that clicking around does not re-run
//! every detection. Writes made through the application (acknowledgements, explanations) drop
//! the cached copy so the next page shows them.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alara_detect::{Session, SessionOptions};
use alara_lake::AsOf;
use alara_model::ReportPeriod as Bounds;
use alara_report::Table;
use alara_report::model::{self, Attention, Department, Finding, Monthly, Person, SiteKey, Thresholds, Totals};
use chrono::NaiveDate;

use crate::Result;
use crate::engine::Engine;

/// Opens a read-only detection session over the lake. The one place where the web application
/// opens the lake (the SQL box and the pages go through here). Call it, and use the session,
/// on the query threads ([`Engine::run`]).
pub async fn open_session(lake: &Path, options: &SessionOptions) -> Result<Session> {
    Ok(Session::open(lake, options).await?)
}

/// Everything the pages show, as of a date.
#[derive(Debug)]
pub struct Live {
    /// The date the windows end at.
    pub as_of: NaiveDate,
    /// Bounds of the report period.
    pub bounds: Bounds,
    /// Query results by name ([`gather::queries`]).
    pub tables: BTreeMap<String, Table>,
    /// Queries that could not run, and why.
    pub unavailable: BTreeMap<String, String>,
    /// Open findings, worst first.
    pub findings: Vec<Finding>,
    /// Workers needing attention, worst first.
    pub attention: Vec<Attention>,
    /// Worker reference data.
    pub people: BTreeMap<String, Person>,
    /// Levels in force.
    pub thresholds: Thresholds,
    /// Dose totals per worker, quantity and body site.
    pub totals: BTreeMap<SiteKey, Totals>,
    /// Monthly legal dose per worker, quantity and body site.
    pub monthly: Monthly,
    /// Department compliance.
    pub departments: Vec<Department>,
    /// When it was read.
    pub read_at: chrono::DateTime<chrono::Utc>,
}

impl Live {
    /// A table by query name (empty when unavailable).
    pub fn table(&self, name: &str) -> Table {
        self.tables.get(name).cloned().unwrap_or_default()
    }
}

/// Runs the report's queries as of `as_of` ([`alara_detect::gather`], exactly as `alara report`
/// does) and folds them with the report's model (on the query threads: see [`Cache::get`]).
pub async fn gather(lake: &Path, options: &SessionOptions, as_of: NaiveDate) -> Result<Live> {
    let g = alara_detect::gather::gather(lake, options, &AsOf::Latest, as_of, None).await?;
    for (name, error) in &g.failed {
        tracing::warn!(query = name.as_str(), error = error.as_str(), "query failed");
    }
    let tables = g.tables;
    let mut unavailable = g.unavailable;
    unavailable.extend(g.failed);
    let mut findings = model::findings(&tables);
    findings.sort_by(model::finding_order);
    let attention = model::attention(&findings);
    Ok(Live {
        as_of,
        bounds: Bounds::new(as_of),
        people: model::people(&tables),
        thresholds: Thresholds::from_tables(&tables),
        totals: model::totals(&tables),
        monthly: model::monthly(&tables),
        departments: model::departments(&tables),
        findings,
        attention,
        tables,
        unavailable,
        read_at: chrono::Utc::now(),
    })
}

/// The last [`Live`] read, for a few seconds.
pub struct Cache {
    ttl: Duration,
    slot: tokio::sync::Mutex<Option<(Instant, Arc<Live>)>>,
}

impl Cache {
    /// A cache keeping results for `ttl`.
    pub fn new(ttl: Duration) -> Cache {
        Cache { ttl, slot: tokio::sync::Mutex::new(None) }
    }

    /// The cached data, or fresh data when older than the time to live or of another date.
    /// One reader at a time runs the queries; the others wait for its result.
    pub async fn get(
        &self,
        engine: &Engine,
        lake: &Path,
        options: &SessionOptions,
        as_of: NaiveDate,
    ) -> Result<Arc<Live>> {
        let mut slot = self.slot.lock().await;
        if let Some((at, live)) = slot.as_ref()
            && at.elapsed() < self.ttl
            && live.as_of == as_of
        {
            return Ok(Arc::clone(live));
        }
        let (lake, options) = (lake.to_path_buf(), options.clone());
        let live = Arc::new(engine.run(async move { gather(&lake, &options, as_of).await }).await??);
        *slot = Some((Instant::now(), Arc::clone(&live)));
        Ok(live)
    }

    /// Forgets the cached data (after a write).
    pub async fn invalidate(&self) {
        *self.slot.lock().await = None;
    }
}
