//! Detections end to end, through the real binary (`alara ingest`, `alara sql`, `alara explain`):
//!
//! * small cases built here, one worker per level or signal, next to clean controls that must
//!   stay silent (a duplicated near-limit series, a corrected typo, a leap-year February, a
//!   worker on leave, peers with ordinary doses);
//! * the generator's injected cases scored against its manifest (precision and recall printed;
//!   every injected case found; controls never flagged at limit, esr or pregnancy);
//! * the 12-month sums and the limit / investigation / esr rows cross-checked against an
//!   independent computation from the lake's Parquet files (tests/crosscheck/rolling.py, DuckDB).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use chrono::{Datelike, Months, NaiveDate};
use serde_json::{Map, Value, json};

use crate::common::*;

pub(crate) type Row = Map<String, Value>;

/// A valid (Luhn) SIRET for every built record.
pub(crate) const SIRET: &str = "26750045200011";

// ---------------------------------------------------------------------------------------------
// Building input files

/// A calendar month.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Month(pub(crate) NaiveDate);

impl Month {
    pub(crate) fn new(year: i32, month: u32) -> Month {
        Month(NaiveDate::from_ymd_opt(year, month, 1).expect("valid month"))
    }
    pub(crate) fn plus(self, k: u32) -> Month {
        Month(self.0 + Months::new(k))
    }
    pub(crate) fn first(self) -> String {
        self.0.to_string()
    }
    pub(crate) fn next_first(self) -> String {
        self.plus(1).0.to_string()
    }
    pub(crate) fn last(self) -> String {
        self.plus(1).0.pred_opt().expect("a day before").to_string()
    }
    pub(crate) fn label(self) -> String {
        format!("{:04}{:02}", self.0.year(), self.0.month())
    }
    pub(crate) fn day(self, d: u32) -> String {
        self.0.with_day(d).expect("valid day").to_string()
    }
}

/// The dosimeters of the legal record.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Dosimeter {
    /// Passive whole-body badge, Hp10 under the apron.
    Badge,
    /// Eye-lens dosimeter, Hp3, left eye.
    Lens,
    /// Ring, Hp007, on the given hand.
    Ring(&'static str),
    /// Ring, Hp007, with no laterality given.
    RingNoSide,
    /// Passive Hp007 badge worn at the collar, over the apron (a lens surrogate).
    Collar,
}

/// How a lab writes period_end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Ends {
    /// The last day of the month (bare date).
    LastDay,
    /// Midnight at the start of the next month.
    NextMidnight,
}

#[derive(Default)]
pub(crate) struct Fixture {
    pub(crate) readings: Vec<Value>,
    pub(crate) workers: Vec<String>,
    pub(crate) procedures: Vec<String>,
}

impl Fixture {
    pub(crate) fn worker(&mut self, id: &str, department: &str, role: &str, apprentice: bool, pregnancy: Option<&str>) {
        self.worker_version(id, department, role, "A", apprentice, pregnancy, "2020-01-01T00:00:00Z");
    }

    /// One version of a worker, with its category and valid_from.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn worker_version(
        &mut self,
        id: &str,
        department: &str,
        role: &str,
        category: &str,
        apprentice: bool,
        pregnancy: Option<&str>,
        valid_from: &str,
    ) {
        self.workers.push(format!(
            "{id};{SIRET};{department};{role};{category};{};{apprentice};{valid_from}",
            pregnancy.unwrap_or("")
        ));
    }

    /// One lab result for a whole month; `dose` below 0.05 mSv is reported below threshold.
    pub(crate) fn lab(
        &mut self,
        worker: &str,
        department: &str,
        d: Dosimeter,
        m: Month,
        ends: Ends,
        dose: f64,
    ) -> Value {
        let (status, value) = if dose < 0.05 { ("below_threshold", Value::Null) } else { ("measured", json!(dose)) };
        self.lab_status(worker, department, d, m, ends, status, value)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn lab_status(
        &mut self,
        worker: &str,
        department: &str,
        d: Dosimeter,
        m: Month,
        ends: Ends,
        status: &str,
        dose: Value,
    ) -> Value {
        let (monitoring, quantity, position, laterality, code) = match d {
            Dosimeter::Badge => ("passive", "Hp10", "under_apron", Value::Null, "WB".to_string()),
            Dosimeter::Lens => ("lens", "Hp3", "eye", json!("left"), "LENS".to_string()),
            Dosimeter::Ring(side) => ("extremity", "Hp007", "finger", json!(side), format!("RING{side}")),
            Dosimeter::RingNoSide => ("extremity", "Hp007", "finger", Value::Null, "RINGX".to_string()),
            Dosimeter::Collar => ("passive", "Hp007", "collar", Value::Null, "COLLAR".to_string()),
        };
        let end = if ends == Ends::LastDay { m.last() } else { m.next_first() };
        let v = json!({
            "reading_id": format!("{worker}-{code}-{}", m.label()),
            "revision": 0,
            "source": "LAB",
            "worker_id": worker,
            "employer_siret": SIRET,
            "department": department,
            "dosimeter_id": format!("D-{worker}-{code}-{}", m.label()),
            "monitoring": monitoring,
            "position": position,
            "laterality": laterality,
            "quantity": quantity,
            "status": status,
            "dose_msv": dose,
            "recording_threshold_msv": 0.05,
            "period_start": m.first(),
            "period_end": end,
        });
        self.readings.push(v.clone());
        v
    }

    /// Monthly results from `first`, one per dose.
    pub(crate) fn series(
        &mut self,
        worker: &str,
        department: &str,
        d: Dosimeter,
        first: Month,
        ends: Ends,
        doses: &[f64],
    ) {
        for (i, dose) in doses.iter().enumerate() {
            self.lab(worker, department, d, first.plus(i as u32), ends, *dose);
        }
    }

    /// One operational entry (08:00–10:00 UTC) on `day`.
    pub(crate) fn entry(&mut self, worker: &str, department: &str, day: &str, dose: f64) {
        self.readings.push(json!({
            "reading_id": format!("EPD-{worker}-{day}"),
            "source": "EPD",
            "worker_id": worker,
            "employer_siret": SIRET,
            "department": department,
            "dosimeter_id": "EPD-07",
            "monitoring": "operational",
            "position": "under_apron",
            "quantity": "Hp10",
            "status": "measured",
            "dose_msv": dose,
            "recording_threshold_msv": 0.001,
            "period_start": format!("{day}T08:00:00Z"),
            "period_end": format!("{day}T10:00:00Z"),
        }));
    }

    /// One fluoroscopy procedure (08:10–09:10 UTC, 300 s, 25 Gy·cm²) on `day`.
    pub(crate) fn procedure(&mut self, worker: &str, department: &str, day: &str) {
        self.procedures.push(format!(
            "P-{worker}-{day},{worker},{department},cath-lab-1,PCI,{day}T08:10:00Z,{day}T09:10:00Z,300,25"
        ));
    }

    /// Writes the three files into `dir` and ingests them into `dir/lake`.
    pub(crate) fn ingest(&self, dir: &Path) -> PathBuf {
        let text: String = self.readings.iter().map(|v| format!("{v}\n")).collect();
        let readings = write(dir, "readings.jsonl", &text);
        let workers = write(
            dir,
            "workers.csv",
            &format!(
                "worker_id;employer_siret;department;role;category;pregnancy_declared_on;apprentice;valid_from\n{}\n",
                self.workers.join("\n")
            ),
        );
        let procedures = write(
            dir,
            "procedures.csv",
            &format!(
                "procedure_id,worker_id,department,room,procedure_type,started_at,ended_at,fluoroscopy_s,dap_gycm2\n{}\n",
                self.procedures.join("\n")
            ),
        );
        let lake = dir.join("lake");
        let out = run_ok(
            alara()
                .args(["ingest", "--lake"])
                .arg(&lake)
                .arg("--readings")
                .arg(&readings)
                .arg("--workers")
                .arg(&workers)
                .arg("--procedures")
                .arg(&procedures),
        );
        let log = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
        assert!(
            sql_count(&lake, "SELECT count(*) AS n FROM rejects") == 0,
            "built fixtures must be valid: {log}\n{:?}",
            sql_json(&lake, "SELECT origin, reason FROM rejects")
        );
        lake
    }
}

