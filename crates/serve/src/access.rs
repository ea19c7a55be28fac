//! The access log: who viewed which worker's page, written to the lake's `access_log` table
//! before the page is sent, through the lake's ordinary write path (one small Parquet file per
//! view, like an explanation). Health data are shown only if the view could be recorded, so the
//! log has no gaps. Query it with `SELECT * FROM access_log_all ORDER BY viewed_at`.

use std::sync::Arc;

use alara_lake::{Lake, Table, WriteOptions};
use arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampMicrosecondArray};
use chrono::{DateTime, Utc};
use sha2::Digest;

use crate::{Error, Result};

/// Appends one view to the access log.
pub fn record(lake: &Lake, at: DateTime<Utc>, user: &str, role: &str, worker_id: &str, page: &str) -> Result<()> {
    let s = |v: &str| -> ArrayRef { Arc::new(StringArray::from(vec![v])) };
    let batch = RecordBatch::try_new(
        alara_model::schema::access_log_schema(),
        vec![
            Arc::new(TimestampMicrosecondArray::from(vec![at.timestamp_micros()]).with_timezone("UTC")),
            s(user),
            s(role),
            s(worker_id),
            s(page),
        ],
    )
    .map_err(|e| Error::Invalid(e.to_string()))?;
    // A name unique per view: time, user and worker hashed (two views in the same microsecond
    // by the same user of the same worker are the same view).
    let mut h = sha2::Sha256::new();
    for part in [at.to_rfc3339().as_str(), user, worker_id, page] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let name = format!("access-{}-{}", at.format("%Y%m%dT%H%M%S%6f"), &hex::encode(h.finalize())[..12]);
    lake.write(Table::AccessLog, None, &name, &[batch], &WriteOptions::default())?;
    Ok(())
}
