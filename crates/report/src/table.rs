//! A query result as plain rows of [`Value`]s, converted once from Arrow record batches so the
//! rest of the crate never downcasts arrays, and written out as CSV.
//!
//! The conversion accepts every string flavour DataFusion hands back (`Utf8`, `LargeUtf8`,
//! `Utf8View`, dictionaries), every integer and float width, timestamps of any unit and time
//! zone (kept as UTC microseconds) and dates; anything else is kept as Arrow's display text.

use std::fmt::Write as _;

use arrow::array::{Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Schema, TimeUnit};
use arrow::util::display::array_value_to_string;

use crate::fmt::{csv_float, iso_date, iso_time};
use crate::{Error, Result};

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// Any integer.
    Int(i64),
    /// Any float or decimal.
    Float(f64),
    /// Any string (and the display text of types without a better mapping).
    Text(String),
    /// A timestamp as microseconds since the epoch, UTC.
    Time(i64),
    /// A date as days since the epoch.
    Date(i32),
}

/// Rows with named columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    /// Column names, in the query's order.
    pub columns: Vec<String>,
    /// The rows, in the query's order.
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    /// Builds a table from a schema and its batches (the schema gives the columns even when
    /// there is no batch).
    pub fn from_batches(schema: &Schema, batches: &[RecordBatch]) -> Result<Table> {
        let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let mut rows = Vec::new();
        for batch in batches {
            let converted: Vec<Vec<Value>> = batch.columns().iter().map(convert_column).collect::<Result<Vec<_>>>()?;
            for i in 0..batch.num_rows() {
                rows.push(converted.iter().map(|c| c[i].clone()).collect());
            }
        }
        Ok(Table { columns, rows })
    }

    /// A table from literal rows (tests, derived tables).
    pub fn new(columns: &[&str], rows: Vec<Vec<Value>>) -> Table {
        Table { columns: columns.iter().map(|c| c.to_string()).collect(), rows }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there is no row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Index of a column.
    pub fn col(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// Whether the table has a column.
    pub fn has(&self, name: &str) -> bool {
        self.col(name).is_some()
    }

    /// Iterates over rows as [`Row`]s.
    pub fn iter(&self) -> impl Iterator<Item = Row<'_>> {
        (0..self.rows.len()).map(move |i| Row { table: self, i })
    }

    /// Sorts the rows by the named columns (those the table has), then by every column, so the
    /// order is total and does not depend on how the query engine happened to return them.
    pub fn sort_by_columns(&mut self, keys: &[&str]) {
        let idx: Vec<usize> = keys.iter().filter_map(|k| self.col(k)).chain(0..self.columns.len()).collect();
        self.rows.sort_by(|a, b| {
            idx.iter().map(|&i| cmp_values(&a[i], &b[i])).find(|o| o.is_ne()).unwrap_or(std::cmp::Ordering::Equal)
        });
    }

    /// Keeps the rows for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(Row<'_>) -> bool) {
        let keep: Vec<bool> = self.iter().map(&mut keep).collect();
        let mut i = 0;
        self.rows.retain(|_| {
            i += 1;
            keep[i - 1]
        });
    }

    /// The table as CSV (RFC 4180: comma, double quotes, CRLF-free `\n` line ends), header first.
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        let header: Vec<String> = self.columns.iter().map(|c| csv_field(c)).collect();
        out.push_str(&header.join(","));
        out.push('\n');
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(csv_cell).collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }
}

/// A borrowed row with typed accessors by column name. A missing column reads as NULL, so a
/// view that lacks an optional column degrades to an empty cell rather than an error.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    table: &'a Table,
    i: usize,
}

impl<'a> Row<'a> {
    /// The raw value of a column.
    pub fn get(&self, name: &str) -> &'a Value {
        const NULL: &Value = &Value::Null;
        match self.table.col(name) {
            Some(c) => &self.table.rows[self.i][c],
            None => NULL,
        }
    }

    /// A string column (numbers and times are rendered as text).
    pub fn text(&self, name: &str) -> Option<String> {
        match self.get(name) {
            Value::Null => None,
            Value::Text(s) => Some(s.clone()),
            v => Some(csv_cell(v)),
        }
    }

    /// A string column, empty when NULL.
    pub fn str(&self, name: &str) -> String {
        self.text(name).unwrap_or_default()
    }

    /// A numeric column as f64.
    pub fn float(&self, name: &str) -> Option<f64> {
        match self.get(name) {
            Value::Float(f) if f.is_finite() => Some(*f),
            Value::Int(i) => Some(*i as f64),
            Value::Text(s) => s.parse().ok(),
            _ => None,
        }
    }

    /// An integer column.
    pub fn int(&self, name: &str) -> Option<i64> {
        match self.get(name) {
            Value::Int(i) => Some(*i),
            Value::Float(f) if f.is_finite() => Some(f.round() as i64),
            _ => None,
        }
    }

    /// A boolean column.
    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.get(name) {
            Value::Bool(b) => Some(*b),
            Value::Int(i) => Some(*i != 0),
            _ => None,
        }
    }

    /// A timestamp or date column as UTC microseconds.
    pub fn time(&self, name: &str) -> Option<i64> {
        match self.get(name) {
            Value::Time(t) => Some(*t),
            Value::Date(d) => Some(i64::from(*d) * 86_400_000_000),
            _ => None,
        }
    }
}

