//! A query result as plain rows of [`Value`]s: what `alara-detect` hands to the report, so the
//! report reads named, typed cells and never sees Arrow or SQL.
//!
//! The text forms here ([`plain_float`], [`iso_time`], [`iso_date`]) are the stable ones every
//! output uses: two runs over the same lake print the same bytes even when a parallel SQL sum
//! differs in its last binary digit.

use chrono::{DateTime, Utc};

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
}

impl Value {
    /// The value as plain text, as CSV writes it unquoted: empty for NULL, floats with at most
    /// six decimals, times and dates in ISO 8601 (UTC).
    pub fn plain_text(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => plain_float(*f),
            Value::Text(s) => s.clone(),
            Value::Time(t) => iso_time(*t),
            Value::Date(d) => iso_date(i64::from(*d) * 86_400_000_000),
        }
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
            v => Some(v.plain_text()),
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

/// Rounds to `decimals` places, mapping -0 to 0.
pub fn round(x: f64, decimals: i32) -> f64 {
    let p = 10f64.powi(decimals);
    let r = (x * p).round() / p;
    if r == 0.0 { 0.0 } else { r }
}

/// A float for CSV and JSON: at most six decimals, trailing zeros dropped (`21.6`, `0.05`, `3`).
pub fn plain_float(x: f64) -> String {
    if !x.is_finite() {
        return String::new();
    }
    let s = format!("{:.6}", round(x, 6));
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".to_string() } else { s.to_string() }
}

fn datetime(micros: i64) -> Option<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp_micros(micros)
}

/// An instant as ISO 8601 UTC (`2026-05-31T10:02:00Z`, microseconds only when present).
pub fn iso_time(micros: i64) -> String {
    match datetime(micros) {
        Some(t) if micros % 1_000_000 == 0 => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        None => micros.to_string(),
    }
}

/// The UTC date of an instant (`2026-05-31`).
pub fn iso_date(micros: i64) -> String {
    match datetime(micros) {
        Some(t) => t.format("%Y-%m-%d").to_string(),
        None => micros.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_read_typed_cells_and_missing_columns_as_null() {
        let t = Table::new(&["f", "t"], vec![vec![Value::Float(21.599999999999998), Value::Time(86_400_000_000)]]);
        let r = t.iter().next().unwrap();
        assert_eq!(r.text("f").as_deref(), Some("21.6"));
        assert_eq!(r.text("t").as_deref(), Some("1970-01-02T00:00:00Z"));
        assert_eq!(r.float("missing"), None);
        assert_eq!(plain_float(-0.0000001), "0");
    }
}
