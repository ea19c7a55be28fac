//! Query results converted once from Arrow record batches into the model's [`Table`], so that
//! the report never downcasts arrays.
//!
//! The conversion accepts every string flavour DataFusion hands back (`Utf8`, `LargeUtf8`,
//! `Utf8View`, dictionaries), every integer and float width, timestamps of any unit and time
//! zone (kept as UTC microseconds) and dates; anything else is kept as Arrow's display text.

use arrow::array::{Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Schema, TimeUnit};
use arrow::util::display::array_value_to_string;

use alara_model::table::{Table, Value};

/// A column whose type could not be converted.
#[derive(Debug, thiserror::Error)]
#[error("converting a query result: {0}")]
pub struct ConvertError(String);

type Result<T> = std::result::Result<T, ConvertError>;

/// Builds a table from a schema and its batches (the schema gives the columns even when there
/// is no batch).
pub fn table_from_batches(schema: &Schema, batches: &[RecordBatch]) -> Result<Table> {
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

fn convert_column(array: &ArrayRef) -> Result<Vec<Value>> {
    let n = array.len();
    let conv = |to: &DataType| cast(array, to).map_err(|e| ConvertError(format!("{}: {e}", array.data_type())));
    let out = match array.data_type() {
        DataType::Null => vec![Value::Null; n],
        DataType::Boolean => {
            let a = array.as_any().downcast_ref::<BooleanArray>().ok_or_else(|| ConvertError("boolean".into()))?;
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
            let a = c.as_any().downcast_ref::<Int64Array>().ok_or_else(|| ConvertError("int64".into()))?;
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
            let a = c.as_any().downcast_ref::<Float64Array>().ok_or_else(|| ConvertError("float64".into()))?;
            (0..n).map(|i| if a.is_null(i) { Value::Null } else { Value::Float(a.value(i)) }).collect()
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(..) => {
            let c = conv(&DataType::Utf8)?;
            let a = c.as_any().downcast_ref::<StringArray>().ok_or_else(|| ConvertError("utf8".into()))?;
            (0..n).map(|i| if a.is_null(i) { Value::Null } else { Value::Text(stable_numbers(a.value(i))) }).collect()
        }
        DataType::Timestamp(_, _) => {
            // Casting to microseconds without a zone keeps the instant: Arrow stores UTC values.
            let c = conv(&DataType::Timestamp(TimeUnit::Microsecond, None))?;
            let a = c
                .as_any()
                .downcast_ref::<arrow::array::TimestampMicrosecondArray>()
                .ok_or_else(|| ConvertError("timestamp".into()))?;
            (0..n).map(|i| if a.is_null(i) { Value::Null } else { Value::Time(a.value(i)) }).collect()
        }
        DataType::Date32 | DataType::Date64 => {
            let c = conv(&DataType::Date32)?;
            let a = c.as_any().downcast_ref::<Date32Array>().ok_or_else(|| ConvertError("date32".into()))?;
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
                    array_value_to_string(array, i).map(Value::Text).map_err(|e| ConvertError(e.to_string()))
                }
            })
            .collect::<Result<Vec<_>>>()?,
    };
    Ok(out)
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{StringViewArray, TimestampMicrosecondArray};
    use arrow::datatypes::Field;

    use super::*;
    use arrow::datatypes::Schema;

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
        let t = table_from_batches(&schema, &[batch]).unwrap();
        assert_eq!(
            t.rows[0],
            vec![Value::Text("a,b".into()), Value::Time(86_400_000_000), Value::Float(21.599999999999998)]
        );
        let r = t.iter().next().unwrap();
        assert_eq!(r.time("t"), Some(86_400_000_000));
        assert_eq!(r.float("missing"), None);
    }
}
