//! The detections a radiation protection advisor checks first (issue 14), end to end through the
//! real binary, each next to clean controls that must stay silent:
//!
//! * the legal record hides nothing: a lost left ring is not covered by the right ring, one
//!   employer's lost badge not by another's, a physician's estimate replaces the badge it stands
//!   for, a ring with no laterality counts for the hand it belongs to, a badge straddling a
//!   pregnancy declaration counts pro rata and the episode ends at the expected date;
//! * the classification level and the `classification_review` prompt, both ways;
//! * the eye-lens estimate from a collar dosimeter, and the coverage signals
//!   `no_lens_dosimeter` / `no_extremity_dosimeter`;
//! * the ESR register with a decision recorded by `alara explain --decision`, the inspection
//!   indicator, collective dose and dose classes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::common::*;
use crate::detect::{Dosimeter, Ends, Fixture, IC, Month, NM, Row, close, f, i, s, scratch};

const RAD: &str = "radiology";
/// A second employer (Luhn-valid SIRET).
const SIRET2: &str = "73282932000074";

fn jul24() -> Month {
    Month::new(2024, 7)
}

/// Sets a field of the reading just pushed.
fn last_set(fx: &mut Fixture, key: &str, v: Value) {
    let r = fx.readings.last_mut().expect("a reading");
    r[key] = v;
}

/// `n` fluoroscopy procedures a month, each `dap` Gy·cm² and 300 s, on days 1..=n.
fn workload(fx: &mut Fixture, worker: &str, dept: &str, m: Month, n: u32, dap: f64) {
    for d in 1..=n {
        let day = m.day(d);
        fx.procedures
            .push(format!("P-{worker}-{day},{worker},{dept},cath-lab-2,PCI,{day}T08:10:00Z,{day}T09:10:00Z,300,{dap}"));
    }
}