/// A directory of the calling test's own: a fresh, uniquely named tempfile directory under the
/// test target dir, so two runs at once never share or delete each other's fixtures. It is kept
/// after the run (the shared lakes live in statics, which are never dropped, and a failed test's
/// lake is worth reading); `cargo clean` removes them.
pub(crate) fn scratch(name: &str) -> PathBuf {
    let parent = Path::new(env!("CARGO_TARGET_TMPDIR")).join("detect");
    std::fs::create_dir_all(&parent).expect("creating the scratch parent");
    tempfile::Builder::new().prefix(&format!("{name}-")).tempdir_in(&parent).expect("creating scratch dir").keep()
}

pub(crate) fn s<'a>(row: &'a Row, key: &str) -> &'a str {
    row.get(key).and_then(Value::as_str).unwrap_or_else(|| panic!("no string {key} in {row:?}"))
}

pub(crate) fn f(row: &Row, key: &str) -> f64 {
    row.get(key).and_then(Value::as_f64).unwrap_or_else(|| panic!("no number {key} in {row:?}"))
}

pub(crate) fn i(row: &Row, key: &str) -> i64 {
    row.get(key).and_then(Value::as_i64).unwrap_or_else(|| panic!("no integer {key} in {row:?}"))
}

pub(crate) fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

// ---------------------------------------------------------------------------------------------
// Overexposure: one worker per level, and the controls

pub(crate) const NM: &str = "nuclear-medicine";
pub(crate) const IC: &str = "interventional-cardiology";

