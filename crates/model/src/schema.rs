//! Arrow schemas of the lake tables and conversion of validated rows into record batches.
//!
//! Timestamps are microseconds in UTC, as the contract asks, so DuckDB, pyarrow and Spark read
//! them as-is. Enum columns are plain strings with the canonical contract spelling.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Float64Builder, Int32Builder, Int64Builder, RecordBatch,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use chrono::{DateTime, NaiveDate, Utc};

use crate::origin::{Origin, Reject};
use crate::records::{Procedure, Reading, Worker};

/// The lake's timestamp type: microseconds, UTC.
pub fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn s(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}
fn ts(name: &str, nullable: bool) -> Field {
    Field::new(name, ts_type(), nullable)
}
fn f64f(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Float64, nullable)
}

/// Schema of `readings` files.
pub fn readings_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        s("reading_id", false),
        Field::new("revision", DataType::Int64, false),
        s("source", false),
        s("worker_id", false),
        s("employer_siret", false),
        s("site", true),
        s("department", false),
        s("dosimeter_id", false),
        s("monitoring", false),
        s("position", true),
        s("laterality", true),
        s("quantity", false),
        s("status", false),
        f64f("dose_msv", true),
        f64f("recording_threshold_msv", false),
        ts("period_start", false),
        ts("period_end", false),
        s("radiation", true),
        ts("ingested_at", false),
        s("origin", false),
    ]))
}

/// Schema of `workers` files.
pub fn workers_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        s("worker_id", false),
        s("employer_siret", false),
        s("department", false),
        s("role", false),
        s("category", false),
        Field::new("pregnancy_declared_on", DataType::Date32, true),
        Field::new("apprentice", DataType::Boolean, false),
        ts("valid_from", false),
        ts("ingested_at", false),
        s("origin", false),
    ]))
}

/// Schema of `procedures` files.
pub fn procedures_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        s("procedure_id", false),
        s("worker_id", false),
        s("department", false),
        s("room", true),
        s("procedure_type", true),
        ts("started_at", false),
        ts("ended_at", false),
        f64f("fluoroscopy_s", true),
        f64f("dap_gycm2", true),
        ts("ingested_at", false),
        s("origin", false),
    ]))
}

/// Schema of `rejects` files.
pub fn rejects_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        s("kind", false),
        s("origin", false),
        s("file", true),
        Field::new("line", DataType::Int64, true),
        s("topic", true),
        Field::new("partition", DataType::Int32, true),
        Field::new("offset", DataType::Int64, true),
        s("reason", false),
        Field::new("raw", DataType::Binary, false),
        s("raw_text", false),
        ts("rejected_at", false),
    ]))
}

/// Schema of `explanations` files: why a finding for a worker and period is not a concern,
/// recorded by `alara explain`. `decision` (nullable, added for the register of significant
/// events; files written before it read as NULL) is `declared` or `not_esr` when the entry
/// records whether a possible significant event was declared.
pub fn explanations_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        s("explanation_id", false),
        s("worker_id", false),
        ts("period_start", false),
        ts("period_end", false),
        s("signal", true),
        s("reason", false),
        s("author", false),
        ts("recorded_at", false),
        s("decision", true),
    ]))
}

/// Schema of `access_log` files, written by `alara serve`: who viewed which worker's page and
/// when, so an advisor can answer "who looked at this person's doses" (`SELECT * FROM
/// access_log_all`). Append-only, one row per page view.
pub fn access_log_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        ts("viewed_at", false),
        s("user_name", false),
        s("user_role", false),
        s("worker_id", false),
        s("page", false),
    ]))
}

/// Schema of `alerts` files. The table is an append-only outbox of events: `raised` when a rule
/// fires (with the alert JSON in `payload`, written before any delivery) together with one
/// `queued` row per hook that owes it, then `delivered`/`failed` per hook, `acknowledged` by a
/// person (`author`, `note`) and `withdrawn` when corrected results no longer support it (why in
/// `note`). The alert's columns are repeated on every event. The current state of an alert is
/// derived from its events (`queries/alert_status.sql`).
pub fn alerts_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        s("alert_id", false),
        s("event", false),
        s("hook", true),
        s("worker_id", false),
        s("department", true),
        s("rule", false),
        s("level", false),
        s("quantity", true),
        f64f("dose_msv", true),
        f64f("threshold_msv", true),
        ts("window_start", true),
        ts("window_end", true),
        s("summary", true),
        s("payload", true),
        s("author", true),
        s("note", true),
        ts("event_at", false),
    ]))
}

