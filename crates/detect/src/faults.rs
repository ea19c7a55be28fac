//! `lake_faults`: the data files a session left out because they failed the lake's integrity
//! check (see `alara_lake::faults`), as a table an advisor can query.
//!
//! A session checks its snapshot when it opens (and when [`crate::Session::refresh`] moves to a
//! newer one): a truncated or corrupt file is quarantined from every query, logged and listed
//! here, and the queries answer from the readable files. The table is always registered, empty
//! when the lake is healthy, so a monitoring query never fails on a healthy lake.

use std::sync::Arc;

use alara_lake::{FileFault, TableSnapshot};
use arrow::array::{RecordBatch, StringArray, TimestampMicrosecondArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use chrono::{DateTime, Utc};
use datafusion::datasource::MemTable;
use datafusion::execution::context::SessionContext;

use crate::{Error, Result};

/// The name of the table.
pub const LAKE_FAULTS: &str = "lake_faults";

/// Checks every snapshot's files, takes the faulty ones out of the snapshots and returns them,
/// each logged once.
pub(crate) async fn quarantine(snapshots: &mut [TableSnapshot]) -> Result<Vec<FileFault>> {
    let mut faults = Vec::new();
    for snapshot in snapshots.iter_mut() {
        faults.extend(snapshot.quarantine().await?);
    }
    for f in &faults {
        tracing::warn!(
            table = f.table.dir(),
            file = %f.file,
            size_in_log = f.size_in_log,
            size_on_disk = ?f.size_on_disk,
            problem = %f.problem,
            "lake file quarantined"
        );
    }
    Ok(faults)
}

/// Registers (or replaces) `lake_faults`: one row per quarantined file, checked at `checked_at`.
pub(crate) fn register(ctx: &SessionContext, faults: &[FileFault], checked_at: DateTime<Utc>) -> Result<()> {
    let err = |source| Error::DataFusion { context: format!("registering {LAKE_FAULTS}"), source };
    let schema = Arc::new(Schema::new(vec![
        Field::new("table_name", DataType::Utf8, false),
        Field::new("file", DataType::Utf8, false),
        Field::new("size_in_log", DataType::UInt64, false),
        Field::new("size_on_disk", DataType::UInt64, true),
        Field::new("problem", DataType::Utf8, false),
        Field::new("checked_at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
    ]));
    let at = checked_at.timestamp_micros();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from_iter_values(faults.iter().map(|f| f.table.dir()))),
            Arc::new(StringArray::from_iter_values(faults.iter().map(|f| f.file.as_str()))),
            Arc::new(UInt64Array::from_iter_values(faults.iter().map(|f| f.size_in_log))),
            Arc::new(UInt64Array::from_iter(faults.iter().map(|f| f.size_on_disk))),
            Arc::new(StringArray::from_iter_values(faults.iter().map(|f| f.problem.to_string()))),
            Arc::new(TimestampMicrosecondArray::from_iter_values(faults.iter().map(|_| at)).with_timezone("UTC")),
        ],
    )
    .map_err(|e| err(e.into()))?;
    let mem = MemTable::try_new(schema, vec![vec![batch]]).map_err(err)?;
    ctx.deregister_table(LAKE_FAULTS).map_err(err)?;
    ctx.register_table(LAKE_FAULTS, Arc::new(mem)).map_err(err)?;
    Ok(())
}