fn overexposure_fixture() -> Fixture {
    use Dosimeter::*;
    use Ends::*;
    let mut fx = Fixture::default();
    let jul24 = Month::new(2024, 7);
    let jan24 = Month::new(2024, 1);
    for w in ["LIM", "LIMX", "LEAP", "ADU", "ESR", "NOESR", "DUP", "LOST", "CLEAN", "QTR", "TWOJOB"] {
        fx.worker(w, NM, "radiographer", false, None);
    }
    fx.worker("APP", NM, "radiographer", true, None);
    fx.worker("PREG", NM, "nurse", false, Some("2025-01-10"));
    fx.worker("PREGLOW", NM, "nurse", false, Some("2025-01-10"));
    for w in ["PROJ", "STEADY", "HANDS", "TYPO"] {
        fx.worker(w, IC, "cardiologist", false, None);
    }

    // limit: 6 quiet months, then 12 at 1.9. The window ending May 2025 is the first above 20
    // (0.1 + 11 x 1.9 = 21.0), June 2025 the peak (22.8); April 2025 holds 19.2.
    let lim: Vec<f64> = [vec![0.1; 6], vec![1.9; 12]].concat();
    fx.series("LIM", NM, Badge, jan24, LastDay, &lim);
    // The same with periods ending at midnight of the next month.
    fx.series("LIMX", NM, Badge, jan24, NextMidnight, &lim);
    // 13 monthly badges of 1.6 from February 2024 (29 days) to February 2025: 20.8 over 13
    // months, 19.2 over any 12: no limit.
    fx.series("LEAP", NM, Badge, Month::new(2024, 2), LastDay, &[1.6; 13]);
    // 0.6 a month: above the apprentice limit (6) after 11 months, under the adult one.
    fx.series("APP", NM, Badge, jul24, LastDay, &[0.6; 12]);
    fx.series("ADU", NM, Badge, jul24, LastDay, &[0.6; 12]);
    // esr: one badge of 5.2 in March 2025 among below-threshold months; 4.9 stays silent.
    let mut esr = vec![0.02; 12];
    esr[8] = 5.2;
    fx.series("ESR", NM, Badge, jul24, LastDay, &esr);
    esr[8] = 4.9;
    fx.series("NOESR", NM, Badge, jul24, LastDay, &esr);
    // pregnancy declared on 10 January 2025: February to May add up to 1.2 mSv (the January
    // badge started before the declaration); 0.15 a month stays under 1 mSv.
    fx.series("PREG", NM, Badge, jul24, LastDay, &[0.3; 12]);
    fx.series("PREGLOW", NM, Badge, jul24, LastDay, &[0.15; 12]);
    // projected: lens 0.5 a month, then 2.5, 2.6, 2.7: 12.3 mSv in 12 months but 22.4 mSv a
    // year at the rate of March-May. A steady 1.5 a month (18 a year) is not projected.
    let proj: Vec<f64> = [vec![0.5; 9], vec![2.5, 2.6, 2.7]].concat();
    fx.series("PROJ", IC, Lens, jul24, LastDay, &proj);
    fx.series("STEADY", IC, Lens, jul24, LastDay, &[1.5; 12]);
    // Two rings: the left hand reaches 540 mSv, the right 480; the limit is per hand.
    fx.series("HANDS", IC, Ring("left"), jul24, LastDay, &[45.0; 12]);
    fx.series("HANDS", IC, Ring("right"), jul24, LastDay, &[40.0; 12]);
    // A near-limit series (19.2) sent three times: the same lines again, and once more under new
    // reading ids for the same dosimeters and periods.
    fx.series("DUP", NM, Badge, jul24, LastDay, &[1.6; 12]);
    let dup: Vec<Value> = fx.readings.iter().filter(|r| r["worker_id"] == "DUP").cloned().collect();
    for mut r in dup {
        fx.readings.push(r.clone());
        r["reading_id"] = json!(format!("RESENT-{}", r["reading_id"].as_str().unwrap_or_default()));
        fx.readings.push(r);
    }
    // A decimal slip (45.0 for 0.45) corrected by revision 1 of the same reading.
    fx.series("TYPO", IC, Lens, jul24, LastDay, &[0.45; 12]);
    let mut slip = fx.readings.iter().rfind(|r| r["worker_id"] == "TYPO").cloned().expect("typo reading");
    let corrected = slip.clone();
    slip["dose_msv"] = json!(45.0);
    let at = fx.readings.iter().position(|r| *r == corrected).expect("position");
    fx.readings.insert(at, slip);
    fx.readings[at + 1]["revision"] = json!(1);
    // 1.6 a month with September 2024 lost (never replaced) and November not returned but
    // replaced by a dose estimated by the occupational physician.
    for k in 0..12 {
        let m = jul24.plus(k);
        match m.label().as_str() {
            "202409" => {
                fx.lab_status("LOST", NM, Badge, m, LastDay, "lost", Value::Null);
            }
            "202411" => {
                fx.lab_status("LOST", NM, Badge, m, LastDay, "not_returned", Value::Null);
                let mut est = fx.lab("LOST", NM, Badge, m, LastDay, 1.6);
                fx.readings.pop();
                est["source"] = json!("MDT");
                est["reading_id"] = json!("MDT-LOST-202411");
                est["status"] = json!("estimated");
                fx.readings.push(est);
            }
            _ => {
                fx.lab("LOST", NM, Badge, m, LastDay, 1.6);
            }
        }
    }
    fx.series("CLEAN", NM, Badge, jul24, LastDay, &[0.1; 12]);
    // Quarterly badges: 4.9 + 4.9 + 4.9 + 5.4 = 20.1 over four quarters, one of them an esr.
    for (q, dose) in [4.9, 4.9, 4.9, 5.4].into_iter().enumerate() {
        let m = jul24.plus(3 * q as u32);
        let mut v = fx.lab("QTR", NM, Badge, m, LastDay, dose);
        fx.readings.pop();
        v["period_end"] = json!(m.plus(2).last());
        fx.readings.push(v);
    }
    // Two employers, two badges a month of 0.9 each: the effective dose is their sum (21.6).
    fx.series("TWOJOB", NM, Badge, jul24, LastDay, &[0.9; 12]);
    let second: Vec<Value> = fx.readings.iter().filter(|r| r["worker_id"] == "TWOJOB").cloned().collect();
    for mut r in second {
        r["source"] = json!("OTHER-LAB");
        r["dosimeter_id"] = json!(format!("OTHER-{}", r["dosimeter_id"].as_str().unwrap_or_default()));
        fx.readings.push(r);
    }
    fx
}

fn overexposure_lake() -> &'static Path {
    static LAKE: OnceLock<PathBuf> = OnceLock::new();
    LAKE.get_or_init(|| overexposure_fixture().ingest(&scratch("overexposure")))
}

pub(crate) fn overexposure_rows(lake: &Path) -> BTreeMap<(String, String, String, String), Row> {
    let mut out = BTreeMap::new();
    for r in sql_json(lake, "SELECT * FROM overexposure") {
        let key = (
            s(&r, "worker_id").to_string(),
            s(&r, "level").to_string(),
            s(&r, "quantity").to_string(),
            s(&r, "body_site").to_string(),
        );
        assert!(out.insert(key.clone(), r).is_none(), "one row per worker, level, quantity, site and episode: {key:?}");
    }
    out
}