fn advisor_fixture() -> Fixture {
    use Dosimeter::*;
    use Ends::*;
    let mut fx = Fixture::default();
    let (jul24, jul23) = (jul24(), Month::new(2023, 7));
    let v0 = "2020-01-01T00:00:00Z";

    // --- the legal record
    // Both hands ringed, 10 mSv a month each; the left ring of September 2024 is lost.
    fx.worker("LOSTL", IC, "cardiologist", false, None);
    for k in 0..12 {
        let m = jul24.plus(k);
        if m.label() == "202409" {
            fx.lab_status("LOSTL", IC, Ring("left"), m, LastDay, "lost", Value::Null);
        } else {
            fx.lab("LOSTL", IC, Ring("left"), m, LastDay, 10.0);
        }
        fx.lab("LOSTL", IC, Ring("right"), m, LastDay, 10.0);
    }
    // Two employers; the first one's badge of October 2024 is lost, the second one's is read.
    fx.worker("TWOEMP", NM, "radiographer", false, None);
    for k in 0..12 {
        let m = jul24.plus(k);
        if m.label() == "202410" {
            fx.lab_status("TWOEMP", NM, Badge, m, LastDay, "lost", Value::Null);
        } else {
            fx.lab("TWOEMP", NM, Badge, m, LastDay, 0.2);
        }
        fx.lab("TWOEMP", NM, Badge, m, LastDay, 0.2);
        last_set(&mut fx, "source", json!("OTHER-LAB"));
        last_set(&mut fx, "employer_siret", json!(SIRET2));
        last_set(&mut fx, "reading_id", json!(format!("OTHER-{}", m.label())));
        last_set(&mut fx, "dosimeter_id", json!(format!("OTHER-D-{}", m.label())));
    }
    // November 2024 lost, replaced by a dose the occupational physician assigned (own id and
    // dosimeter reference): the estimate counts, the lost badge is no longer missing.
    fx.worker("ESTIM", NM, "radiographer", false, None);
    for k in 0..12 {
        let m = jul24.plus(k);
        if m.label() == "202411" {
            fx.lab_status("ESTIM", NM, Badge, m, LastDay, "lost", Value::Null);
            fx.lab("ESTIM", NM, Badge, m, LastDay, 0.7);
            last_set(&mut fx, "source", json!("MDT"));
            last_set(&mut fx, "status", json!("estimated"));
            last_set(&mut fx, "reading_id", json!("MDT-ESTIM-1"));
            last_set(&mut fx, "dosimeter_id", json!("ASSIGNED-DOSE"));
            last_set(&mut fx, "period_start", json!("2024-11-04"));
            last_set(&mut fx, "period_end", json!("2024-11-29"));
        } else {
            fx.lab("ESTIM", NM, Badge, m, LastDay, 0.5);
        }
    }
    // The left ring for six months, then the lab drops the laterality: 12 x 45 = 540 on the left.
    fx.worker("NOLAT", IC, "cardiologist", false, None);
    fx.series("NOLAT", IC, Ring("left"), jul24, LastDay, &[45.0; 6]);
    fx.series("NOLAT", IC, RingNoSide, jul24.plus(6), LastDay, &[45.0; 6]);
    // Pregnancy declared on 1 August 2024: 0.1 a month to April (0.9), and 2.0 in June 2025,
    // after the expected end (9 months): a warning, no pregnancy level.
    fx.worker_version("PREGEND", NM, "nurse", "B", false, Some("2024-08-01"), v0);
    fx.series("PREGEND", NM, Badge, jul24.plus(1), LastDay, &[0.1; 10]);
    fx.lab("PREGEND", NM, Badge, jul24.plus(11), LastDay, 2.0);

    // --- classification
    for (w, cat, dept, dose) in
        [("CLB", "B", NM, 0.6), ("CLB2", "B", NM, 0.45), ("CLN", "none", RAD, 0.1), ("CLA", "A", NM, 0.6)]
    {
        fx.worker_version(w, dept, "radiographer", cat, false, None, v0);
        fx.series(w, dept, Badge, jul24, LastDay, &[dose; 12]);
    }
    // Reclassified B -> A in January 2025: held to A, no classification event.
    fx.worker_version("CLR", NM, "radiographer", "B", false, None, v0);
    fx.worker_version("CLR", NM, "radiographer", "A", false, None, "2025-01-01T00:00:00Z");
    fx.series("CLR", NM, Badge, jul24, LastDay, &[0.6; 12]);
    // Category A for two years at 0.1 a month: compatible with B. Its control has one month at
    // 4.95, a window of 6.05 above the A threshold.
    fx.worker_version("DOWNA", NM, "other", "A", false, None, v0);
    fx.series("DOWNA", NM, Badge, jul23, LastDay, &[0.1; 24]);
    fx.worker_version("DOWNA2", NM, "other", "A", false, None, v0);
    let mut d2 = vec![0.1; 24];
    d2[20] = 4.95;
    fx.series("DOWNA2", NM, Badge, jul23, LastDay, &d2);

    // --- eye lens without a lens dosimeter
    // Collar Hp0.07 1.5 mSv a month (18 in 12 months) and no lens dosimeter.
    fx.worker("LCOL", IC, "cardiologist", false, None);
    fx.series("LCOL", IC, Collar, jul24, LastDay, &[1.5; 12]);
    // Collar 0.5 a month: an estimate of 6, under the investigation level.
    fx.worker("LCOL2", IC, "cardiologist", false, None);
    fx.series("LCOL2", IC, Collar, jul24, LastDay, &[0.5; 12]);
    // Collar 1.5 a month, but a lens dosimeter is worn: its results are the record.
    fx.worker("LCOL3", IC, "cardiologist", false, None);
    fx.series("LCOL3", IC, Collar, jul24, LastDay, &[1.5; 12]);
    fx.series("LCOL3", IC, Lens, jul24, LastDay, &[0.5; 12]);

    // --- coverage: operators whose workload calls for a lens dosimeter or a ring
    for w in ["NOLENS", "RINGLESS", "COVERED"] {
        fx.worker(w, IC, "cardiologist", false, None);
    }
    fx.worker("NURSE", IC, "nurse", false, None);
    for k in 0..12 {
        let m = jul24.plus(k);
        // 12 x 100 = 1200 Gy.cm2 a month: 3600 a quarter calls for a lens dosimeter, not a ring.
        workload(&mut fx, "NOLENS", IC, m, 12, 100.0);
        // 20 x 100 = 2000 a month: 6000 a quarter calls for both.
        for w in ["RINGLESS", "COVERED", "NURSE"] {
            workload(&mut fx, w, IC, m, 20, 100.0);
        }
        fx.lab("RINGLESS", IC, Lens, m, LastDay, 0.6);
        fx.lab("COVERED", IC, Lens, m, LastDay, 0.6);
        fx.lab("COVERED", IC, Ring("left"), m, LastDay, 5.0);
    }

    // --- a significant event to investigate
    fx.worker("ESRX", NM, "radiographer", false, None);
    let mut esr = vec![0.02; 12];
    esr[8] = 5.2;
    fx.series("ESRX", NM, Badge, jul24, LastDay, &esr);
    fx
}

