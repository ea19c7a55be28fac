//! Property tests ("fuzzing") of every decoder and validator of the model: JSON objects, CSV rows
//! (`,` and `;`, decimal comma), timestamps, decimals, NIR and SIRET, on arbitrary bytes and on
//! generated records mixing valid and hostile values.
//!
//! `cargo test` runs a short pass (256 cases per property); `scripts/fuzz.sh` sets
//! `ALARA_FUZZ_CASES` for the long one. Each property prints `fuzz <name>: <n> executions` (seen
//! with `--nocapture`), which the script adds up.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::pseudonym::{contains_nir, find_nirs, mask_nir_like, validate_nir};
use crate::records::{parse_decimal, parse_timestamp, siret_is_valid};
use crate::{Fields, Kind, Origin, Pseudonymizer, Record, Reject, Validator};

/// Cases per property: `ALARA_FUZZ_CASES`, else a short run.
pub(crate) fn cases() -> u32 {
    std::env::var("ALARA_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

/// Runs one property for [`cases`] cases, counting every execution (shrinking included), and
/// fails with proptest's minimal counter-example.
pub(crate) fn run<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    let config = Config { cases: cases(), failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let count = AtomicU64::new(0);
    let result = runner.run(&strategy, |v| {
        count.fetch_add(1, Ordering::Relaxed);
        test(v)
    });
    println!("fuzz {name}: {} executions", count.load(Ordering::Relaxed));
    if let Err(e) = result {
        panic!("fuzz {name} failed: {e}");
    }
}

/// The fixed time of ingest of the fuzzed records (so the future horizon is deterministic).
pub(crate) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

/// A valid NIR, normalised (15 characters), Corsican ones included.
pub fn nir() -> impl Strategy<Value = String> {
    (0u64..10_000_000_000_000, 0u8..4).prop_map(|(n, corsica)| {
        let mut s = format!("{n:013}");
        let (code, letter, offset) = match corsica {
            1 => ("19", "2A", 1_000_000),
            2 => ("18", "2B", 2_000_000),
            _ => ("", "", 0),
        };
        if !code.is_empty() {
            s.replace_range(5..7, code);
        }
        let number: u64 = s.parse().unwrap();
        let key = 97 - (number - offset) % 97;
        if !letter.is_empty() {
            s.replace_range(5..7, letter);
        }
        format!("{s}{key:02}")
    })
}

/// A NIR spelled as people write it: separators (spaces, no-break spaces, dots, hyphens) between
/// any characters, grouped or not, lower-case Corsican letter at times.
pub fn spelled_nir() -> impl Strategy<Value = String> {
    let sep = prop_oneof![
        4 => Just(""),
        2 => Just(" "),
        1 => Just("."),
        1 => Just("-"),
        1 => Just("\u{a0}"),
        1 => Just(" - "),
        1 => Just("_"),
    ];
    (nir(), proptest::collection::vec(sep, 14), any::<bool>()).prop_map(|(n, seps, lower)| {
        let mut out = String::new();
        for (i, c) in n.chars().enumerate() {
            out.push(if lower { c.to_ascii_lowercase() } else { c });
            if i < 14 {
                out.push_str(seps[i]);
            }
        }
        out
    })
}

/// A valid SIRET: 13 digits and the Luhn check digit.
pub fn siret() -> impl Strategy<Value = String> {
    (0u64..10_000_000_000_000).prop_filter_map("La Poste's SIREN uses another rule", |n| {
        let base = format!("{n:013}");
        if base.starts_with("356000000") {
            return None;
        }
        (0..10).map(|d| format!("{base}{d}")).find(|s| siret_is_valid(s))
    })
}

/// Text around a value: may glue letters, punctuation or nothing to it.
fn affix() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[a-zA-Z#:/()=]{1,6}", "[a-zA-Z]{1,4}[ :=]"]
}

/// A value for a field: valid, hostile, or random.
fn value(valid: Vec<&'static str>) -> BoxedStrategy<serde_json::Value> {
    use serde_json::Value as J;
    let valid: Vec<J> = valid.into_iter().map(|v| J::String(v.to_string())).collect();
    prop_oneof![
        8 => proptest::sample::select(valid),
        1 => Just(J::Null),
        1 => any::<String>().prop_map(J::String),
        1 => any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(J::Null, J::Number)),
        1 => any::<i64>().prop_map(|i| J::Number(i.into())),
        1 => any::<bool>().prop_map(J::Bool),
        1 => (affix(), spelled_nir(), affix()).prop_map(|(a, n, b)| J::String(format!("{a}{n}{b}"))),
        1 => (spelled_nir()).prop_map(|n| {
            let digits: String = n.chars().filter(char::is_ascii_digit).collect();
            digits.parse::<i64>().map_or(J::String(n), |i| J::Number(i.into()))
        }),
    ]
    .boxed()
}

const DATES: [&str; 9] = [
    "2025-01-01",
    "2025-01-31T23:59:59Z",
    "2025-02-15T08:00:00+01:00",
    "2025-03-01 10:00:00",
    "2024-12-01T00:00",
    "9999-12-31",
    "1900-01-01",
    "2031-06-01",
    "2025-13-45",
];

/// A raw record of `kind` as a JSON object: every contract field, each valid or hostile, plus at
/// times an unknown field.
pub fn record(kind: Kind) -> BoxedStrategy<serde_json::Map<String, serde_json::Value>> {
    let mut fields: Vec<(&'static str, BoxedStrategy<serde_json::Value>)> = vec![
        ("worker_id", value(vec!["W1", "w-0001", "P0123456789abcdef01234567"])),
        ("employer_siret", value(vec!["73282932000074", "73282932000075", "7328 2932 0000 74"])),
        ("department", value(vec!["interventional-cardiology", "radiology", " nuclear medicine "])),
    ];
    match kind {
        Kind::Readings => fields.extend([
            ("reading_id", value(vec!["r1", "LAB-2025-0001", "12"])),
            ("revision", value(vec!["0", "2", "-1", "1.5"])),
            ("source", value(vec!["DOSILAB", "LAB"])),
            ("site", value(vec!["Nord", "site 2"])),
            ("dosimeter_id", value(vec!["D1", "badge-77"])),
            ("monitoring", value(vec!["passive", "operational", "extremity", "lens", "Passive"])),
            ("position", value(vec!["chest", "under_apron", "finger", "knee"])),
            ("laterality", value(vec!["left", "right"])),
            ("quantity", value(vec!["Hp10", "Hp007", "Hp3", "Sv"])),
            ("status", value(vec!["measured", "below_threshold", "lost", "estimated", "no_result"])),
            ("dose_msv", value(vec!["0.4", "1,25", "-0.1", "NaN", "1e309", "0"])),
            ("recording_threshold_msv", value(vec!["0.05", "0,1"])),
            ("period_start", value(DATES.to_vec())),
            ("period_end", value(DATES.to_vec())),
            ("radiation", value(vec!["X", "gamma", "alpha"])),
        ]),
        Kind::Workers => fields.extend([
            ("role", value(vec!["nurse", "radiologist", "surgeon", "pilot"])),
            ("category", value(vec!["A", "B", "none", "C"])),
            ("pregnancy_declared_on", value(vec!["2025-03-01", "2031-01-01"])),
            ("apprentice", value(vec!["true", "non", "1", "maybe"])),
            ("valid_from", value(DATES.to_vec())),
        ]),
        Kind::Procedures => fields.extend([
            ("procedure_id", value(vec!["PR1", "2025-000017"])),
            ("room", value(vec!["salle 3", "cath-lab"])),
            ("procedure_type", value(vec!["coronarography", "PCI"])),
            ("started_at", value(DATES.to_vec())),
            ("ended_at", value(DATES.to_vec())),
            ("fluoroscopy_s", value(vec!["120", "3,5", "-1"])),
            ("dap_gycm2", value(vec!["12.5", "0"])),
        ]),
    }
    let names: Vec<&'static str> = fields.iter().map(|(n, _)| *n).collect();
    let values: Vec<BoxedStrategy<serde_json::Value>> = fields.into_iter().map(|(_, s)| s).collect();
    (
        values,
        proptest::collection::vec(proptest::bool::weighted(0.95), names.len()),
        proptest::option::of(("[a-z_]{1,8}", value(vec!["x"]))),
    )
        .prop_map(move |(values, present, extra)| {
            let mut m = serde_json::Map::new();
            for ((name, v), keep) in names.iter().zip(values).zip(present) {
                // Most fields present; a few dropped to exercise "missing required field".
                if keep {
                    m.insert(name.to_string(), v);
                }
            }
            if let Some((k, v)) = extra {
                m.insert(k, v);
            }
            m
        })
        .boxed()
}

fn key() -> Pseudonymizer {
    Pseudonymizer::new(b"fuzz-key-0123456789abcdef".to_vec()).unwrap()
}

/// Re-serialises an accepted record as the JSON a source could send.
fn reserialise(record: &Record) -> Vec<u8> {
    match record {
        Record::Reading(r) => serde_json::to_vec(r),
        Record::Worker(w) => serde_json::to_vec(w),
        Record::Procedure(p) => serde_json::to_vec(p),
    }
    .unwrap()
}

/// The invariants of validating one decoded record: an accepted record holds no NIR, re-serialises
/// and re-validates to itself; a rejected one has a reason, and its reject row (reason and raw)
/// holds no NIR. Without a key, only NIR-bearing input may report the missing key.
pub(crate) fn check_validation(kind: Kind, fields: &Fields, raw: &[u8]) -> Result<(), TestCaseError> {
    for validator in [Validator::with_pseudonymizer(Some(key())), Validator::default()] {
        match validator.validate_at(kind, fields, now()) {
            Ok(record) => {
                let again = reserialise(&record);
                let text = String::from_utf8_lossy(&again).into_owned();
                let decoded = Fields::from_json(&again).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
                match validator.validate_at(kind, &decoded, now()) {
                    // A pseudonym that holds 15 digits with a matching key by chance is
                    // pseudonymised again (documented in pseudonym.rs); otherwise it is a fixpoint.
                    Ok(back) => prop_assert!(back == record || contains_nir(&text), "{record:?} != {back:?}"),
                    Err(p) => return Err(TestCaseError::fail(format!("accepted {text} but re-validation says {p}"))),
                }
                // Only a pseudonym (P + 24 hex) may hold such digits.
                if contains_nir(&text) {
                    for f in find_nirs(&text) {
                        let before = &text[..f.range.start];
                        prop_assert!(
                            before.rfind('P').is_some_and(|p| before.len() - p <= 24),
                            "clear NIR in an accepted record: {f:?} in {}",
                            mask_nir_like(&text)
                        );
                    }
                }
            }
            Err(problems) => {
                prop_assert!(!problems.0.is_empty());
                prop_assert!(problems.0.iter().all(|p| !p.is_empty()));
                if problems.missing_key() {
                    prop_assert!(validator.pseudonymizer.is_none());
                    // A NIR in `nir` or in an identity field's text (a huge JSON number written
                    // out in full may hold one by chance).
                    let in_identity = fields.0.iter().any(|(k, v)| {
                        crate::records::IDENTITY_FIELDS.contains(&k.as_str())
                            && match v {
                                crate::Value::Text(t) => contains_nir(t),
                                crate::Value::Number(n) => contains_nir(&n.to_string()),
                                _ => false,
                            }
                    });
                    prop_assert!(in_identity || fields.0.contains_key("nir"));
                }
                let origin = Origin::File { path: "f".into(), line: 1 };
                let reject = Reject::new(kind, origin, problems.to_string(), raw, now());
                prop_assert!(!reject.reason.is_empty());
                prop_assert!(!contains_nir(&reject.reason), "NIR in reason {}", mask_nir_like(&reject.reason));
                prop_assert!(!contains_nir(&String::from_utf8_lossy(&reject.raw)), "NIR in masked raw");
            }
        }
    }
    Ok(())
}

fn kind() -> impl Strategy<Value = Kind> {
    proptest::sample::select(Kind::ALL.to_vec())
}

#[test]
fn fuzz_json_arbitrary_bytes() {
    run("json_bytes", (kind(), proptest::collection::vec(any::<u8>(), 0..300)), |(kind, bytes)| {
        if let Ok(f) = Fields::from_json(&bytes) {
            check_validation(kind, &f, &bytes)?;
        }
        let masked = mask_nir_like(&String::from_utf8_lossy(&bytes));
        prop_assert!(!contains_nir(&masked));
        Ok(())
    });
}

#[test]
fn fuzz_json_records() {
    let strategy = kind().prop_flat_map(|k| (Just(k), record(k)));
    run("json_records", strategy, |(kind, map)| {
        let raw = serde_json::to_vec(&serde_json::Value::Object(map)).unwrap();
        let f = Fields::from_json(&raw).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_validation(kind, &f, &raw)
    });
}

/// A generated record written as one CSV row (with `,` or `;`, decimal comma for `;`), decoded
/// and validated: the same verdict as the JSON form.
#[test]
fn fuzz_csv_records() {
    let strategy = (kind().prop_flat_map(|k| (Just(k), record(k))), any::<bool>());
    run("csv_records", strategy, |((kind, map), semicolon)| {
        let delimiter = if semicolon { b';' } else { b',' };
        let header: Vec<String> = map.keys().cloned().collect();
        let cells: Vec<String> = map
            .values()
            .map(|v| match v {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) if semicolon => n.to_string().replacen('.', ",", 1),
                other => other.to_string(),
            })
            .collect();
        let mut w = csv::WriterBuilder::new().delimiter(delimiter).from_writer(Vec::new());
        w.write_record(&header).unwrap();
        w.write_record(&cells).unwrap();
        let bytes = w.into_inner().unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let mut rdr = csv::ReaderBuilder::new().delimiter(delimiter).has_headers(true).from_reader(bytes.as_slice());
        let head: Vec<String> = rdr.headers().unwrap().iter().map(str::to_string).collect();
        let row: Vec<String> = rdr.records().next().unwrap().unwrap().iter().map(str::to_string).collect();
        let f = Fields::from_csv(&head, &row).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_validation(kind, &f, text.as_bytes())
    });
}