#[test]
fn overexposure_flags_each_level_and_nothing_else() {
    let rows = overexposure_rows(overexposure_lake());
    let got: BTreeSet<(String, String, String)> =
        rows.keys().map(|(w, l, q, site)| (w.clone(), l.clone(), format!("{q} {site}"))).collect();
    let wb = "Hp10 whole_body";
    let want: BTreeSet<(String, String, String)> = [
        ("LIM", "limit", wb),
        ("LIM", "investigation", wb),
        ("LIM", "projected", wb),
        ("LIMX", "limit", wb),
        ("LIMX", "investigation", wb),
        ("LIMX", "projected", wb),
        ("LEAP", "investigation", wb),
        ("APP", "limit", wb),
        ("APP", "investigation", wb),
        ("APP", "projected", wb),
        ("ADU", "investigation", wb),
        ("ESR", "esr", wb),
        ("ESR", "projected", wb),
        ("PREG", "pregnancy", wb),
        ("PREG", "pregnancy_warning", wb),
        ("PREGLOW", "pregnancy_warning", wb),
        ("PROJ", "projected", "Hp3 eye/left"),
        ("STEADY", "investigation", "Hp3 eye/left"),
        ("HANDS", "limit", "Hp007 finger/left"),
        ("HANDS", "investigation", "Hp007 finger/left"),
        ("HANDS", "investigation", "Hp007 finger/right"),
        ("HANDS", "projected", "Hp007 finger/left"),
        ("DUP", "investigation", wb),
        ("LOST", "investigation", wb),
        ("QTR", "limit", wb),
        ("QTR", "esr", wb),
        ("QTR", "investigation", wb),
        ("TWOJOB", "limit", wb),
        ("TWOJOB", "investigation", wb),
        ("TWOJOB", "projected", wb),
    ]
    .iter()
    .map(|(w, l, q)| (w.to_string(), l.to_string(), q.to_string()))
    .collect();
    let missing: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(missing.is_empty() && extra.is_empty(), "missing findings: {missing:?}\nunexpected findings: {extra:?}");
}

fn row<'a>(
    rows: &'a BTreeMap<(String, String, String, String), Row>,
    w: &str,
    level: &str,
    q: &str,
    site: &str,
) -> &'a Row {
    rows.get(&(w.into(), level.into(), q.into(), site.into())).unwrap_or_else(|| panic!("no {level} row for {w}"))
}

#[test]
fn a_limit_excess_is_one_row_on_the_first_window_that_crossed() {
    let rows = overexposure_rows(overexposure_lake());
    let lim = row(&rows, "LIM", "limit", "Hp10", "whole_body");
    assert_eq!(s(lim, "window_start"), "2024-06-01T00:00:00Z");
    assert_eq!(s(lim, "window_end"), "2025-05-31T00:00:00Z");
    assert!(close(f(lim, "dose_msv"), 21.0), "{lim:?}");
    assert!(close(f(lim, "threshold_msv"), 20.0));
    assert!(close(f(lim, "peak_dose_msv"), 22.8), "{lim:?}");
    assert_eq!(i(lim, "exceeding_windows"), 2);
    assert_eq!(s(lim, "episode_end"), "2025-06-30T00:00:00Z");
    assert_eq!((i(lim, "results_count"), i(lim, "missing_results")), (12, 0));
    assert!(s(lim, "evidence").contains("21"), "{lim:?}");
    // Periods ending at midnight of the next month give the same windows.
    let limx = row(&rows, "LIMX", "limit", "Hp10", "whole_body");
    assert_eq!(s(limx, "window_start"), "2024-06-01T00:00:00Z");
    assert_eq!(s(limx, "window_end"), "2025-06-01T00:00:00Z");
    assert!(close(f(limx, "dose_msv"), 21.0) && close(f(limx, "peak_dose_msv"), 22.8), "{limx:?}");
}

#[test]
fn quarterly_badges_and_second_employers_count_in_the_window() {
    let rows = overexposure_rows(overexposure_lake());
    let qtr = row(&rows, "QTR", "limit", "Hp10", "whole_body");
    assert!(close(f(qtr, "dose_msv"), 20.1) && i(qtr, "results_count") == 4, "{qtr:?}");
    assert_eq!((s(qtr, "window_start"), s(qtr, "window_end")), ("2024-07-01T00:00:00Z", "2025-06-30T00:00:00Z"));
    let esr = row(&rows, "QTR", "esr", "Hp10", "whole_body");
    assert_eq!((s(esr, "window_start"), s(esr, "window_end")), ("2025-04-01T00:00:00Z", "2025-06-30T00:00:00Z"));
    let two = row(&rows, "TWOJOB", "limit", "Hp10", "whole_body");
    assert!(close(f(two, "dose_msv"), 21.6) && i(two, "results_count") == 24, "{two:?}");
    assert_eq!(s(two, "window_end"), "2025-06-30T00:00:00Z");
}

#[test]
fn apprentices_get_their_lower_limit() {
    let rows = overexposure_rows(overexposure_lake());
    let app = row(&rows, "APP", "limit", "Hp10", "whole_body");
    assert_eq!(s(app, "population"), "apprentice");
    assert!(close(f(app, "threshold_msv"), 6.0) && close(f(app, "dose_msv"), 6.6), "{app:?}");
    assert_eq!(s(app, "window_end"), "2025-05-31T00:00:00Z");
    assert_eq!(s(row(&rows, "ADU", "investigation", "Hp10", "whole_body"), "population"), "adult");
}

