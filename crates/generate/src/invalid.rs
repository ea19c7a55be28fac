//! Deliberately bad readings, mixed into readings.jsonl so that ingestion's rejects path is
//! exercised with exact, known counts.
//!
//! Each bad line starts from a plausible passive result of a real worker and breaks exactly one
//! rule of CONTRACT.md section 1 ("Bad input"), so the rejection reason is predictable. The
//! `reason_contains` strings are fragments of the messages of `alara_model::Validator` and
//! `alara_model::DecodeError`.

use serde_json::Value;

use crate::calendar::Calendar;
use crate::output::ReadingLine;

/// How many bad lines a data set holds (two of each kind), whatever its size.
pub(crate) const COUNT: usize = 16;

/// The `j`-th bad line (0 ≤ j < [`COUNT`]) built from `base`, a valid passive result of the
/// last month, and the fragment its rejection reason must contain.
pub(crate) fn bad_line(j: usize, base: &ReadingLine, cal: &Calendar) -> (String, &'static str) {
    let mut base = base.clone();
    base.reading_id = format!("{}-X{:02}", base.reading_id, j + 1);
    base.status = "measured";
    base.dose_msv = Some(0.12);
    let mut v = serde_json::to_value(&base).unwrap_or(Value::Null);
    let Value::Object(obj) = &mut v else {
        // A struct of plain fields always serialises to an object.
        unreachable!("a reading serialises to a JSON object")
    };
    let months = cal.len();
    let reason = match j {
        0 | 8 => {
            // A line cut short by a failed transfer, or a CSV row pasted into the JSON file.
            let text = if j == 0 {
                let full = v.to_string();
                full[..full.len() / 2].to_string()
            } else {
                format!("{};{};{};0,12", base.reading_id, base.worker_id, base.source)
            };
            return (text, "not valid JSON");
        }
        1 => {
            obj.insert("quantity".into(), "Hp(10)".into());
            "unknown quantity"
        }
        9 => {
            obj.insert("monitoring".into(), "active".into());
            "unknown monitoring"
        }
        2 | 10 => {
            obj.insert("dose_msv".into(), Value::from(if j == 2 { -0.12 } else { -1.5 }));
            "dose_msv is negative"
        }
        3 => {
            obj.insert("status".into(), "below_threshold".into());
            obj.insert("dose_msv".into(), Value::from(0.03));
            "dose_msv given on status 'below_threshold'"
        }
        11 => {
            obj.insert("status".into(), "not_returned".into());
            "dose_msv given on status 'not_returned'"
        }
        4 | 12 => {
            let (s, e) = (obj["period_start"].clone(), obj["period_end"].clone());
            obj.insert("period_start".into(), e);
            obj.insert("period_end".into(), s);
            "period_end is before period_start"
        }
        5 | 13 => {
            // A yearly badge (j = 5) or a half-year one (j = 13): longer than 3 months.
            let first = if j == 5 { months - 12 } else { months - 6 };
            obj.insert("period_start".into(), cal.month_start(first).to_string().into());
            "exceeds the 92-day maximum"
        }
        6 | 14 => {
            let siret = base.employer_siret.clone();
            let broken = if j == 6 {
                // Changing one digit always breaks a Luhn checksum.
                let last = siret.as_bytes()[13] - b'0';
                format!("{}{}", &siret[..13], (last + 1) % 10)
            } else {
                siret[..13].to_string()
            };
            obj.insert("employer_siret".into(), broken.into());
            "is not a valid SIRET"
        }
        7 => {
            obj.remove("dosimeter_id");
            "missing required field 'dosimeter_id'"
        }
        _ => {
            obj.remove("source");
            "missing required field 'source'"
        }
    };
    (v.to_string(), reason)
}