fn convert_column(array: &ArrayRef) -> Result<Vec<Value>> {
    let n = array.len();
    let conv = |to: &DataType| cast(array, to).map_err(|e| Error::Convert(format!("{}: {e}", array.data_type())));
    let out = match array.data_type() {
        DataType::Null => vec![Value::Null; n],
        DataType::Boolean => {
            let a = array.as_any().downcast_ref::<BooleanArray>().ok_or_else(|| Error::Convert("boolean".into()))?;
            (0..n).map(|i| if a.is_null(i) { Value::Null } else { Value::Bool(a.value(i)) }).collect()
        }
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => {
            let c = conv(&DataType::Int64)?;
            let a = c.as_any().downcast_ref::<Int64Array>().ok_or_else(|| Error::Convert("int64".into()))?;
            (0..n).map(|i| if a.is_null(i) { Value::Null } else { Value::Int(a.value(i)) }).collect()
        }
        DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => {
            let c = conv(&DataType::Float64)?;
            let a = c.as_any().downcast_ref::<Float64Array>().ok_or_else(|| Error::Convert("float64".into()))?;
            (0..n).map(|i| if a.is_null(i) { Value::Null } else { Value::Float(a.value(i)) }).collect()
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(..) => {
            let c = conv(&DataType::Utf8)?;
            let a = c.as_any().downcast_ref::<StringArray>().ok_or_else(|| Error::Convert("utf8".into()))?;
            (0..n).map(|i| if a.is_null(i) { Value::Null } else { Value::Text(stable_numbers(a.value(i))) }).collect()
        }
        DataType::Timestamp(_, _) => {
            // Casting to microseconds without a zone keeps the instant: Arrow stores UTC values.
            let c = conv(&DataType::Timestamp(TimeUnit::Microsecond, None))?;
            let a = c
                .as_any()
                .downcast_ref::<arrow::array::TimestampMicrosecondArray>()
                .ok_or_else(|| Error::Convert("timestamp".into()))?;
            (0..n).map(|i| if a.is_null(i) { Value::Null } else { Value::Time(a.value(i)) }).collect()
        }
        DataType::Date32 | DataType::Date64 => {
            let c = conv(&DataType::Date32)?;
            let a = c.as_any().downcast_ref::<Date32Array>().ok_or_else(|| Error::Convert("date32".into()))?;
            (0..n).map(|i| if a.is_null(i) { Value::Null } else { Value::Date(a.value(i)) }).collect()
        }
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => (0..n)
            .map(|i| {
                if array.is_null(i) {
                    Value::Null
                } else {
                    // Raw bytes are never copied into a report: rejects carry a masked raw_text.
                    Value::Text(String::from("(binary)"))
                }
            })
            .collect(),
        _ => (0..n)
            .map(|i| {
                if array.is_null(i) {
                    Ok(Value::Null)
                } else {
                    array_value_to_string(array, i).map(Value::Text).map_err(|e| Error::Convert(e.to_string()))
                }
            })
            .collect::<Result<Vec<_>>>()?,
    };
    Ok(out)
}

/// A total order on values: NULL first, then by type, then by value (floats by `total_cmp`).
pub fn cmp_values(a: &Value, b: &Value) -> std::cmp::Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Int(_) | Value::Float(_) => 2,
            Value::Date(_) | Value::Time(_) => 3,
            Value::Text(_) => 4,
        }
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Float(x), Value::Float(y)) => x.total_cmp(y),
        (Value::Int(x), Value::Float(y)) => (*x as f64).total_cmp(y),
        (Value::Float(x), Value::Int(y)) => x.total_cmp(&(*y as f64)),
        (Value::Time(x), Value::Time(y)) => x.cmp(y),
        (Value::Date(x), Value::Date(y)) => x.cmp(y),
        (Value::Date(x), Value::Time(y)) => (i64::from(*x) * 86_400_000_000).cmp(y),
        (Value::Time(x), Value::Date(y)) => x.cmp(&(i64::from(*y) * 86_400_000_000)),
        (Value::Text(x), Value::Text(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Rewrites long floating-point literals inside a text (`p 4.402492246628396e-15`, `0.000661947247815`)
/// with four significant digits. Views print statistics into their evidence text at full
/// precision, and the last digits of a parallel sum vary from run to run: shortened, the text is
/// the same on every run, and no less readable. Integers, dates and identifiers are untouched.
pub fn stable_numbers(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        let starts = b[i].is_ascii_digit() && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.'));
        if !starts {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let mut frac = 0;
        if j + 1 < b.len() && b[j] == b'.' && b[j + 1].is_ascii_digit() {
            j += 1;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
                frac += 1;
            }
        }
        let mut exp = false;
        if frac > 0 && j < b.len() && (b[j] == b'e' || b[j] == b'E') {
            let mut k = j + 1;
            if k < b.len() && (b[k] == b'-' || b[k] == b'+') {
                k += 1;
            }
            if k < b.len() && b[k].is_ascii_digit() {
                while k < b.len() && b[k].is_ascii_digit() {
                    k += 1;
                }
                j = k;
                exp = true;
            }
        }
        let long = frac >= 7 || (exp && frac >= 4);
        let followed_by_word = j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'.');
        if long
            && !followed_by_word
            && let Ok(x) = text[i..j].parse::<f64>()
        {
            out.push_str(&text[copied..i]);
            out.push_str(&significant(x, 4));
            copied = j;
        }
        i = j.max(i + 1);
    }
    out.push_str(&text[copied..]);
    out
}

