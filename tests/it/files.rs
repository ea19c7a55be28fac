//! File ingest end to end: validation, rejects, deduplication, pseudonymisation, SQL, interop.

use std::path::Path;

use crate::common::*;

const SIRET: &str = "73282932000074";

fn reading(id: &str, rev: i64, worker: &str, dose: &str, status: &str, start: &str, end: &str) -> String {
    let dose = if dose.is_empty() { String::new() } else { format!(",\"dose_msv\":{dose}") };
    format!(
        r#"{{"reading_id":"{id}","revision":{rev},"source":"DOSILAB","worker_id":"{worker}","employer_siret":"{SIRET}","department":"interventional-cardiology","dosimeter_id":"D-{worker}","monitoring":"passive","position":"under_apron","quantity":"Hp10","status":"{status}"{dose},"period_start":"{start}","period_end":"{end}"}}"#
    )
}

/// A NIR with a valid key, built at run time so that no real-looking number sits in the source.
fn nir() -> String {
    let n: u64 = 2_690_375_123_456;
    format!("{n}{:02}", 97 - n % 97)
}

/// Every byte of every file under `dir`.
fn all_bytes(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    for e in walk(dir) {
        out.extend(std::fs::read(e).unwrap());
    }
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            v.extend(walk(&p));
        } else {
            v.push(p);
        }
    }
    v
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The mixed file of the issue: good lines, malformed JSON, a wrong enum, a one-year passive
/// period, a bad SIRET, a NIR record, an exact duplicate and a correction. Counts must be exact.
#[test]
fn bad_input_is_rejected_with_reasons_and_good_input_counted_once() {
    let dir = tempdir();
    let lake = dir.path().join("lake");
    let nir = nir();
    let lines = [
        reading("r1", 0, "W1", "0.40", "measured", "2025-01-01", "2025-01-31"),
        reading("r2", 0, "W1", "", "below_threshold", "2025-02-01", "2025-02-28"),
        // exact duplicate of r1: same identity, counted once
        reading("r1", 0, "W1", "0.40", "measured", "2025-01-01", "2025-01-31"),
        // a typo then its correction: revision 1 wins
        reading("r3", 0, "W2", "45.0", "measured", "2025-03-01", "2025-03-31"),
        reading("r3", 1, "W2", "0.45", "measured", "2025-03-01", "2025-03-31"),
        "{not json".to_string(),
        reading("r4", 0, "W1", "0.1", "measured", "2025-01-01", "2025-01-31").replace("\"Hp10\"", "\"Hp11\""),
        reading("r5", 0, "W1", "0.1", "measured", "2025-01-01", "2025-12-31"),
        reading("r6", 0, "W1", "0.1", "measured", "2025-01-01", "2025-01-31").replace(SIRET, "12345678901234"),
        reading("r7", 0, "W1", "-0.2", "measured", "2025-01-01", "2025-01-31"),
        reading("r8", 0, "W1", "0.3", "below_threshold", "2025-01-01", "2025-01-31"),
        reading("r9", 0, "W1", "0.3", "measured", "2025-02-01", "2025-01-01"),
        reading("r10", 0, "ignored", "0.25", "measured", "2025-04-01", "2025-04-30")
            .replace("\"worker_id\":\"ignored\"", &format!("\"nir\":\"{nir}\"")),
        String::new(), // a blank line is not a record
    ];
    let f = write(dir.path(), "readings.jsonl", &lines.join("\n"));
    let out = run_ok(
        alara()
            .args(["ingest", "--lake"])
            .arg(&lake)
            .arg("--readings")
            .arg(&f)
            .env("ALARA_PSEUDONYM_KEY", "test-key-0123456789-abcdef"),
    );
    let text = stdout(&out);
    // 6 valid lines (r1 twice, r2, r3 twice, r10) and 7 rejected.
    assert!(text.contains("readings") && text.contains("6 accepted") && text.contains("7 rejected"), "{text}");

    assert_eq!(sql_count(&lake, "SELECT COUNT(*) AS n FROM readings"), 4); // r1, r2, r3, r10
    assert_eq!(sql_count(&lake, "SELECT COUNT(*) AS n FROM readings_all"), 6);
    let r3 = sql_json(&lake, "SELECT revision, dose_msv FROM readings WHERE reading_id = 'r3'");
    assert_eq!(r3[0]["revision"], 1);
    assert_eq!(r3[0]["dose_msv"], 0.45);

    let rejects = sql_json(&lake, "SELECT line, reason FROM rejects ORDER BY line");
    let reasons: Vec<(i64, String)> =
        rejects.iter().map(|r| (r["line"].as_i64().unwrap(), r["reason"].as_str().unwrap().to_string())).collect();
    let expect = [
        (6, "not valid JSON"),
        (7, "unknown quantity 'Hp11'"),
        (8, "exceeds the 92-day maximum"),
        (9, "not a valid SIRET"),
        (10, "dose_msv is negative"),
        (11, "dose_msv given on status 'below_threshold'"),
    ];
    assert_eq!(reasons.len(), expect.len() + 1, "{reasons:?}");
    for (line, needle) in expect {
        assert!(
            reasons.iter().any(|(l, r)| *l == line && r.contains(needle)),
            "line {line}: {needle} not in {reasons:?}"
        );
    }
    assert!(reasons.iter().any(|(l, r)| *l == 12 && r.contains("period_end is before period_start")), "{reasons:?}");

    // The NIR was pseudonymised: not in the lake, not on any output.
    let pseudo = sql_json(&lake, "SELECT worker_id FROM readings WHERE reading_id = 'r10'");
    assert!(pseudo[0]["worker_id"].as_str().unwrap().starts_with('P'));
    let bytes = all_bytes(&lake);
    assert!(!contains(&bytes, nir.as_bytes()), "clear NIR found in the lake");
    assert!(!contains(&bytes, &nir.as_bytes()[..13]), "NIR digits found in the lake");
    assert!(!contains(&out.stdout, nir.as_bytes()) && !contains(&out.stderr, nir.as_bytes()));

    // Re-ingesting the same file changes no count.
    run_ok(
        alara()
            .args(["ingest", "--lake"])
            .arg(&lake)
            .arg("--readings")
            .arg(&f)
            .env("ALARA_PSEUDONYM_KEY", "test-key-0123456789-abcdef"),
    );
    assert_eq!(sql_count(&lake, "SELECT COUNT(*) AS n FROM readings"), 4);
    assert_eq!(sql_count(&lake, "SELECT COUNT(*) AS n FROM rejects"), 7);
    assert_eq!(sql_count(&lake, "SELECT COUNT(*) AS n FROM readings_all"), 12);
}