fn advisor_lake() -> &'static Path {
    static LAKE: OnceLock<PathBuf> = OnceLock::new();
    LAKE.get_or_init(|| advisor_fixture().ingest(&scratch("advisor")))
}

/// (worker, level, body site) of every overexposure row, with the row.
fn levels(lake: &Path) -> Vec<(String, String, String, Row)> {
    sql_json(lake, "SELECT * FROM overexposure ORDER BY worker_id, level, body_site, window_start")
        .into_iter()
        .map(|r| (s(&r, "worker_id").to_string(), s(&r, "level").to_string(), s(&r, "body_site").to_string(), r))
        .collect()
}

fn has(rows: &[(String, String, String, Row)], w: &str, level: &str) -> bool {
    rows.iter().any(|(ww, l, _, _)| ww == w && l == level)
}

fn one<'a>(rows: &'a [(String, String, String, Row)], w: &str, level: &str) -> &'a Row {
    let found: Vec<&Row> = rows.iter().filter(|(ww, l, _, _)| ww == w && l == level).map(|x| &x.3).collect();
    assert_eq!(found.len(), 1, "one {level} row for {w}: {found:?}");
    found[0]
}

fn missing_periods(lake: &Path, worker: &str) -> Vec<(String, String)> {
    sql_json(
        lake,
        &format!(
            "SELECT period_start, quantity FROM missing_badge WHERE worker_id = '{worker}' AND signal = 'not_returned' \
             ORDER BY period_start"
        ),
    )
    .iter()
    .map(|r| (s(r, "period_start").to_string(), s(r, "quantity").to_string()))
    .collect()
}

#[test]
fn a_lost_result_is_hidden_only_by_its_own_dosimeter_or_an_assigned_dose() {
    let lake = advisor_lake();
    // The right ring does not stand for the lost left one.
    assert_eq!(missing_periods(lake, "LOSTL"), [("2024-09-01T00:00:00Z".to_string(), "Hp007".to_string())]);
    let w = sql_json(
        lake,
        "SELECT body_site, dose_msv, missing_results FROM rolling_12_months \
         WHERE worker_id = 'LOSTL' AND end_month = 2025 * 12 + 5 ORDER BY body_site",
    );
    assert_eq!(w.len(), 2, "{w:?}");
    assert_eq!((s(&w[0], "body_site"), i(&w[0], "missing_results")), ("finger/left", 1), "{w:?}");
    assert!(close(f(&w[0], "dose_msv"), 110.0) && close(f(&w[1], "dose_msv"), 120.0), "{w:?}");
    assert_eq!(i(&w[1], "missing_results"), 0);
    // Another employer's badge does not stand for the lost one.
    assert_eq!(missing_periods(lake, "TWOEMP"), [("2024-10-01T00:00:00Z".to_string(), "Hp10".to_string())]);
    // The physician's assigned dose replaces the lost badge and counts.
    assert!(missing_periods(lake, "ESTIM").is_empty());
    let e = sql_json(
        lake,
        "SELECT dose_msv, results_count, missing_results FROM rolling_12_months \
         WHERE worker_id = 'ESTIM' AND end_month = 2025 * 12 + 5",
    );
    assert!(close(f(&e[0], "dose_msv"), 11.0 * 0.5 + 0.7) && i(&e[0], "missing_results") == 0, "{e:?}");
}

#[test]
fn a_ring_without_laterality_counts_for_the_hand_it_belongs_to() {
    let rows = levels(advisor_lake());
    let lim = one(&rows, "NOLAT", "limit");
    assert_eq!(s(lim, "body_site"), "finger/left");
    assert!(close(f(lim, "dose_msv"), 540.0), "{lim:?}");
    assert!(!rows.iter().any(|(w, _, site, _)| w == "NOLAT" && site.ends_with("unspecified")), "{rows:?}");
    // Two rings both read: each hand its own sum, neither flagged at the limit.
    assert!(!has(&rows, "LOSTL", "limit"));
}