/// `x` with `digits` significant digits, in scientific notation below 1e-4.
fn significant(x: f64, digits: i32) -> String {
    if x == 0.0 || !x.is_finite() {
        return "0".to_string();
    }
    let mag = x.abs().log10().floor() as i32;
    if mag < -4 {
        return format!("{:.*e}", (digits - 1) as usize, x);
    }
    let decimals = (digits - 1 - mag).max(0) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

fn csv_cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => csv_float(*f),
        Value::Text(s) => csv_field(s),
        Value::Time(t) => iso_time(*t),
        Value::Date(d) => iso_date(i64::from(*d) * 86_400_000_000),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('"');
        for ch in s.chars() {
            if ch == '"' {
                out.push('"');
            }
            out.push(ch);
        }
        out.push('"');
        out
    } else {
        s.to_string()
    }
}

/// Writes a short description of a table (for error messages and debugging).
pub fn describe(t: &Table) -> String {
    let mut s = String::new();
    let _ = write!(s, "{} rows: {}", t.len(), t.columns.join(", "));
    s
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{StringViewArray, TimestampMicrosecondArray};
    use arrow::datatypes::Field;

    use super::*;

    #[test]
    fn long_floats_in_text_are_shortened() {
        assert_eq!(
            stable_numbers("robust z 7.8, p 4.402492246628396e-15; run: 0.0006619472478151841 of 2025-10-01"),
            "robust z 7.8, p 4.402e-15; run: 0.0006619 of 2025-10-01"
        );
        assert_eq!(stable_numbers("DSL-WB-000067-202605 20.6 mSv v0.1.0"), "DSL-WB-000067-202605 20.6 mSv v0.1.0");
        assert_eq!(stable_numbers("12.3456789 mSv"), "12.35 mSv");
        assert_eq!(stable_numbers("é 1.23456789"), "é 1.235");
    }

    #[test]
    fn batches_of_every_common_type_convert() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8View, true),
            Field::new("t", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
            Field::new("f", DataType::Float64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringViewArray::from(vec![Some("a,b"), None])),
                Arc::new(TimestampMicrosecondArray::from(vec![Some(86_400_000_000), None]).with_timezone("UTC")),
                Arc::new(Float64Array::from(vec![Some(21.599999999999998), Some(0.1 + 0.2)])),
            ],
        )
        .unwrap();
        let t = Table::from_batches(&schema, &[batch]).unwrap();
        assert_eq!(
            t.rows[0],
            vec![Value::Text("a,b".into()), Value::Time(86_400_000_000), Value::Float(21.599999999999998)]
        );
        assert_eq!(t.to_csv(), "s,t,f\n\"a,b\",1970-01-02T00:00:00Z,21.6\n,,0.3\n");
        let r = t.iter().next().unwrap();
        assert_eq!(r.time("t"), Some(86_400_000_000));
        assert_eq!(r.float("missing"), None);
    }
}