#[test]
fn esr_pregnancy_and_projected_rows_carry_their_numbers() {
    let rows = overexposure_rows(overexposure_lake());
    let esr = row(&rows, "ESR", "esr", "Hp10", "whole_body");
    assert!(close(f(esr, "dose_msv"), 5.2) && close(f(esr, "threshold_msv"), 5.0), "{esr:?}");
    assert_eq!((s(esr, "window_start"), s(esr, "window_end")), ("2025-03-01T00:00:00Z", "2025-03-31T00:00:00Z"));

    // The January badge (1 to 31 January, 30 days) straddles the declaration of 10 January:
    // 21/30 of its 0.3 mSv count; then 0.3 a month: 0.21, 0.51, 0.81, 1.11 in April.
    let preg = row(&rows, "PREG", "pregnancy", "Hp10", "whole_body");
    assert!(close(f(preg, "dose_msv"), 1.11) && close(f(preg, "threshold_msv"), 1.0), "{preg:?}");
    assert_eq!((s(preg, "window_start"), s(preg, "window_end")), ("2025-01-10T00:00:00Z", "2025-04-30T00:00:00Z"));
    assert_eq!(i(preg, "results_count"), 4, "January (pro rata) to April");
    assert!(s(preg, "evidence").contains("pro rata"), "{preg:?}");
    // The warning level (0.5 mSv) is crossed in February, and by PREGLOW (0.15 a month) in April.
    let warn = row(&rows, "PREG", "pregnancy_warning", "Hp10", "whole_body");
    assert!(close(f(warn, "dose_msv"), 0.51) && close(f(warn, "threshold_msv"), 0.5), "{warn:?}");
    let low = row(&rows, "PREGLOW", "pregnancy_warning", "Hp10", "whole_body");
    assert!(close(f(low, "dose_msv"), 0.555) && s(low, "window_end") == "2025-04-30T00:00:00Z", "{low:?}");

    let proj = row(&rows, "PROJ", "projected", "Hp3", "eye/left");
    assert!(close(f(proj, "dose_msv"), 22.4) && close(f(proj, "threshold_msv"), 20.0), "{proj:?}");
    assert!(close(f(proj, "sum_12_months_msv"), 9.6), "{proj:?}");
    assert!(close(f(proj, "peak_dose_msv"), 31.2), "{proj:?}");
    assert_eq!(s(proj, "window_end"), "2025-05-31T00:00:00Z");
}

#[test]
fn a_lost_badge_is_counted_as_missing_never_as_zero() {
    let lake = overexposure_lake();
    let rows = overexposure_rows(lake);
    // The investigation level is crossed in November 2024: July, August, October and the
    // estimated November dose (4 x 1.6 = 6.4), with September lost.
    let inv = row(&rows, "LOST", "investigation", "Hp10", "whole_body");
    assert_eq!(s(inv, "window_end"), "2024-11-30T00:00:00Z");
    assert!(close(f(inv, "dose_msv"), 6.4), "{inv:?}");
    assert_eq!((i(inv, "results_count"), i(inv, "missing_results")), (4, 1), "{inv:?}");
    assert!(s(inv, "evidence").contains("missing"), "{inv:?}");
    // The window of the last month says the same.
    let w = sql_json(
        lake,
        "SELECT dose_msv, results_count, missing_results FROM rolling_12_months \
         WHERE worker_id = 'LOST' AND end_month = 2025 * 12 + 5",
    );
    assert_eq!(w.len(), 1);
    assert!(close(f(&w[0], "dose_msv"), 17.6) && i(&w[0], "missing_results") == 1, "{w:?}");
    // missing_badge: the lost September badge, not the replaced November one.
    let nr =
        sql_json(lake, "SELECT period_start, evidence FROM missing_badge WHERE signal = 'not_returned' ORDER BY 1");
    let periods: Vec<&str> = nr.iter().map(|r| s(r, "period_start")).collect();
    assert_eq!(periods, ["2024-09-01T00:00:00Z"], "{nr:?}");
    assert!(s(&nr[0], "evidence").contains("lost"));
}

// ---------------------------------------------------------------------------------------------
// Missing badge and heterogeneity: a department of cardiologists

/// Cardiologists of one department over July 2024 – June 2025, each attending 4 fluoroscopy
/// procedures a month (100 Gy·cm²) with one operational entry per procedure day:
/// P1–P5 clean peers (0.30–0.50 mSv a month), Z1 badge left in the locker for 6 months while
/// working, Z2 for 2 months only, L1 on leave for 4 months (no procedures, badge below
/// threshold), O1 five times the dose per unit of workload, M1 a badge that saw 1.4 mSv in
/// February 2025 while the operational dosimeter summed 0.4, N1 without operational dosimeter
/// in March 2025.
pub(crate) fn peers_fixture() -> Fixture {
    let mut fx = Fixture::default();
    let jul24 = Month::new(2024, 7);
    let monthly = [
        ("P1", 0.30),
        ("P2", 0.35),
        ("P3", 0.40),
        ("P4", 0.45),
        ("P5", 0.50),
        ("Z1", 0.40),
        ("Z2", 0.40),
        ("L1", 0.40),
        ("O1", 2.00),
        ("M1", 0.40),
        ("N1", 0.40),
    ];
    for (w, dose) in monthly {
        fx.worker(w, IC, "cardiologist", false, None);
        for k in 0..12 {
            let m = jul24.plus(k);
            let label = m.label();
            let on_leave = w == "L1" && ("202410".."202502").contains(&label.as_str());
            let locker = (w == "Z1" && ("202410".."202504").contains(&label.as_str()))
                || (w == "Z2" && ["202412", "202501"].contains(&label.as_str()));
            if !on_leave {
                for d in [3, 10, 17, 24] {
                    fx.procedure(w, IC, &m.day(d));
                    if !(w == "N1" && label == "202503") {
                        let entry = if w == "M1" && label == "202502" { 0.1 } else { dose / 4.0 };
                        fx.entry(w, IC, &m.day(d), entry);
                    }
                }
            }
            let badge = if on_leave || locker {
                0.0
            } else if w == "M1" && label == "202502" {
                1.4
            } else {
                dose
            };
            fx.lab(w, IC, Dosimeter::Badge, m, Ends::LastDay, badge);
        }
    }
    fx
}