#[test]
fn a_pregnancy_ends_at_the_expected_date_with_a_warning_before_the_limit() {
    let rows = levels(advisor_lake());
    assert!(!has(&rows, "PREGEND", "pregnancy"), "June 2025 is after the expected end");
    let warn = one(&rows, "PREGEND", "pregnancy_warning");
    assert!(close(f(warn, "threshold_msv"), 0.5), "{warn:?}");
    // August to January: 0.6 > 0.5.
    assert_eq!(s(warn, "window_end"), "2025-01-31T00:00:00Z");
    assert!(close(f(warn, "dose_msv"), 0.6), "{warn:?}");
    assert_eq!(s(warn, "basis"), "measured");
    let end = s(warn, "episode_end");
    assert!(end.starts_with("2025-05-0"), "nine months after 2024-08-01: {end}");
}

#[test]
fn classification_flags_doses_above_what_the_category_allows() {
    let rows = levels(advisor_lake());
    let b = one(&rows, "CLB", "classification");
    assert!(close(f(b, "threshold_msv"), 6.0) && f(b, "dose_msv") > 6.0, "{b:?}");
    assert_eq!(s(b, "category"), "B");
    assert!(s(b, "evidence").contains("criterion 1a"), "{b:?}");
    let n = one(&rows, "CLN", "classification");
    assert!(close(f(n, "threshold_msv"), 1.0) && f(n, "dose_msv") > 1.0, "{n:?}");
    // First window above 1 mSv: July to June is the twelfth month (11 x 0.1 = 1.1 already in May).
    assert_eq!(s(n, "window_end"), "2025-05-31T00:00:00Z");
    for w in ["CLB2", "CLA", "CLR", "DOWNA", "ESRX", "LCOL3"] {
        assert!(!has(&rows, w, "classification"), "{w}: {rows:?}");
    }
    assert!(has(&rows, "CLA", "investigation"), "an A worker at 7.2 is an investigation, not a classification event");
}

#[test]
fn classification_review_prompts_both_ways() {
    let rows = sql_json(advisor_lake(), "SELECT * FROM classification_review ORDER BY worker_id");
    let got: BTreeSet<(String, String, String)> = rows
        .iter()
        .map(|r| (s(r, "worker_id").into(), s(r, "category").into(), s(r, "suggested_category").into()))
        .collect();
    let want: BTreeSet<(String, String, String)> = [("CLB", "B", "A"), ("CLN", "none", "B"), ("DOWNA", "A", "B")]
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(got, want, "{rows:#?}");
    let down = rows.iter().find(|r| s(r, "worker_id") == "DOWNA").expect("DOWNA");
    assert_eq!(s(down, "window_start"), "2023-07-01T00:00:00Z");
    assert!(close(f(down, "dose_msv"), 1.2), "{down:?}");
    assert!(s(down, "evidence").contains("24 months"), "{down:?}");
}

#[test]
fn the_lens_is_estimated_from_the_collar_and_kept_out_of_the_legal_record() {
    let lake = advisor_lake();
    let rows = levels(lake);
    let est = one(&rows, "LCOL", "lens_estimate");
    assert_eq!((s(est, "quantity"), s(est, "basis"), s(est, "body_site")), ("Hp3", "estimated", "eye/estimated"));
    assert!(close(f(est, "threshold_msv"), 15.0), "{est:?}");
    // 11 x 1.5 = 16.5 > 15 in May 2025.
    assert!(close(f(est, "dose_msv"), 16.5) && s(est, "window_end") == "2025-05-31T00:00:00Z", "{est:?}");
    for w in ["LCOL2", "LCOL3"] {
        assert!(!has(&rows, w, "lens_estimate"), "{w}");
    }
    // Every other row is measured; no estimate reaches the legal sums.
    assert!(rows.iter().all(|(_, l, _, r)| (l == "lens_estimate") == (s(r, "basis") == "estimated")));
    assert_eq!(sql_count(lake, "SELECT count(*) AS n FROM rolling_12_months WHERE body_site = 'eye/estimated'"), 0);
    assert_eq!(
        sql_count(lake, "SELECT count(*) AS n FROM legal_results WHERE quantity = 'Hp3' AND worker_id = 'LCOL'"),
        0
    );
}