#[test]
fn fuzz_csv_arbitrary_rows() {
    let strategy = (kind(), proptest::collection::vec(any::<String>(), 0..20), any::<bool>());
    run("csv_rows", strategy, |(kind, cells, semicolon)| {
        let header: Vec<String> = (0..cells.len()).map(|i| format!("c{i}")).collect();
        let f = Fields::from_csv(&header, &cells).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let raw = cells.join(if semicolon { ";" } else { "," });
        check_validation(kind, &f, raw.as_bytes())
    });
}

#[test]
fn fuzz_timestamps() {
    let shaped = (0i64..100_000, 0u32..15, 0u32..40, 0u32..30, 0u32..70, "[Z+-]?[0-9]{0,2}:?[0-9]{0,2}")
        .prop_map(|(y, mo, d, h, mi, off)| format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:00{off}"));
    let strategy = prop_oneof![any::<String>(), shaped, "[0-9 :TZ+.-]{0,40}"];
    run("timestamps", strategy, |s| {
        if let Some(ts) = parse_timestamp(&s) {
            // Whatever parses within RFC 3339's four-digit years prints back to a text that
            // parses to the same instant (later years are refused by the horizon anyway).
            if (0..=9999).contains(&chrono::Datelike::year(&ts)) {
                prop_assert_eq!(parse_timestamp(&ts.to_rfc3339()), Some(ts));
            }
        }
        let _ = parse_decimal(&s);
        Ok(())
    });
}

#[test]
fn fuzz_nir_detection_and_masking() {
    run("nir_spelled", (affix(), spelled_nir(), affix()), |(a, n, b)| {
        let text = format!("{a}{n}{b}");
        prop_assert!(validate_nir(&n).is_ok(), "the nir field accepts every spelling detection does");
        prop_assert!(contains_nir(&text), "a spelled NIR is found");
        let masked = mask_nir_like(&text);
        prop_assert!(!contains_nir(&masked), "masking removes it");
        let p = key();
        let replaced = p.replace_nirs(&text).unwrap();
        let id = p.worker_id(&find_nirs(&text)[0].normalised).unwrap();
        prop_assert!(replaced.contains(&id), "the pseudonym is the one `nir` would give");
        Ok(())
    });
    run("nir_arbitrary", any::<String>(), |s| {
        let _ = validate_nir(&s);
        prop_assert!(!contains_nir(&mask_nir_like(&s)));
        if let Some(r) = key().replace_nirs(&s) {
            prop_assert!(!contains_nir(&r) || r.contains('P'));
        }
        Ok(())
    });
}

#[test]
fn fuzz_siret() {
    run("siret", (siret(), 0usize..14, 1u8..10), |(s, at, bump)| {
        prop_assert!(siret_is_valid(&s));
        // Luhn catches every single-digit error.
        let mut b = s.clone().into_bytes();
        b[at] = b'0' + (b[at] - b'0' + bump) % 10;
        let changed = String::from_utf8(b).unwrap();
        // (La Poste's prefix follows another rule: a change into it is not a Luhn question.)
        prop_assert!(changed.starts_with("356000000") || !siret_is_valid(&changed));
        // A SIRET is never taken for a NIR, so masking keeps it.
        prop_assert_eq!(mask_nir_like(&s), s);
        Ok(())
    });
    run("siret_arbitrary", any::<String>(), |s| {
        let _ = siret_is_valid(&s);
        Ok(())
    });
}