fn peers_lake() -> &'static Path {
    static LAKE: OnceLock<PathBuf> = OnceLock::new();
    LAKE.get_or_init(|| peers_fixture().ingest(&scratch("peers")))
}

pub(crate) fn signals(lake: &Path, view: &str) -> BTreeMap<(String, String), Vec<Row>> {
    let mut out: BTreeMap<(String, String), Vec<Row>> = BTreeMap::new();
    for r in sql_json(lake, &format!("SELECT * FROM {view} ORDER BY worker_id, signal, period_start")) {
        out.entry((s(&r, "worker_id").to_string(), s(&r, "signal").to_string())).or_default().push(r);
    }
    out
}

#[test]
fn zero_while_peers_exposed_is_scored_against_the_peers() {
    let found = signals(peers_lake(), "missing_badge");
    let zero = found.get(&("Z1".into(), "zero_while_peers_exposed".into())).expect("Z1's six empty months");
    assert_eq!(zero.len(), 1, "{zero:?}");
    let z = &zero[0];
    assert_eq!((s(z, "period_start"), s(z, "period_end")), ("2024-10-01T00:00:00Z", "2025-03-31T00:00:00Z"));
    assert_eq!(i(z, "evidence_count"), 6);
    // p is the mean over the 10 peers of share^6, each share (below + 0.5) / (badges + 1): eight
    // peers with no below-threshold badge of 6, Z2 with 2 of 6, and L1 whose four months of
    // leave (no procedure while the department worked) are left out: 0 of 2.
    let p = (8.0 * (0.5f64 / 7.0).powi(6) + (2.5f64 / 7.0).powi(6) + (0.5f64 / 3.0).powi(6)) / 10.0;
    assert!((f(z, "p_value") - p).abs() < 1e-9 * p, "{z:?} vs {p}");
    let ev = s(z, "evidence");
    assert!(ev.contains("6 consecutive") && ev.contains("cardiologist") && ev.contains(IC), "{ev}");
    // Two empty months are not a run; four months of leave without procedures are not either.
    for w in ["Z2", "L1", "P1", "P2", "P3", "P4", "P5", "O1", "M1", "N1"] {
        assert!(!found.contains_key(&(w.into(), "zero_while_peers_exposed".into())), "{w} flagged: {found:?}");
    }
}

#[test]
fn procedures_without_an_operational_reading_that_day_are_listed() {
    let found = signals(peers_lake(), "missing_badge");
    let rows = found.get(&("N1".into(), "procedure_without_dosimeter".into())).expect("N1 in March 2025");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    assert_eq!(s(r, "period_start"), "2025-03-03T00:00:00Z");
    assert_eq!(i(r, "evidence_count"), 4);
    let ev = s(r, "evidence");
    assert!(ev.contains("4 fluoroscopy procedures on 4 days") && ev.contains("P-N1-2025-03-17"), "{ev}");
    let flagged: BTreeSet<&str> =
        found.keys().filter(|(_, sig)| sig == "procedure_without_dosimeter").map(|(w, _)| w.as_str()).collect();
    assert_eq!(flagged, BTreeSet::from(["N1"]));
    // No lab result is missing in this department.
    assert!(!found.keys().any(|(_, sig)| sig == "not_returned"), "{found:?}");
}

#[test]
fn peer_outlier_uses_dose_per_unit_of_workload() {
    let found = signals(peers_lake(), "unexplained_heterogeneity");
    let o1 = found.get(&("O1".into(), "peer_outlier".into())).expect("O1 is an outlier");
    assert_eq!(o1.len(), 4, "one row per quarter: {o1:?}");
    for r in o1 {
        assert_eq!(s(r, "quantity"), "Hp10");
        assert!(f(r, "score") > 3.0 && f(r, "p_value") < 0.001, "{r:?}");
        assert!(f(r, "dose_msv") > 4.0 * f(r, "reference_msv"), "{r:?}");
    }
    for w in ["P1", "P2", "P3", "P4", "P5", "Z1", "Z2", "L1", "N1"] {
        assert!(!found.contains_key(&(w.into(), "peer_outlier".into())), "{w} flagged: {found:?}");
    }
}

#[test]
fn passive_operational_mismatch_beyond_tolerance() {
    let found = signals(peers_lake(), "unexplained_heterogeneity");
    let m1 = found.get(&("M1".into(), "passive_operational_mismatch".into())).expect("M1 in February 2025");
    assert_eq!(m1.len(), 1, "{m1:?}");
    assert_eq!(s(&m1[0], "period_start"), "2025-02-01T00:00:00Z");
    assert!(close(f(&m1[0], "dose_msv"), 1.4) && (f(&m1[0], "reference_msv") - 0.4).abs() < 0.01, "{m1:?}");
    assert!(f(&m1[0], "score") > 1.0, "the badge saw more: {m1:?}");
    // Z1 and Z2 worked with a badge left in the locker: the operational dosimeter saw 0.4 mSv.
    let z1 = found.get(&("Z1".into(), "passive_operational_mismatch".into())).expect("Z1");
    assert_eq!(z1.len(), 6);
    assert!(z1.iter().all(|r| f(r, "score") < 0.0));
    for w in ["P1", "P2", "P3", "P4", "P5", "L1", "O1", "N1"] {
        assert!(!found.contains_key(&(w.into(), "passive_operational_mismatch".into())), "{w} flagged: {found:?}");
    }
}

