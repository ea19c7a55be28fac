//! Reading lake tables back without a query engine: the start-up replay of `readings`, `workers`
//! and the `alerts` outbox, and the commits other writers add while ingest runs, read Parquet
//! directly, column by column, so that the alert engine depends on neither DataFusion nor the SQL
//! views (whose identity rules it re-applies itself). Files are read through the lake's object
//! store, so a lake on `s3://` works as a local one does.
//!
//! A data file that cannot be decoded (truncated, corrupt) is logged, counted in
//! [`unreadable_files`] and skipped: one bad file must not stop every ingest process. The rows
//! it held are still in the lake's history for an operator to restore; `alara sql` sessions leave
//! the same file out (when its size or footer gives it away) and list it in `lake_faults`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use alara_lake::{AsOf, Lake, Table};
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::{Error, Result};

static UNREADABLE: AtomicU64 = AtomicU64::new(0);

/// Data files skipped because they could not be decoded, since the process started.
pub fn unreadable_files() -> u64 {
    UNREADABLE.load(Ordering::Relaxed)
}

/// Calls `f` with every batch of every file of a table's latest snapshot, files in path order,
/// reading only `columns` (a column missing from an older file reads as nulls). Returns the
/// Delta version read (`None`: the table has no commit).
pub fn for_each_batch(
    lake: &Lake,
    table: Table,
    columns: &[&str],
    mut f: impl FnMut(&Columns) -> Result<()>,
) -> Result<Option<u64>> {
    let lake_err = |path: PathBuf| move |e: alara_lake::Error| Error::ReadLake { path, reason: e.to_string() };
    let snapshot = lake.snapshot(table, &AsOf::Latest).map_err(lake_err(lake.table_dir(table)))?;
    for file in &snapshot.files {
        let path = lake.table_dir(table).join(file.location.as_ref());
        // A file a vacuum removed since the snapshot was taken: nothing to read.
        let Some(bytes) = snapshot.read(file).map_err(lake_err(path.clone()))? else { continue };
        read_file(&path, bytes, columns, &mut f)?;
    }
    Ok(snapshot.version)
}

/// The same over some files of a table (paths relative to the table, as in its log), e.g. what
/// other writers' commits added.
pub fn for_each_batch_of(
    lake: &Lake,
    table: Table,
    files: &[String],
    columns: &[&str],
    mut f: impl FnMut(&Columns) -> Result<()>,
) -> Result<()> {
    for file in files {
        let path = lake.table_dir(table).join(file);
        let bytes = lake
            .read_data_file(table, file)
            .map_err(|e| Error::ReadLake { path: path.clone(), reason: e.to_string() })?;
        let Some(bytes) = bytes else { continue };
        read_file(&path, bytes, columns, &mut f)?;
    }
    Ok(())
}

fn read_file(path: &Path, bytes: Bytes, columns: &[&str], f: &mut impl FnMut(&Columns) -> Result<()>) -> Result<()> {
    let decoded = (|| -> std::result::Result<Vec<RecordBatch>, String> {
        let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(|e| e.to_string())?;
        let mask = ProjectionMask::columns(builder.parquet_schema(), columns.iter().copied());
        let reader = builder.with_projection(mask).with_batch_size(8192).build().map_err(|e| e.to_string())?;
        reader.collect::<std::result::Result<Vec<_>, _>>().map_err(|e| e.to_string())
    })();
    let batches = match decoded {
        Ok(batches) => batches,
        Err(e) => {
            UNREADABLE.fetch_add(1, Ordering::Relaxed);
            tracing::error!(file = %path.display(), reason = %e, "unreadable lake file skipped");
            return Ok(());
        }
    };
    for batch in batches {
        f(&Columns { batch, path })?;
    }
    Ok(())
}

/// One batch, with typed access by column name.
pub struct Columns<'a> {
    batch: RecordBatch,
    path: &'a Path,
}

/// A column read as text.
pub struct Text(Option<ArrayRef>);

impl Text {
    /// The value at `i`, `None` when null or absent.
    pub fn get(&self, i: usize) -> Option<&str> {
        let a = self.0.as_ref()?;
        if a.is_null(i) {
            return None;
        }
        // `text()` casts every string column to Utf8, so this downcast holds.
        Some(a.as_string::<i32>().value(i))
    }
}

impl Columns<'_> {
    /// Rows in the batch.
    pub fn len(&self) -> usize {
        self.batch.num_rows()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.batch.num_rows() == 0
    }

    fn col(&self, name: &str, want: &DataType) -> Result<Option<ArrayRef>> {
        let Some(c) = self.batch.column_by_name(name) else { return Ok(None) };
        if c.data_type() == want {
            return Ok(Some(Arc::clone(c)));
        }
        arrow::compute::cast(c, want)
            .map(Some)
            .map_err(|e| Error::ReadLake { path: self.path.to_path_buf(), reason: format!("column {name}: {e}") })
    }

    /// A string column (Utf8, LargeUtf8 or Utf8View in the file).
    pub fn text(&self, name: &str) -> Result<Text> {
        Ok(Text(self.col(name, &DataType::Utf8)?))
    }

    /// A float column.
    pub fn f64(&self, name: &str) -> Result<impl Fn(usize) -> Option<f64>> {
        let c = self.col(name, &DataType::Float64)?;
        Ok(move |i| c.as_ref().filter(|a| !a.is_null(i)).map(|a| a.as_primitive::<Float64Type>().value(i)))
    }

    /// An integer column.
    pub fn i64(&self, name: &str) -> Result<impl Fn(usize) -> Option<i64>> {
        let c = self.col(name, &DataType::Int64)?;
        Ok(move |i| c.as_ref().filter(|a| !a.is_null(i)).map(|a| a.as_primitive::<Int64Type>().value(i)))
    }

    /// A boolean column.
    pub fn bool(&self, name: &str) -> Result<impl Fn(usize) -> Option<bool>> {
        let c = self.col(name, &DataType::Boolean)?;
        Ok(move |i| c.as_ref().filter(|a| !a.is_null(i)).map(|a| a.as_boolean().value(i)))
    }

    /// A timestamp column (any unit or zone, read as UTC).
    pub fn ts(&self, name: &str) -> Result<impl Fn(usize) -> Option<DateTime<Utc>>> {
        let c = self.col(name, &DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, None))?;
        Ok(move |i| {
            c.as_ref()
                .filter(|a| !a.is_null(i))
                .and_then(|a| DateTime::from_timestamp_micros(a.as_primitive::<TimestampMicrosecondType>().value(i)))
        })
    }

    /// A date column.
    pub fn date(&self, name: &str) -> Result<impl Fn(usize) -> Option<NaiveDate>> {
        let c = self.col(name, &DataType::Date32)?;
        Ok(move |i| {
            c.as_ref().filter(|a| !a.is_null(i)).and_then(|a| {
                let days = a.as_primitive::<Date32Type>().value(i);
                NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_signed(chrono::Duration::days(days.into()))
            })
        })
    }
}
