//! A NIR never appears in clear (README "Health data"): NIRs in every accepted spelling, sent in
//! `nir`, in identity fields (pseudonymised there) and in free fields (rejected), through the real
//! binary with a log hook and a Kafka alert hook. Then every *decoded* value is searched: every
//! column of every table and view (`alara sql --format csv`), every column of every Parquet file
//! and its footer metadata (pyarrow), the alert log, the alert topic (kcat), the outbox listing,
//! the report files and every stdout/stderr.

use std::path::Path;
use std::process::Output;

use crate::common::*;
use crate::kafka_support as ks;

const SIRET: &str = "73282932000074";
const KEY: &str = "nir-test-key-0123456789-abcdef";

/// A valid NIR from a 13-character body (Corsican `2A`/`2B` allowed at positions 6–7).
fn nir(body: &str) -> String {
    let (digits, offset) = match &body[5..7] {
        "2A" => (format!("{}19{}", &body[..5], &body[7..]), 1_000_000),
        "2B" => (format!("{}18{}", &body[..5], &body[7..]), 2_000_000),
        _ => (body.to_string(), 0),
    };
    let n: u64 = digits.parse().unwrap();
    format!("{body}{:02}", 97 - (n - offset) % 97)
}

/// The NIRs of this test, built at run time so that no real-looking number sits in the source.
fn nirs() -> Vec<String> {
    ["1850578006084", "2690375123456", "1780699001002", "2840192101203", "172052A015040", "2911131088123"]
        .iter()
        .map(|b| nir(b))
        .collect()
}

/// `1 85 05 78 006 084 12` with `sep` between the groups a French form uses.
fn grouped(n: &str, sep: &str) -> String {
    [&n[..1], &n[1..3], &n[3..5], &n[5..7], &n[7..10], &n[10..13], &n[13..]].join(sep)
}

fn reading(id: &str, worker: &str, extra: &str, dose: &str, month: u32) -> String {
    format!(
        r#"{{"reading_id":{id},"source":"DOSILAB","worker_id":{worker},"employer_siret":"{SIRET}","department":"interventional-cardiology","dosimeter_id":"D-{month}","monitoring":"passive","quantity":"Hp10","status":"measured","dose_msv":{dose},"period_start":"2025-{month:02}-01","period_end":"2025-{month:02}-28"{extra}}}"#
    )
}