#[test]
fn an_explanation_suppresses_a_finding_and_keeps_it_auditable() {
    let dir = scratch("explain");
    let lake = peers_fixture().ingest(&dir);
    let explain = |args: &[&str]| {
        run_ok(alara().args(["explain", "--lake"]).arg(&lake).args(args));
    };
    let count = |view: &str, worker: &str, signal: &str| {
        sql_count(
            &lake,
            &format!("SELECT count(*) AS n FROM {view} WHERE worker_id = '{worker}' AND signal = '{signal}'"),
        )
    };
    assert_eq!(count("unexplained_heterogeneity", "M1", "passive_operational_mismatch"), 1);
    // An explanation for another signal, or for part of the period, changes nothing.
    explain(&[
        "--worker",
        "M1",
        "--from",
        "2025-02-01",
        "--to",
        "2025-02-28",
        "--reason",
        "x",
        "--signal",
        "peer_outlier",
    ]);
    explain(&["--worker", "M1", "--from", "2025-02-05", "--to", "2025-02-28", "--reason", "part of the month"]);
    assert_eq!(count("unexplained_heterogeneity", "M1", "passive_operational_mismatch"), 1);
    explain(&[
        "--worker",
        "M1",
        "--from",
        "2025-02-01",
        "--to",
        "2025-02-28",
        "--reason",
        "badge left on the apron in the cath lab",
        "--signal",
        "passive_operational_mismatch",
        "--by",
        "PCR Martin",
    ]);
    assert_eq!(count("unexplained_heterogeneity", "M1", "passive_operational_mismatch"), 0);
    let audit = sql_json(&lake, "SELECT * FROM explained_findings WHERE worker_id = 'M1'");
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(s(&audit[0], "level_or_signal"), "passive_operational_mismatch");
    assert_eq!(s(&audit[0], "reason"), "badge left on the apron in the cath lab");
    assert_eq!(s(&audit[0], "explained_by"), "PCR Martin");
    assert!(audit[0].get("explained_at").and_then(Value::as_str).is_some());
    // Everything else still shows, and findings no longer lists the explained row.
    assert_eq!(count("unexplained_heterogeneity", "O1", "peer_outlier"), 4);
    assert_eq!(
        sql_count(
            &lake,
            "SELECT count(*) AS n FROM findings WHERE worker_id = 'M1' AND level_or_signal = 'passive_operational_mismatch'"
        ),
        0
    );
    // A missing_badge signal is explained the same way, for every signal of the period.
    explain(&[
        "--worker",
        "N1",
        "--from",
        "2025-03-01",
        "--to",
        "2025-03-31",
        "--reason",
        "EPD broken, replaced in April",
    ]);
    assert_eq!(count("missing_badge", "N1", "procedure_without_dosimeter"), 0);
    assert_eq!(sql_count(&lake, "SELECT count(*) AS n FROM explained_findings WHERE worker_id = 'N1'"), 1);
}