fn micros(t: &DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn days(d: &NaiveDate) -> i32 {
    // Days since 1970-01-01; the epoch date is always valid.
    (*d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}

/// A validated row together with when and from where it was ingested.
#[derive(Debug, Clone)]
pub struct Stamped<T> {
    /// The row.
    pub row: T,
    /// Ingest time.
    pub ingested_at: DateTime<Utc>,
    /// Source position.
    pub origin: Origin,
}

macro_rules! col {
    ($builder:ty, $rows:expr, |$r:ident| $value:expr) => {{
        let mut b = <$builder>::new();
        for $r in $rows {
            b.append_option($value);
        }
        Arc::new(b.finish()) as ArrayRef
    }};
}

/// Builds a `readings` batch.
pub fn readings_batch(rows: &[Stamped<Reading>]) -> Result<RecordBatch, ArrowError> {
    let tz = "UTC";
    RecordBatch::try_new(
        readings_schema(),
        vec![
            col!(StringBuilder, rows, |r| Some(&r.row.reading_id)),
            col!(Int64Builder, rows, |r| Some(r.row.revision)),
            col!(StringBuilder, rows, |r| Some(&r.row.source)),
            col!(StringBuilder, rows, |r| Some(&r.row.worker_id)),
            col!(StringBuilder, rows, |r| Some(&r.row.employer_siret)),
            col!(StringBuilder, rows, |r| r.row.site.as_ref()),
            col!(StringBuilder, rows, |r| Some(&r.row.department)),
            col!(StringBuilder, rows, |r| Some(&r.row.dosimeter_id)),
            col!(StringBuilder, rows, |r| Some(r.row.monitoring.as_str())),
            col!(StringBuilder, rows, |r| r.row.position.map(|p| p.as_str())),
            col!(StringBuilder, rows, |r| r.row.laterality.map(|p| p.as_str())),
            col!(StringBuilder, rows, |r| Some(r.row.quantity.as_str())),
            col!(StringBuilder, rows, |r| Some(r.row.status.as_str())),
            col!(Float64Builder, rows, |r| r.row.dose_msv),
            col!(Float64Builder, rows, |r| Some(r.row.recording_threshold_msv)),
            tz_col(rows.iter().map(|r| micros(&r.row.period_start)), tz),
            tz_col(rows.iter().map(|r| micros(&r.row.period_end)), tz),
            col!(StringBuilder, rows, |r| r.row.radiation.map(|p| p.as_str())),
            tz_col(rows.iter().map(|r| micros(&r.ingested_at)), tz),
            col!(StringBuilder, rows, |r| Some(r.origin.to_string())),
        ],
    )
}

/// Builds a `workers` batch.
pub fn workers_batch(rows: &[Stamped<Worker>]) -> Result<RecordBatch, ArrowError> {
    RecordBatch::try_new(
        workers_schema(),
        vec![
            col!(StringBuilder, rows, |r| Some(&r.row.worker_id)),
            col!(StringBuilder, rows, |r| Some(&r.row.employer_siret)),
            col!(StringBuilder, rows, |r| Some(&r.row.department)),
            col!(StringBuilder, rows, |r| Some(r.row.role.as_str())),
            col!(StringBuilder, rows, |r| Some(r.row.category.as_str())),
            col!(Date32Builder, rows, |r| r.row.pregnancy_declared_on.as_ref().map(days)),
            col!(BooleanBuilder, rows, |r| Some(r.row.apprentice)),
            tz_col(rows.iter().map(|r| micros(&r.row.valid_from)), "UTC"),
            tz_col(rows.iter().map(|r| micros(&r.ingested_at)), "UTC"),
            col!(StringBuilder, rows, |r| Some(r.origin.to_string())),
        ],
    )
}

/// Builds a `procedures` batch.
pub fn procedures_batch(rows: &[Stamped<Procedure>]) -> Result<RecordBatch, ArrowError> {
    RecordBatch::try_new(
        procedures_schema(),
        vec![
            col!(StringBuilder, rows, |r| Some(&r.row.procedure_id)),
            col!(StringBuilder, rows, |r| Some(&r.row.worker_id)),
            col!(StringBuilder, rows, |r| Some(&r.row.department)),
            col!(StringBuilder, rows, |r| r.row.room.as_ref()),
            col!(StringBuilder, rows, |r| r.row.procedure_type.as_ref()),
            tz_col(rows.iter().map(|r| micros(&r.row.started_at)), "UTC"),
            tz_col(rows.iter().map(|r| micros(&r.row.ended_at)), "UTC"),
            col!(Float64Builder, rows, |r| r.row.fluoroscopy_s),
            col!(Float64Builder, rows, |r| r.row.dap_gycm2),
            tz_col(rows.iter().map(|r| micros(&r.ingested_at)), "UTC"),
            col!(StringBuilder, rows, |r| Some(r.origin.to_string())),
        ],
    )
}

/// Builds a `rejects` batch.
pub fn rejects_batch(rows: &[Reject]) -> Result<RecordBatch, ArrowError> {
    let file = |o: &Origin| match o {
        Origin::File { path, .. } => Some(path.clone()),
        _ => None,
    };
    let line = |o: &Origin| match o {
        Origin::File { line, .. } => Some(*line as i64),
        _ => None,
    };
    let topic = |o: &Origin| match o {
        Origin::Kafka { topic, .. } => Some(topic.clone()),
        _ => None,
    };
    let partition = |o: &Origin| match o {
        Origin::Kafka { partition, .. } => Some(*partition),
        _ => None,
    };
    let offset = |o: &Origin| match o {
        Origin::Kafka { offset, .. } => Some(*offset),
        _ => None,
    };
    RecordBatch::try_new(
        rejects_schema(),
        vec![
            col!(StringBuilder, rows, |r| Some(r.kind.table())),
            col!(StringBuilder, rows, |r| Some(r.origin.to_string())),
            col!(StringBuilder, rows, |r| file(&r.origin)),
            col!(Int64Builder, rows, |r| line(&r.origin)),
            col!(StringBuilder, rows, |r| topic(&r.origin)),
            col!(Int32Builder, rows, |r| partition(&r.origin)),
            col!(Int64Builder, rows, |r| offset(&r.origin)),
            col!(StringBuilder, rows, |r| Some(&r.reason)),
            col!(BinaryBuilder, rows, |r| Some(&r.raw)),
            col!(StringBuilder, rows, |r| Some(String::from_utf8_lossy(&r.raw))),
            tz_col(rows.iter().map(|r| micros(&r.rejected_at)), "UTC"),
        ],
    )
}

fn tz_col(values: impl Iterator<Item = i64>, tz: &str) -> ArrayRef {
    let mut b = TimestampMicrosecondBuilder::new().with_timezone(tz);
    for v in values {
        b.append_value(v);
    }
    Arc::new(b.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enums::*;

    #[test]
    fn reading_batch_matches_schema() {
        let t = DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        let row = Reading {
            reading_id: "r".into(),
            revision: 1,
            source: "LAB".into(),
            worker_id: "w".into(),
            employer_siret: "73282932000074".into(),
            site: None,
            department: "d".into(),
            dosimeter_id: "x".into(),
            monitoring: Monitoring::Passive,
            position: Some(Position::Chest),
            laterality: None,
            quantity: Quantity::Hp10,
            status: Status::Measured,
            dose_msv: Some(0.2),
            recording_threshold_msv: 0.05,
            period_start: t,
            period_end: t,
            radiation: None,
        };
        let b = readings_batch(&[Stamped { row, ingested_at: t, origin: Origin::File { path: "f".into(), line: 2 } }])
            .unwrap();
        assert_eq!(b.num_rows(), 1);
        assert_eq!(b.schema(), readings_schema());
    }
}
