//! A record as it arrives, before validation: named fields with text, number, boolean or null values.
//!
//! JSON Lines and CSV rows both decode into [`Fields`], so one set of validation rules serves every
//! input form (files and Kafka alike).

use std::collections::BTreeMap;

/// One raw value. CSV only produces `Text` and `Null` (an empty cell).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Absent, JSON `null`, or an empty CSV cell.
    Null,
    /// A string (CSV cells are always strings).
    Text(String),
    /// A JSON number.
    Number(f64),
    /// A JSON boolean.
    Bool(bool),
}

/// The named fields of one raw record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields(pub BTreeMap<String, Value>);

/// Why raw bytes could not even be read as a record.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// Not valid UTF-8.
    #[error("not valid UTF-8 text")]
    Utf8,
    /// Not valid JSON (message from the parser, which quotes no input).
    #[error("not valid JSON: {0}")]
    Json(String),
    /// Valid JSON but not an object.
    #[error("expected a JSON object, got {0}")]
    NotObject(&'static str),
    /// A CSV row whose cell count differs from the header.
    #[error("CSV row has {got} cells but the header has {expected}")]
    CsvWidth {
        /// Cells in the header.
        expected: usize,
        /// Cells in this row.
        got: usize,
    },
    /// A CSV row that could not be split.
    #[error("malformed CSV: {0}")]
    Csv(String),
    /// A nested JSON value (object or array) where a scalar was expected.
    #[error("field '{0}' is an object or array; expected a scalar")]
    Nested(String),
}

impl Fields {
    /// Decodes one JSON object.
    pub fn from_json(bytes: &[u8]) -> Result<Fields, DecodeError> {
        let text = std::str::from_utf8(bytes).map_err(|_| DecodeError::Utf8)?;
        let value: serde_json::Value = serde_json::from_str(text.trim()).map_err(|e| {
            // serde_json messages carry only positions and expectations, never input text.
            DecodeError::Json(e.to_string())
        })?;
        let obj = match value {
            serde_json::Value::Object(o) => o,
            serde_json::Value::Array(_) => return Err(DecodeError::NotObject("an array")),
            serde_json::Value::String(_) => return Err(DecodeError::NotObject("a string")),
            serde_json::Value::Number(_) => return Err(DecodeError::NotObject("a number")),
            serde_json::Value::Bool(_) => return Err(DecodeError::NotObject("a boolean")),
            serde_json::Value::Null => return Err(DecodeError::NotObject("null")),
        };
        let mut map = BTreeMap::new();
        for (k, v) in obj {
            let v = match v {
                serde_json::Value::Null => Value::Null,
                serde_json::Value::String(s) => Value::Text(s),
                serde_json::Value::Bool(b) => Value::Bool(b),
                serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
                _ => return Err(DecodeError::Nested(k.chars().take(40).collect())),
            };
            map.insert(k.trim().to_string(), v);
        }
        Ok(Fields(map))
    }

    /// Builds a record from a CSV header and one row of cells; empty cells are null.
    pub fn from_csv(header: &[String], cells: &[String]) -> Result<Fields, DecodeError> {
        if header.len() != cells.len() {
            return Err(DecodeError::CsvWidth { expected: header.len(), got: cells.len() });
        }
        let map = header
            .iter()
            .zip(cells)
            .map(|(h, c)| {
                let c = c.trim();
                let v = if c.is_empty() { Value::Null } else { Value::Text(c.to_string()) };
                (h.trim().to_string(), v)
            })
            .collect();
        Ok(Fields(map))
    }

    /// The value of a field, `Null` when absent.
    pub fn get(&self, name: &str) -> &Value {
        self.0.get(name).unwrap_or(&Value::Null)
    }
}

/// Picks the CSV delimiter from a header line: `;` when it has more semicolons than commas.
pub fn sniff_delimiter(header_line: &str) -> u8 {
    let semis = header_line.matches(';').count();
    let commas = header_line.matches(',').count();
    if semis > commas { b';' } else { b',' }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_scalars_decode_and_nested_values_are_refused() {
        let f = Fields::from_json(br#"{"a":"x","b":1.5,"c":null,"d":true}"#).unwrap();
        assert_eq!(f.get("a"), &Value::Text("x".into()));
        assert_eq!(f.get("b"), &Value::Number(1.5));
        assert_eq!(f.get("c"), &Value::Null);
        assert_eq!(f.get("zz"), &Value::Null);
        assert!(matches!(Fields::from_json(br#"{"a":{"b":1}}"#), Err(DecodeError::Nested(_))));
        assert!(matches!(Fields::from_json(b"[1]"), Err(DecodeError::NotObject(_))));
        assert!(matches!(Fields::from_json(b"{oops"), Err(DecodeError::Json(_))));
    }

    #[test]
    fn csv_width_mismatch_is_an_error() {
        let h = vec!["a".to_string(), "b".to_string()];
        assert!(Fields::from_csv(&h, &["1".into()]).is_err());
        assert_eq!(sniff_delimiter("a;b;c"), b';');
        assert_eq!(sniff_delimiter("a,b"), b',');
    }
}
