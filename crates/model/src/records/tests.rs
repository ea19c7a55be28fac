use super::*;

fn fields(json: &str) -> Fields {
    Fields::from_json(json.as_bytes()).unwrap()
}

const GOOD: &str = r#"{"reading_id":"r1","source":"LAB","worker_id":"w1","employer_siret":"73282932000074",
    "department":"cardio","dosimeter_id":"d1","monitoring":"passive","quantity":"Hp10","status":"measured",
    "dose_msv":0.4,"period_start":"2025-01-01","period_end":"2025-01-31T23:59:59Z"}"#;

#[test]
fn a_good_reading_passes_with_defaults() {
    let r = Validator::default().reading(&fields(GOOD)).unwrap();
    assert_eq!(r.revision, 0);
    assert_eq!(r.recording_threshold_msv, DEFAULT_RECORDING_THRESHOLD_MSV);
    assert_eq!(r.period_start.to_rfc3339(), "2025-01-01T00:00:00+00:00");
}

#[test]
fn every_problem_is_reported() {
    let bad = GOOD
        .replace("\"Hp10\"", "\"Sv\"")
        .replace("73282932000074", "73282932000075")
        .replace("\"measured\"", "\"below_threshold\"")
        .replace("2025-01-31T23:59:59Z", "2026-01-31");
    let p = Validator::default().reading(&fields(&bad)).unwrap_err();
    let s = p.to_string();
    assert!(s.contains("unknown quantity 'Sv'"), "{s}");
    assert!(s.contains("not a valid SIRET"), "{s}");
    assert!(s.contains("dose_msv given on status 'below_threshold'"), "{s}");
    assert!(s.contains("exceeds the 92-day maximum"), "{s}");
}

#[test]
fn negative_and_non_finite_doses_are_refused() {
    let p = Validator::default().reading(&fields(&GOOD.replace("0.4", "-0.1"))).unwrap_err();
    assert!(p.to_string().contains("negative"), "{p}");
    let mut f = fields(GOOD);
    f.0.insert("dose_msv".into(), Value::Text("NaN".into()));
    assert!(Validator::default().reading(&f).unwrap_err().to_string().contains("finite"));
}

#[test]
fn decimal_comma_is_accepted() {
    assert_eq!(parse_decimal("1,25"), Some(1.25));
    assert_eq!(parse_decimal("0.5"), Some(0.5));
    assert_eq!(parse_decimal("abc"), None);
}

#[test]
fn nir_without_key_is_a_configuration_problem() {
    let n: u64 = 1850578006084;
    let nir = format!("{n}{:02}", 97 - n % 97);
    let json = GOOD.replace("\"worker_id\":\"w1\"", &format!("\"nir\":\"{nir}\""));
    let p = Validator::default().reading(&fields(&json)).unwrap_err();
    assert!(p.missing_key());
    assert!(!p.to_string().contains(&nir));
    let v = Validator::with_pseudonymizer(Some(Pseudonymizer::new(vec![7u8; 32]).unwrap()));
    let r = v.reading(&fields(&json)).unwrap();
    assert!(r.worker_id.starts_with('P'));
}

#[test]
fn a_nir_in_an_identity_field_is_pseudonymised_and_in_a_free_field_rejected() {
    let n: u64 = 1850578006084;
    let nir = format!("{n}{:02}", 97 - n % 97);
    let spaced = format!("{} {} {}", &nir[..1], &nir[1..7], &nir[7..]);
    let p = Pseudonymizer::new(vec![7u8; 32]).unwrap();
    let v = Validator::with_pseudonymizer(Some(p.clone()));
    let id = p.worker_id(&nir).unwrap();
    let json = GOOD.replace("\"w1\"", &format!("\"{spaced}\"")).replace("\"d1\"", &format!("\"badge-{nir}\""));
    let r = v.reading(&fields(&json)).unwrap();
    assert_eq!(r.worker_id, id, "the same pseudonym as the nir field gives");
    assert_eq!(r.dosimeter_id, format!("badge-{id}"));
    // Without a key: the missing-key configuration problem, as for `nir`.
    assert!(Validator::default().reading(&fields(&json)).unwrap_err().missing_key());
    // In a free field, a number field or a field name: rejected, key or not.
    for bad in [
        GOOD.replace("\"cardio\"", &format!("\"cardio {spaced}\"")),
        GOOD.replace("0.4", &nir),
        GOOD.replace("\"LAB\"", &format!("\"{}\"", nir.replace("", "-").trim_matches('-'))),
        GOOD.replace("\"status\"", &format!("\"{nir}\":1,\"status\"")),
    ] {
        let p = v.reading(&fields(&bad)).unwrap_err();
        assert!(p.to_string().contains("holds a NIR"), "{p}");
        assert!(!p.missing_key());
    }
}