fn text(out: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Every table and view name `alara sql` registers.
fn relations(lake: &Path) -> Vec<String> {
    sql_json(lake, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        .iter()
        .map(|r| r["table_name"].as_str().unwrap().to_string())
        .collect()
}

/// Every value of every column of every Parquet file under `lake`, and the files' key-value
/// metadata, decoded by pyarrow.
fn parquet_values(lake: &Path) -> String {
    let py = python_with("pyarrow").unwrap();
    let script = r#"
import sys, pathlib, pyarrow.parquet as pq
for p in sorted(pathlib.Path(sys.argv[1]).rglob("*.parquet")):
    f = pq.ParquetFile(p)
    print(p, f.schema_arrow.metadata)
    for row in f.read().to_pylist():
        print(repr(row))
"#;
    let out = std::process::Command::new(py).args(["-c", script]).arg(lake).output().unwrap();
    assert!(out.status.success(), "pyarrow: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Every text file under `dir`, as text.
fn files_text(dir: &Path) -> String {
    let mut s = String::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            s.push_str(&files_text(&p));
        } else if p.extension().is_none_or(|x| x != "parquet") {
            s.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
        }
    }
    s
}

/// Fails if `corpus` holds any of the NIRs, however spelled: separators are removed from the
/// corpus before searching for the 13 characters of each body.
fn assert_no_clear_nir(what: &str, corpus: &str, nirs: &[String]) {
    let squeezed: String =
        corpus.chars().filter(|c| !matches!(c, ' ' | '.' | '-' | '_' | '\u{a0}' | '\u{202f}')).collect();
    let upper = squeezed.to_ascii_uppercase();
    for n in nirs {
        assert!(!upper.contains(&n[..13]), "a clear NIR ({}…) in {what}", &n[..3]);
    }
}

#[test]
fn no_nir_in_clear_in_any_decoded_value_log_or_output() {
    let Some(broker) = ks::broker() else { return };
    let _guard = ks::shared();
    let dir = tempdir();
    let d = dir.path();
    let lake = d.join("lake");
    let n = nirs();
    let q = |s: &str| serde_json::to_string(s).unwrap();

    // Accepted: the `nir` field in four spellings (one worker: the same pseudonym), a NIR as
    // worker_id (spaced, hyphenated, Corsican), in reading_id and dosimeter_id. Doses high enough
    // to raise alerts, so the alert log, topic and outbox carry these workers.
    let mut lines = vec![
        reading(&q("r1"), "null", &format!(",\"nir\":{}", q(&n[0])), "8.5", 1),
        reading(&q("r2"), "null", &format!(",\"nir\":{}", q(&grouped(&n[0], " "))), "8.5", 2),
        reading(&q("r3"), "null", &format!(",\"nir\":{}", q(&grouped(&n[0], "."))), "8.5", 3),
        reading(&q("r4"), "null", &format!(",\"nir\":{}", q(&grouped(&n[0], "-"))), "8.5", 4),
        reading(&q("r5"), &q(&grouped(&n[1], " ")), "", "9.5", 1),
        reading(&q("r6"), &q(&grouped(&n[1], "-")), "", "9.5", 2),
        reading(&q("r7"), &q(&n[4].to_ascii_lowercase()), "", "0.5", 1),
        reading(&q(&format!("LAB-{}-1", n[2])), &q("W9"), "", "0.2", 1),
        reading(&q("r9"), &q("W9"), "", "0.2", 2).replace("\"D-2\"", &q(&format!("badge {}", grouped(&n[3], ".")))),
    ];
    // Rejected: a NIR in free fields (department, site, source, an unknown field), a NIR in a
    // malformed line, a NIR in a number field.
    lines.push(reading(&q("x1"), &q("W9"), "", "0.1", 5).replace("interventional-cardiology", &grouped(&n[5], " ")));
    lines.push(reading(&q("x2"), &q("W9"), &format!(",\"site\":{}", q(&format!("site {}", n[5]))), "0.1", 5));
    lines.push(reading(&q("x3"), &q("W9"), "", "0.1", 5).replace("DOSILAB", &grouped(&n[5], "-")));
    lines.push(reading(&q("x4"), &q("W9"), &format!(",\"note\":{}", q(&grouped(&n[5], "."))), "0.1", 5));
    lines.push(format!("{{\"reading_id\":\"x5\",\"nir\":\"{}\" oops", grouped(&n[5], " ")));
    lines.push(reading(&q("x6"), &q("W9"), "", &n[5], 5));
    let readings = write(d, "readings.jsonl", &lines.join("\n"));
    // Workers as a French CSV: `;`, NIR column and a NIR as worker_id.
    let workers = write(
        d,
        "workers.csv",
        &format!(
            "nir;worker_id;employer_siret;department;role;category;valid_from\n{};;{SIRET};interventional-cardiology;cardiologist;A;2024-01-01\n;{};{SIRET};interventional-cardiology;nurse;B;2024-01-01\n",
            grouped(&n[0], " "),
            grouped(&n[1], ".")
        ),
    );
    // Procedures: NIR in procedure_id and room (pseudonymised), in procedure_type (rejected).
    let procedures = write(
        d,
        "procedures.jsonl",
        &[
            format!(
                r#"{{"procedure_id":"PR-{}","worker_id":"{}","department":"interventional-cardiology","room":"{}","procedure_type":"PCI","started_at":"2025-02-01T10:00:00Z","ended_at":"2025-02-01T11:00:00Z","fluoroscopy_s":300}}"#,
                n[2],
                grouped(&n[1], " "),
                grouped(&n[3], "-")
            ),
            format!(
                r#"{{"procedure_id":"PR-2","worker_id":"W9","department":"interventional-cardiology","procedure_type":"PCI {}","started_at":"2025-02-01T10:00:00Z","ended_at":"2025-02-01T11:00:00Z"}}"#,
                n[5]
            ),
        ]
        .join("\n"),
    );
    let topic = ks::unique("nir-alerts");
    let alert_log = d.join("alerts.jsonl");
    let cfg = write(
        d,
        "alara.toml",
        &format!(
            "[[hooks]]\nkind = \"log\"\npath = \"{}\"\n\n[[hooks]]\nkind = \"kafka\"\nbrokers = \"{broker}\"\ntopic = \"{topic}\"\n",
            alert_log.display()
        ),
    );
    let with_key = |c: &mut std::process::Command| {
        c.env("ALARA_PSEUDONYM_KEY", KEY).env("RUST_LOG", "debug,librdkafka=info").arg("--config").arg(&cfg);
    };
    let mut outputs = String::new();
    let mut ingest = alara();
    ingest
        .args(["ingest", "--lake"])
        .arg(&lake)
        .arg("--readings")
        .arg(&readings)
        .arg("--workers")
        .arg(&workers)
        .arg("--procedures")
        .arg(&procedures);
    with_key(&mut ingest);
    outputs.push_str(&text(&run_ok(&mut ingest)));

    // What must hold for the test to mean anything: the NIR records were accepted under
    // pseudonyms, the free-field ones rejected, and alerts were raised and delivered.
    let rows = sql_json(&lake, "SELECT reading_id, worker_id, dosimeter_id FROM readings ORDER BY reading_id");
    assert_eq!(rows.len(), 9, "{rows:?}");
    let pseudo =
        |r: &str| rows.iter().find(|x| x["reading_id"] == r).unwrap()["worker_id"].as_str().unwrap().to_string();
    assert!(pseudo("r1").starts_with('P') && pseudo("r1").len() == 25);
    for r in ["r2", "r3", "r4"] {
        assert!(pseudo(r) == pseudo("r1"), "every spelling of one NIR gives one pseudonym");
    }
    // (Compared without printing: on failure these would be clear NIRs.)
    assert!(pseudo("r5") == pseudo("r6") && pseudo("r5").starts_with('P'), "a NIR as worker_id is pseudonymised");
    assert!(pseudo("r7").starts_with('P'));
    assert!(rows.iter().any(|r| r["reading_id"].as_str().unwrap().starts_with("LAB-P")), "{rows:?}");
    let rejects = sql_json(&lake, "SELECT origin, reason FROM rejects");
    assert_eq!(rejects.len(), 7, "{rejects:?}");
    assert!(
        rejects.iter().filter(|r| r["reason"].as_str().unwrap().contains("holds a NIR")).count() >= 5,
        "{rejects:?}"
    );
    let wk = sql_json(&lake, "SELECT worker_id FROM workers");
    assert!(
        wk.iter().any(|w| w["worker_id"].as_str() == Some(pseudo("r1").as_str())),
        "the nir column gives the same id"
    );
    assert!(wk.iter().any(|w| w["worker_id"].as_str() == Some(pseudo("r5").as_str())), "a NIR as worker_id too");
    assert!(sql_count(&lake, "SELECT count(*) AS n FROM alerts") > 0, "alerts were raised");

    // Every table and view, every column, decoded.
    let mut decoded = String::new();
    for rel in relations(&lake) {
        let query = format!("SELECT * FROM \"{rel}\"");
        let mut c = alara();
        c.args(["sql", "--lake"]).arg(&lake).args(["--format", "csv", "-c", query.as_str()]);
        with_key(&mut c);
        let out = c.output().unwrap();
        decoded.push_str(&text(&out));
    }
    assert!(decoded.contains("interventional-cardiology"), "the SQL dump read the tables");
    assert_no_clear_nir("the SQL tables and views", &decoded, &n);
    let parquet = parquet_values(&lake);
    assert!(parquet.contains(&pseudo("r1")), "pyarrow read the rows");
    assert_no_clear_nir("the Parquet files (pyarrow)", &parquet, &n);
    assert_no_clear_nir("the lake's non-Parquet files", &files_text(&lake), &n);

    // The alert log, the alert topic, the outbox listing.
    let log = std::fs::read_to_string(&alert_log).expect("the log hook wrote alerts");
    assert!(log.contains(&pseudo("r1")) || log.contains(&pseudo("r5")), "alerts name the pseudonymous workers");
    assert_no_clear_nir("the alert log", &log, &n);
    let kcat = std::process::Command::new("kcat")
        .args(["-C", "-b", &broker, "-t", &topic, "-o", "beginning", "-e", "-q", "-f", "%k\t%h\t%s\n"])
        .output()
        .expect("kcat (scripts/test-deps.sh installs it)");
    assert!(kcat.status.success() && !kcat.stdout.is_empty(), "{}", text(&kcat));
    assert_no_clear_nir("the Kafka alert topic", &text(&kcat), &n);
    let mut alerts = alara();
    alerts.args(["alerts", "--lake"]).arg(&lake).args(["--format", "json"]);
    with_key(&mut alerts);
    outputs.push_str(&text(&run_ok(&mut alerts)));

    // The report.
    let out_dir = d.join("report");
    let mut report = alara();
    report.args(["report", "--lake"]).arg(&lake).args(["--as-of", "2025-06-30", "--out"]).arg(&out_dir);
    with_key(&mut report);
    outputs.push_str(&text(&run_ok(&mut report)));
    let report_text = files_text(&out_dir);
    assert!(report_text.contains(&pseudo("r1")), "the report names the exposed worker");
    assert_no_clear_nir("the report", &report_text, &n);

    // Every stdout and stderr (ingest ran at debug level).
    assert_no_clear_nir("stdout/stderr", &outputs, &n);
}
