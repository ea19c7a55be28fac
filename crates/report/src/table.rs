//! Query results as the report reads them (the model's [`Table`], built by `alara-detect`), and
//! written out as CSV.

use std::fmt::Write as _;

pub use alara_model::table::{Row, Table, Value, cmp_values};

use crate::fmt::csv_float;

/// The table as CSV (RFC 4180: comma, double quotes, CRLF-free `\n` line ends), header first.
pub fn to_csv(t: &Table) -> String {
    let mut out = String::new();
    let header: Vec<String> = t.columns.iter().map(|c| csv_field(c)).collect();
    out.push_str(&header.join(","));
    out.push('\n');
    for row in &t.rows {
        let cells: Vec<String> = row.iter().map(csv_cell).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

fn csv_cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => csv_float(*f),
        Value::Text(s) => csv_field(s),
        Value::Time(_) | Value::Date(_) => v.plain_text(),
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
    use super::*;

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let t = Table::new(
            &["s", "t", "f"],
            vec![
                vec![Value::Text("a,b".into()), Value::Time(86_400_000_000), Value::Float(21.599999999999998)],
                vec![Value::Null, Value::Null, Value::Float(0.1 + 0.2)],
            ],
        );
        assert_eq!(to_csv(&t), "s,t,f\n\"a,b\",1970-01-02T00:00:00Z,21.6\n,,0.3\n");
    }
}