/// A number that prints as a NIR is refused, though its whole part holds none: the lake, JSON
/// and SQL print it with a decimal point, which reads as a separator (found by scripts/fuzz.sh).
#[test]
fn a_decimal_that_prints_as_a_nir_is_refused() {
    let n: u64 = 1850578006084;
    let key = 97 - n % 97;
    // 21390031212009 prints 21390031212009.0, whose 15 digits have a matching key.
    let whole = (0u64..)
        .map(|i| 21_390_031_212_000 + i)
        .find(|w| crate::contains_nir(&format!("{w}.0")) && !crate::contains_nir(&w.to_string()))
        .unwrap();
    let noise = "0.2448319779690169";
    assert!(crate::contains_nir(noise), "float noise that reads as a NIR");
    let v = Validator::with_pseudonymizer(Some(Pseudonymizer::new(vec![7u8; 32]).unwrap()));
    let hostile = [format!("{n}.{key:02}"), format!("\"{n},{key:02}\""), whole.to_string(), noise.to_string()];
    for (i, dose) in hostile.iter().enumerate() {
        // (The record is not printed: it would hold the NIR.)
        let p = v.reading(&fields(&GOOD.replace("0.4", dose))).err().map(|p| p.to_string());
        let p = p.unwrap_or_else(|| panic!("hostile dose #{i} accepted"));
        assert!(p.contains("field 'dose_msv' holds a NIR"), "{p}");
        assert!(!crate::contains_nir(&p));
    }
    // Ordinary doses, and a whole revision (stored and printed as an integer), pass.
    for dose in ["0.4", "0.30000000000000004", "12.345", "\"1,25\""] {
        assert!(v.reading(&fields(&GOOD.replace("0.4", dose))).is_ok(), "{dose}");
    }
    let revised = GOOD.replace("\"status\"", &format!("\"revision\":{whole},\"status\""));
    assert_eq!(v.reading(&fields(&revised)).unwrap().revision, whole as i64);
}

#[test]
fn timestamps_far_in_the_future_or_past_are_refused() {
    let now = Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap();
    let v = Validator::default();
    let at = |end: &str| v.reading_at(&fields(&GOOD.replace("2025-01-31T23:59:59Z", end)), now);
    assert!(at("2025-03-01T23:00:00Z").is_ok(), "within the one-day horizon");
    let p = at("2025-03-02T01:00:00Z").unwrap_err().to_string();
    assert!(p.contains("'period_end' 2025-03-02T01:00:00Z is in the future (more than 24 hours"), "{p}");
    let p = at("9999-12-31").unwrap_err().to_string();
    assert!(p.contains("is in the future"), "{p}");
    let p = v.reading_at(&fields(&GOOD.replace("2025-01-01", "1900-01-01")), now).unwrap_err().to_string();
    assert!(p.contains("'period_start' 1900-01-01 is before 1950-01-01"), "{p}");
    let wide = Validator { future_horizon: chrono::TimeDelta::days(3650), ..Validator::default() };
    assert!(
        wide.reading_at(
            &fields(&GOOD.replace("2025-01-01", "2030-01-01").replace("2025-01-31T23:59:59Z", "2030-01-31")),
            now
        )
        .is_ok()
    );
}

#[test]
fn siret_luhn() {
    assert!(siret_is_valid("73282932000074"));
    assert!(!siret_is_valid("73282932000075"));
    assert!(!siret_is_valid("7328293200007"));
}