#[test]
fn findings_unions_the_three_views_in_one_shape() {
    let lake = peers_lake();
    let n = |sql: &str| sql_count(lake, sql);
    let total = n("SELECT count(*) AS n FROM findings");
    let parts = n("SELECT count(*) AS n FROM overexposure")
        + n("SELECT count(*) AS n FROM missing_badge")
        + n("SELECT count(*) AS n FROM unexplained_heterogeneity");
    assert!(total > 0);
    assert_eq!(total, parts);
    let keys = n("SELECT count(DISTINCT finding_key) AS n FROM findings");
    assert_eq!(keys, total, "finding_key identifies one finding");
    let r = &sql_json(lake, "SELECT * FROM findings WHERE kind = 'unexplained_heterogeneity' LIMIT 1")[0];
    for col in
        ["kind", "level_or_signal", "worker_id", "department", "quantity", "period_start", "period_end", "evidence"]
    {
        assert!(r.get(col).is_some_and(|v| !v.is_null()), "{col} in {r:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// The generator's injected cases

struct Generated {
    lake: PathBuf,
    manifest: alara_generate::Manifest,
}

fn generated() -> &'static Generated {
    static GEN: OnceLock<Generated> = OnceLock::new();
    GEN.get_or_init(|| {
        let dir = scratch("generated");
        let opts = alara_generate::GenerateOptions { workers: 60, months: 24, seed: 7, ..Default::default() };
        let manifest = alara_generate::generate(&dir.join("gen"), &opts).expect("generating");
        let lake = dir.join("lake");
        run_ok(
            alara()
                .args(["ingest", "--lake"])
                .arg(&lake)
                .arg("--readings")
                .arg(dir.join("gen").join(&manifest.files.readings))
                .arg("--workers")
                .arg(dir.join("gen").join(&manifest.files.workers))
                .arg("--procedures")
                .arg(dir.join("gen").join(&manifest.files.procedures)),
        );
        Generated { lake, manifest }
    })
}

#[test]
fn every_injected_case_is_found_and_controls_stay_silent() {
    use alara_generate::Expect;
    let g = generated();
    let views = [
        ("overexposure", "SELECT worker_id, level AS s FROM overexposure"),
        ("missing_badge", "SELECT worker_id, signal AS s FROM missing_badge"),
        ("unexplained_heterogeneity", "SELECT worker_id, signal AS s FROM unexplained_heterogeneity"),
    ];
    // (view, level or signal, worker) flagged.
    let mut flagged: BTreeSet<(String, String, String)> = BTreeSet::new();
    for (view, sql) in views {
        for r in sql_json(&g.lake, sql) {
            flagged.insert((view.to_string(), s(&r, "s").to_string(), s(&r, "worker_id").to_string()));
        }
    }
    let mut expected = BTreeSet::new();
    let mut allowed = BTreeSet::new();
    let mut problems = Vec::new();
    for c in &g.manifest.cases {
        for also in &c.also_expected {
            if let Some((view, what)) = also.split_once('/') {
                allowed.insert((view.to_string(), what.to_string(), c.worker_id.clone()));
            }
        }
        let view = match c.expect {
            Expect::Overexposure => "overexposure",
            Expect::MissingBadge => "missing_badge",
            Expect::UnexplainedHeterogeneity => "unexplained_heterogeneity",
            Expect::None => {
                let silent: Vec<&str> = match &c.level_or_signal {
                    Some(l) => vec![l.as_str()],
                    None => vec!["limit", "esr", "pregnancy"],
                };
                for l in silent {
                    if flagged.contains(&("overexposure".into(), l.into(), c.worker_id.clone())) {
                        problems.push(format!("control {} ({}) flagged at {l}", c.case_id, c.worker_id));
                    }
                }
                continue;
            }
        };
        let what = c.level_or_signal.clone().unwrap_or_default();
        let key = (view.to_string(), what, c.worker_id.clone());
        if !flagged.contains(&key) {
            problems.push(format!("injected case {} not found: {key:?}", c.case_id));
        }
        expected.insert(key);
    }
    // Random lab losses of ordinary workers are real not_returned signals, not false positives.
    for r in sql_json(
        &g.lake,
        "SELECT DISTINCT worker_id FROM readings WHERE monitoring <> 'operational' \
         AND status IN ('not_returned', 'lost', 'damaged', 'no_result')",
    ) {
        allowed.insert(("missing_badge".into(), "not_returned".into(), s(&r, "worker_id").to_string()));
    }
    println!("detections on the generated data set (60 workers, 24 months, seed 7), per level or signal:");
    println!(
        "{:<28} {:<28} {:>8} {:>6} {:>8} {:>10} {:>7} {:>10}",
        "view", "level or signal", "expected", "found", "flagged", "unexpected", "recall", "precision"
    );
    let kinds: BTreeSet<(String, String)> =
        expected.iter().chain(flagged.iter()).map(|k| (k.0.clone(), k.1.clone())).collect();
    for (view, what) in &kinds {
        let exp = expected.iter().filter(|k| &k.0 == view && &k.1 == what).count();
        let found = expected.iter().filter(|k| &k.0 == view && &k.1 == what && flagged.contains(*k)).count();
        let fl: Vec<_> = flagged.iter().filter(|k| &k.0 == view && &k.1 == what).collect();
        let unexpected: Vec<_> = fl.iter().filter(|k| !expected.contains(**k) && !allowed.contains(**k)).collect();
        let recall = if exp == 0 { "-".to_string() } else { format!("{:.0}%", 100.0 * found as f64 / exp as f64) };
        let precision = if fl.is_empty() {
            "-".to_string()
        } else {
            format!("{:.0}%", 100.0 * (fl.len() - unexpected.len()) as f64 / fl.len() as f64)
        };
        println!(
            "{view:<28} {what:<28} {exp:>8} {found:>6} {:>8} {:>10} {recall:>7} {precision:>10}",
            fl.len(),
            unexpected.len()
        );
        for k in unexpected {
            println!("    unexpected: {k:?}");
            if view == "overexposure" && ["limit", "esr", "pregnancy"].contains(&k.1.as_str()) {
                problems.push(format!("a worker outside the injected cases flagged at {}: {k:?}", k.1));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Cross-check against an independent computation

fn crosscheck(lake: &Path) {
    let Some(python) = python_with("duckdb") else { return };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/crosscheck/rolling.py");
    let out = Command::new(python).arg(&script).arg(lake).output().expect("running rolling.py");
    assert!(out.status.success(), "rolling.py failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let theirs: Value = serde_json::from_slice(&out.stdout).expect("rolling.py prints JSON");

    let key = |r: &Row, cols: &[&str]| -> String {
        cols.iter()
            .map(|c| match r.get(*c) {
                Some(Value::Number(n)) if n.is_f64() => format!("{:.6}", n.as_f64().unwrap_or(f64::NAN)),
                Some(Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
                None => "∅".into(),
            })
            .collect::<Vec<_>>()
            .join("|")
    };
    let compare = |what: &str, ours: Vec<Row>, theirs: &Value, cols: &[&str]| {
        let ours: BTreeSet<String> = ours.iter().map(|r| key(r, cols)).collect();
        let theirs: BTreeSet<String> =
            theirs.as_array().expect("array").iter().map(|v| key(v.as_object().expect("object"), cols)).collect();
        let only_ours: Vec<_> = ours.difference(&theirs).take(10).collect();
        let only_theirs: Vec<_> = theirs.difference(&ours).take(10).collect();
        assert!(
            only_ours.is_empty() && only_theirs.is_empty(),
            "{what} differ ({cols:?})\nalara only: {only_ours:#?}\nrolling.py only: {only_theirs:#?}"
        );
        println!("{what}: {} rows agree", ours.len());
    };
    let window_cols = [
        "worker_id",
        "quantity",
        "body_site",
        "end_month",
        "population",
        "dose_msv",
        "results_count",
        "missing_results",
    ];
    compare(
        "12-month windows",
        sql_json(lake, &format!("SELECT {} FROM rolling_12_months", window_cols.join(", "))),
        &theirs["windows"],
        &window_cols,
    );
    let level_cols = [
        "worker_id",
        "quantity",
        "body_site",
        "level",
        "end_month",
        "dose_msv",
        "threshold_msv",
        "peak_dose_msv",
        "exceeding_windows",
    ];
    compare(
        "limit, investigation and esr rows",
        sql_json(
            lake,
            "SELECT worker_id, quantity, body_site, level, dose_msv, threshold_msv, peak_dose_msv, exceeding_windows, \
                    CAST(date_part('year', window_end - INTERVAL '1 microsecond') * 12 \
                         + date_part('month', window_end - INTERVAL '1 microsecond') - 1 AS BIGINT) AS end_month \
             FROM overexposure WHERE level IN ('limit', 'investigation', 'esr')",
        ),
        &theirs["levels"],
        &level_cols,
    );
}

#[test]
fn rolling_sums_and_levels_agree_with_duckdb_on_generated_data() {
    crosscheck(&generated().lake);
}

#[test]
fn rolling_sums_and_levels_agree_with_duckdb_on_edge_cases() {
    crosscheck(overexposure_lake());
}