/// A NIR in the input with no key configured stops the run with exit 2 and says how to fix it.
#[test]
fn nir_without_key_is_refused_with_exit_2() {
    let dir = tempdir();
    let line = reading("r1", 0, "x", "0.1", "measured", "2025-01-01", "2025-01-31")
        .replace("\"worker_id\":\"x\"", &format!("\"nir\":\"{}\"", nir()));
    let f = write(dir.path(), "r.jsonl", &line);
    let out =
        alara().args(["ingest", "--lake"]).arg(dir.path().join("lake")).arg("--readings").arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ALARA_PSEUDONYM_KEY"), "{err}");
    assert!(!err.contains(&nir()), "{err}");

    // The same in a CSV header is caught before any row is read.
    let csv = write(
        dir.path(),
        "w.csv",
        &format!(
            "nir;employer_siret;department;role;category;valid_from\n{};{SIRET};radiology;nurse;B;2025-01-01\n",
            nir()
        ),
    );
    let out =
        alara().args(["ingest", "--lake"]).arg(dir.path().join("lake")).arg("--workers").arg(&csv).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}

/// French lab exports: `;` separators, decimal commas, a BOM, quoted cells.
#[test]
fn csv_with_semicolons_and_decimal_commas() {
    let dir = tempdir();
    let lake = dir.path().join("lake");
    let readings = format!(
        "\u{feff}reading_id;source;worker_id;employer_siret;department;dosimeter_id;monitoring;quantity;status;dose_msv;period_start;period_end\n\
         a1;LANDAUER;W9;{SIRET};\"radiology; room 2\";D1;lens;Hp3;measured;1,25;2025-05-01;2025-05-31\n\
         a2;LANDAUER;W9;{SIRET};radiology;D1;lens;Hp3;measured;abc;2025-06-01;2025-06-30\n\
         a3;LANDAUER;W9;{SIRET};radiology;D1;lens\n"
    );
    let workers = format!(
        "worker_id,employer_siret,department,role,category,pregnancy_declared_on,apprentice,valid_from\n\
         W9,{SIRET},radiology,radiologist,A,,false,2024-01-01\n\
         W9,{SIRET},radiology,radiologist,B,,no,2025-03-01\n"
    );
    let r = write(dir.path(), "readings.csv", &readings);
    let w = write(dir.path(), "workers.csv", &workers);
    let out = run_ok(alara().args(["ingest", "--lake"]).arg(&lake).arg("--readings").arg(&r).arg("--workers").arg(&w));
    let text = stdout(&out);
    assert!(text.contains("1 accepted") && text.contains("2 rejected"), "{text}");
    let rows = sql_json(&lake, "SELECT dose_msv, department FROM readings");
    assert_eq!(rows[0]["dose_msv"], 1.25);
    assert_eq!(rows[0]["department"], "radiology; room 2");
    let w = sql_json(&lake, "SELECT category FROM workers WHERE worker_id = 'W9'");
    assert_eq!(w[0]["category"], "B", "latest valid_from wins");
    let reasons = sql_json(&lake, "SELECT line, reason FROM rejects ORDER BY line");
    assert!(reasons[0]["reason"].as_str().unwrap().contains("'dose_msv' is not a number"), "{reasons:?}");
    assert!(
        reasons[1]["reason"].as_str().unwrap().contains("CSV row has 7 cells but the header has 12"),
        "{reasons:?}"
    );
}