#[test]
fn coverage_names_the_dosimeters_a_workload_calls_for() {
    let lake = advisor_lake();
    let found: BTreeSet<(String, String)> = sql_json(
        lake,
        "SELECT worker_id, signal FROM missing_badge WHERE signal IN ('no_lens_dosimeter', 'no_extremity_dosimeter')",
    )
    .iter()
    .map(|r| (s(r, "worker_id").to_string(), s(r, "signal").to_string()))
    .collect();
    let want: BTreeSet<(String, String)> = [
        ("NOLENS", "no_lens_dosimeter"),
        ("RINGLESS", "no_extremity_dosimeter"),
        // 4.5 mSv a quarter at the collar calls for a lens dosimeter, whatever the workload.
        ("LCOL", "no_lens_dosimeter"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(found, want);
    let q = sql_json(
        lake,
        "SELECT period_start, period_end, evidence FROM missing_badge \
         WHERE worker_id = 'NOLENS' AND signal = 'no_lens_dosimeter' ORDER BY period_start",
    );
    assert_eq!(q.len(), 4, "one row per quarter: {q:?}");
    assert_eq!((s(&q[0], "period_start"), s(&q[0], "period_end")), ("2024-07-01T00:00:00Z", "2024-09-30T00:00:00Z"));
    assert!(s(&q[0], "evidence").contains("3600 Gy.cm2"), "{q:?}");
}

#[test]
fn collective_dose_and_dose_classes_per_category() {
    let lake = advisor_lake();
    let rad = sql_json(lake, "SELECT * FROM department_dose WHERE department = 'radiology'");
    assert_eq!(rad.len(), 1, "{rad:?}");
    assert!(close(f(&rad[0], "collective_dose_msv"), 1.2) && i(&rad[0], "workers") == 1, "{rad:?}");
    assert!(rad[0].get("previous_collective_dose_msv").is_none_or(Value::is_null), "{rad:?}");
    // Nuclear medicine: this year and last year, DOWNA and DOWNA2 only before July 2024.
    let nm = &sql_json(lake, "SELECT * FROM department_dose WHERE department = 'nuclear-medicine'")[0];
    assert!(close(f(nm, "previous_collective_dose_msv"), 2.4), "{nm:?}");
    let classes = sql_json(
        lake,
        "SELECT category, dose_class, workers FROM dose_classes WHERE period_label = 'last 12 months' \
         AND category = 'none'",
    );
    assert_eq!(classes.len(), 1, "{classes:?}");
    assert_eq!((s(&classes[0], "dose_class"), i(&classes[0], "workers")), ("1-6", 1));
}

/// A small lake per test that records decisions.
fn esr_lake(name: &str) -> PathBuf {
    let mut fx = Fixture::default();
    fx.worker("ESRX", NM, "radiographer", false, None);
    fx.worker("CLEAN", NM, "radiographer", false, None);
    let mut esr = vec![0.02; 12];
    esr[8] = 5.2;
    fx.series("ESRX", NM, Dosimeter::Badge, jul24(), Ends::LastDay, &esr);
    fx.series("CLEAN", NM, Dosimeter::Badge, jul24(), Ends::LastDay, &[0.1; 12]);
    fx.ingest(&scratch(name))
}

#[test]
fn esr_candidates_are_to_investigate_until_a_decision_is_recorded() {
    let lake = esr_lake("esr-register");
    let reg = sql_json(&lake, "SELECT * FROM esr_register");
    assert_eq!(reg.len(), 1, "{reg:?}");
    let r = &reg[0];
    assert_eq!((s(r, "worker_id"), s(r, "level"), s(r, "status")), ("ESRX", "esr", "to investigate"));
    assert!(s(r, "evidence").starts_with("to investigate"), "{r:?}");
    assert!(s(r, "criterion").contains("criterion 1b"));
    let day = |k: &str| chrono::DateTime::parse_from_rfc3339(s(r, k)).expect(k).date_naive();
    let (detected, declare, report) = (day("detected_at"), day("declare_by"), day("report_by"));
    let gap = (declare - detected).num_days();
    assert!((2..=4).contains(&gap), "two working days: {detected} -> {declare}");
    assert!(chrono::Datelike::weekday(&declare).number_from_monday() <= 5, "{declare}");
    assert!((59..=62).contains(&(report - declare).num_days()), "{declare} -> {report}");
    assert!(r.get("decided_by").is_none_or(Value::is_null), "{r:?}");

    // A decision needs the level it is about.
    let out = alara()
        .args(["explain", "--lake"])
        .arg(&lake)
        .args(["--worker", "ESRX", "--from", "2025-03-01", "--to", "2025-03-31", "--reason", "x"])
        .args(["--decision", "declared"])
        .output()
        .expect("alara");
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let out = alara()
        .args(["explain", "--lake"])
        .arg(&lake)
        .args(["--worker", "ESRX", "--from", "2025-03-01", "--to", "2025-03-31", "--reason", "x"])
        .args(["--signal", "esr", "--decision", "maybe"])
        .output()
        .expect("alara");
    assert_eq!(out.status.code(), Some(2));
    run_ok(
        alara()
            .args(["explain", "--lake"])
            .arg(&lake)
            .args(["--worker", "ESRX", "--from", "2025-03-01", "--to", "2025-03-31"])
            .args(["--reason", "badge left on the CT console, declared to ASNR on 3 April"])
            .args(["--signal", "esr", "--decision", "declared", "--by", "CRP Dupont"]),
    );
    let r = &sql_json(&lake, "SELECT * FROM esr_register")[0];
    assert_eq!((s(r, "status"), s(r, "decided_by")), ("declared", "CRP Dupont"));
    assert!(s(r, "reason").contains("declared to ASNR"));
    assert_eq!(r.get("overdue").and_then(Value::as_bool), Some(false), "{r:?}");
    let d = sql_json(&lake, "SELECT decision FROM explanations WHERE worker_id = 'ESRX'");
    assert_eq!(s(&d[0], "decision"), "declared");
    // The finding itself stays: a dose above a level remains a fact.
    assert_eq!(
        sql_count(&lake, "SELECT count(*) AS n FROM overexposure WHERE worker_id = 'ESRX' AND level = 'esr'"),
        1
    );
}

#[test]
fn the_inspection_indicator_counts_analysed_results_and_explained_heterogeneities() {
    let lake = crate::detect::peers_fixture().ingest(&scratch("indicator"));
    let row = |lake: &Path| {
        let r = sql_json(lake, "SELECT * FROM inspection_indicator WHERE period_label = 'last 12 months'");
        assert_eq!(r.len(), 1, "one department: {r:?}");
        r[0].clone()
    };
    let r = row(&lake);
    // 11 cardiologists x 12 monthly badges, all read, in a group of 11.
    assert_eq!((s(&r, "department"), i(&r, "results")), (IC, 132));
    assert!(close(f(&r, "analysed_share"), 1.0), "{r:?}");
    let het = sql_count(&lake, "SELECT count(*) AS n FROM heterogeneity_signals")
        + sql_count(&lake, "SELECT count(*) AS n FROM missing_badge_signals WHERE signal = 'zero_while_peers_exposed'");
    assert!(het >= 5, "{het}");
    assert_eq!(i(&r, "heterogeneities"), het);
    assert!(close(f(&r, "explained_share"), 0.0) && s(&r, "band") == "priority", "{r:?}");
    // Explain every finding of O1 and M1 and Z1 (the whole period): the share rises accordingly.
    for w in ["O1", "M1", "Z1"] {
        run_ok(alara().args(["explain", "--lake"]).arg(&lake).args([
            "--worker",
            w,
            "--from",
            "2024-07-01",
            "--to",
            "2025-06-30",
            "--reason",
            "reviewed with the CRP",
        ]));
    }
    let explained = sql_count(
        &lake,
        "SELECT count(*) AS n FROM (SELECT DISTINCT worker_id, level_or_signal, period_start FROM explained_findings \
         WHERE level_or_signal IN ('peer_outlier', 'passive_operational_mismatch', 'zero_while_peers_exposed'))",
    );
    let r = row(&lake);
    assert_eq!(i(&r, "explained"), explained);
    assert!((f(&r, "explained_share") - explained as f64 / het as f64).abs() < 1e-4, "{r:?}");
    let want = if explained as f64 / het as f64 >= 0.85 {
        "satisfactory"
    } else if explained as f64 / het as f64 >= 0.65 {
        "progress"
    } else {
        "priority"
    };
    assert_eq!(s(&r, "band"), want, "{r:?}");
    assert!(explained > 0);
}
