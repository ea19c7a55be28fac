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
    #[error(
        "not valid UTF-8 text (invalid byte at position {0}): a Latin-1 or Windows-1252 export? re-export it as UTF-8"
    )]
    Utf8(usize),
    /// A field given twice in one JSON object.
    #[error("field '{0}' appears twice in the object: which value is meant is ambiguous; send it once")]
    DuplicateKey(String),
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
    /// Decodes one JSON object. A leading byte-order mark is skipped (some producers write one
    /// per message); a key given twice is an error rather than a silent "last one wins".
    pub fn from_json(bytes: &[u8]) -> Result<Fields, DecodeError> {
        let text = std::str::from_utf8(bytes).map_err(|e| DecodeError::Utf8(e.valid_up_to()))?;
        let text = text.trim().trim_start_matches('\u{feff}');
        let top: Top = serde_json::from_str(text).map_err(|e| {
            // serde_json messages carry only positions and expectations, never input text.
            DecodeError::Json(e.to_string())
        })?;
        let entries = match top {
            Top::Object(entries) => entries,
            Top::Other(what) => return Err(DecodeError::NotObject(what)),
        };
        let mut map = BTreeMap::new();
        for (k, v) in entries {
            let v = match v {
                serde_json::Value::Null => Value::Null,
                serde_json::Value::String(s) => Value::Text(s),
                serde_json::Value::Bool(b) => Value::Bool(b),
                serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
                _ => return Err(DecodeError::Nested(clip_name(&k))),
            };
            let name = k.trim().to_string();
            if map.contains_key(&name) {
                return Err(DecodeError::DuplicateKey(clip_name(&name)));
            }
            map.insert(name, v);
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

/// A field name fit for a message: clipped, anything NIR-like masked.
fn clip_name(name: &str) -> String {
    crate::pseudonym::mask_nir_like(&name.chars().take(40).collect::<String>())
}

/// The top level of a JSON record: an object's entries in order (duplicates kept, to be refused),
/// or what else it was.
enum Top {
    Object(Vec<(String, serde_json::Value)>),
    Other(&'static str),
}

impl<'de> serde::Deserialize<'de> for Top {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Top, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Top;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Top, A::Error> {
                let mut entries = Vec::new();
                while let Some(e) = m.next_entry::<String, serde_json::Value>()? {
                    entries.push(e);
                }
                Ok(Top::Object(entries))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut s: A) -> Result<Top, A::Error> {
                while s.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Top::Other("an array (send one record per line or message)"))
            }
            fn visit_str<E>(self, _: &str) -> Result<Top, E> {
                Ok(Top::Other("a string"))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Top, E> {
                Ok(Top::Other("a boolean"))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Top, E> {
                Ok(Top::Other("a number"))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Top, E> {
                Ok(Top::Other("a number"))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Top, E> {
                Ok(Top::Other("a number"))
            }
            fn visit_unit<E>(self) -> Result<Top, E> {
                Ok(Top::Other("null"))
            }
        }
        d.deserialize_any(V)
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
        assert!(matches!(Fields::from_json(br#"{"a":1,"a":2}"#), Err(DecodeError::DuplicateKey(k)) if k == "a"));
        assert!(matches!(Fields::from_json(b"{\"a\":\"\xE9\"}"), Err(DecodeError::Utf8(6))));
        assert!(Fields::from_json("\u{feff}{\"a\":1}".as_bytes()).is_ok());
    }

    #[test]
    fn csv_width_mismatch_is_an_error() {
        let h = vec!["a".to_string(), "b".to_string()];
        assert!(Fields::from_csv(&h, &["1".into()]).is_err());
        assert_eq!(sniff_delimiter("a;b;c"), b';');
        assert_eq!(sniff_delimiter("a,b"), b',');
    }
}