/// `alara sql` is read-only, reports SQL errors with exit 1, and speaks CSV, JSON and table.
#[test]
fn sql_is_read_only_and_formats_output() {
    let dir = tempdir();
    let lake = dir.path().join("lake");
    let f = write(dir.path(), "r.jsonl", &reading("r1", 0, "W1", "0.5", "measured", "2025-01-01", "2025-01-31"));
    run_ok(alara().args(["ingest", "--lake"]).arg(&lake).arg("--readings").arg(&f));

    for stmt in [
        "CREATE TABLE x AS SELECT 1",
        "INSERT INTO readings_all SELECT * FROM readings_all",
        "DROP TABLE readings_all",
        "COPY readings_all TO '/tmp/alara-should-not-exist.parquet'",
        "SET datafusion.execution.batch_size = 1",
    ] {
        let out = alara().args(["sql", "--lake"]).arg(&lake).args(["-c", stmt]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{stmt}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("read-only"), "{stmt}: {err}");
    }
    assert!(!Path::new("/tmp/alara-should-not-exist.parquet").exists());

    let out = alara().args(["sql", "--lake"]).arg(&lake).args(["-c", "SELECT nope FROM readings"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));

    let csv = stdout(&run_ok(alara().args(["sql", "--lake"]).arg(&lake).args([
        "--format",
        "csv",
        "-c",
        "SELECT worker_id, dose_msv FROM readings",
    ])));
    assert_eq!(csv.trim(), "worker_id,dose_msv\nW1,0.5");
    let table = stdout(&run_ok(
        alara().args(["sql", "--lake"]).arg(&lake).args(["-c", "SELECT worker_id FROM readings WHERE false"]),
    ));
    assert!(table.contains("worker_id") && table.contains("(0 rows)"), "{table}");
    let empty = sql_json(&lake, "SELECT worker_id FROM readings WHERE false");
    assert!(empty.is_empty());

    let script =
        write(dir.path(), "q.sql", "SELECT COUNT(*) AS n FROM readings;\nSELECT COUNT(*) AS m FROM rejects;\n");
    let two = stdout(&run_ok(alara().args(["sql", "--lake"]).arg(&lake).args(["--format", "csv", "-f"]).arg(&script)));
    assert_eq!(two.trim(), "n\n1\nm\n0");

    // The interactive prompt reads statements from a pipe too.
    use std::io::Write;
    let mut child = alara()
        .args(["sql", "--lake"])
        .arg(&lake)
        .args(["--format", "csv"])
        .env("HOME", dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"SELECT COUNT(*)\n AS k FROM readings;\n\\q\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(stdout(&out).contains("k\n1"), "{}", stdout(&out));
}

/// The lake is readable as-is by pyarrow (Hive partitions, UTC microsecond timestamps).
#[test]
fn pyarrow_reads_the_lake() {
    let Some(py) = python_with("pyarrow") else {
        return;
    };
    let dir = tempdir();
    let lake = dir.path().join("lake");
    let lines = [
        reading("r1", 0, "W1", "0.5", "measured", "2024-12-01", "2024-12-31"),
        reading("r2", 0, "W1", "0.7", "measured", "2025-01-01", "2025-01-31"),
    ];
    let f = write(dir.path(), "r.jsonl", &lines.join("\n"));
    run_ok(alara().args(["ingest", "--lake"]).arg(&lake).arg("--readings").arg(&f));
    let script = r#"
import sys, pyarrow.dataset as ds
t = ds.dataset(sys.argv[1] + "/readings", format="parquet", partitioning="hive").to_table()
assert str(t.schema.field("period_start").type) == "timestamp[us, tz=UTC]", t.schema
print(t.num_rows, sorted(t.column("year").to_pylist()), round(sum(t.column("dose_msv").to_pylist()), 6))
"#;
    let out = run_ok(std::process::Command::new(py).args(["-c", script]).arg(&lake));
    assert_eq!(stdout(&out).trim(), "2 [2024, 2025] 1.2");
}
