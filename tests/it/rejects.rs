//! Bad input end to end (docs/REJECTS.md): every class of hostile record goes through the real
//! binary from files and from Kafka (produced by kcat), and lands in `rejects` with its reason and
//! its exact origin (file:line, topic/partition@offset), the good records around it accepted, and
//! no panic. The table of classes below is the one of docs/REJECTS.md.

use std::path::Path;
use std::process::Command;

use serde_json::{Map, Value};

use crate::common::*;
use crate::kafka_support as ks;

const SIRET: &str = "73282932000074";

/// A valid NIR, built at run time.
fn nir() -> String {
    let n: u64 = 1_850_578_006_084;
    format!("{n}{:02}", 97 - n % 97)
}

fn reading() -> Map<String, Value> {
    let v = serde_json::json!({"reading_id": "r", "source": "DOSILAB", "worker_id": "W1",
        "employer_siret": SIRET, "department": "interventional-cardiology", "dosimeter_id": "D1",
        "monitoring": "passive", "quantity": "Hp10", "status": "measured", "dose_msv": 0.4,
        "period_start": "2025-01-01", "period_end": "2025-01-31"});
    v.as_object().unwrap().clone()
}

fn worker() -> Map<String, Value> {
    let v = serde_json::json!({"worker_id": "W1", "employer_siret": SIRET, "department": "radiology",
        "role": "nurse", "category": "B", "valid_from": "2024-01-01"});
    v.as_object().unwrap().clone()
}

fn procedure() -> Map<String, Value> {
    let v = serde_json::json!({"procedure_id": "PR1", "worker_id": "W1", "department": "radiology",
        "started_at": "2025-02-01T10:00:00Z", "ended_at": "2025-02-01T11:00:00Z", "fluoroscopy_s": 120});
    v.as_object().unwrap().clone()
}

fn with(mut m: Map<String, Value>, changes: &[(&str, Value)]) -> Vec<u8> {
    for (k, v) in changes {
        if v.is_null() && *k != "dose_msv" {
            m.remove(*k);
        } else {
            m.insert(k.to_string(), v.clone());
        }
    }
    serde_json::to_vec(&m).unwrap()
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

/// One class of bad input: what it is, the raw record, which kind, the words its reject reason
/// must hold, and whether it also travels over Kafka (file-only classes are about file layout).
struct Class {
    name: &'static str,
    kind: &'static str,
    raw: Vec<u8>,
    reason: &'static str,
    kafka: bool,
}

fn c(name: &'static str, kind: &'static str, raw: Vec<u8>, reason: &'static str) -> Class {
    Class { name, kind, raw, reason, kafka: true }
}

/// The JSON classes: one record each, sent as a line of a JSON Lines file and as a Kafka message.
fn json_classes() -> Vec<Class> {
    let r = reading;
    let good = || serde_json::to_vec(&reading()).unwrap();
    let mut utf8 = with(r(), &[("department", s("cardiologie-XX"))]);
    let at = utf8.windows(2).position(|w| w == b"XX").unwrap();
    utf8[at] = 0xE9; // Latin-1 'é'
    let mut dup = good();
    dup.pop();
    dup.extend(b",\"dose_msv\":9}");
    let nir = nir();
    let mut bad_key = nir.clone();
    bad_key.replace_range(13..15, if &nir[13..] == "01" { "02" } else { "01" });
    vec![
        c("truncated JSON", "readings", good()[..40].to_vec(), "not valid JSON"),
        c(
            "a JSON array (a batch on one line)",
            "readings",
            [b"[".as_slice(), good().as_slice(), b"]".as_slice()].concat(),
            "got an array",
        ),
        c("a JSON scalar", "readings", b"\"hello\"".to_vec(), "got a string"),
        c("binary payload (Avro/Protobuf)", "readings", b"\x00\x00\x00\x00\x2a\x02\x06abc".to_vec(), "not valid JSON"),
        c(
            "nested object in a field",
            "readings",
            with(r(), &[("dose_msv", serde_json::json!({"v": 1}))]),
            "object or array",
        ),
        c("malformed UTF-8 (a Latin-1 export)", "readings", utf8, "not valid UTF-8"),
        c("a field given twice", "readings", dup, "appears twice"),
        c(
            "missing required field",
            "readings",
            with(r(), &[("source", Value::Null)]),
            "missing required field 'source'",
        ),
        c("no worker at all", "readings", with(r(), &[("worker_id", Value::Null)]), "missing 'worker_id' (or 'nir')"),
        c("unknown quantity", "readings", with(r(), &[("quantity", s("Hp11"))]), "unknown quantity 'Hp11'"),
        c("unknown status", "readings", with(r(), &[("status", s("done"))]), "unknown status"),
        c("unknown monitoring", "readings", with(r(), &[("monitoring", s("badge"))]), "unknown monitoring"),
        c("negative dose", "readings", with(r(), &[("dose_msv", serde_json::json!(-0.1))]), "dose_msv is negative"),
        c("non-finite dose", "readings", with(r(), &[("dose_msv", s("NaN"))]), "not a finite number"),
        c("dose that is not a number", "readings", with(r(), &[("dose_msv", s("abc"))]), "'dose_msv' is not a number"),
        c("dose as a boolean", "readings", with(r(), &[("dose_msv", Value::Bool(true))]), "is a boolean"),
        c(
            "decimal comma with a thousands dot",
            "readings",
            with(r(), &[("dose_msv", s("1.234,5"))]),
            "is not a number",
        ),
        c(
            "dose on a status without one",
            "readings",
            with(r(), &[("status", s("lost"))]),
            "dose_msv given on status 'lost'",
        ),
        c("measured without a dose", "readings", with(r(), &[("dose_msv", Value::Null)]), "requires dose_msv"),
        c(
            "period_end before period_start",
            "readings",
            with(r(), &[("period_end", s("2024-12-01"))]),
            "period_end is before period_start",
        ),
        c(
            "wearing period over 92 days",
            "readings",
            with(r(), &[("period_end", s("2025-06-30"))]),
            "exceeds the 92-day maximum",
        ),
        c("not a timestamp", "readings", with(r(), &[("period_end", s("31/01/2025"))]), "not an RFC 3339 timestamp"),
        c("impossible date", "readings", with(r(), &[("period_end", s("2025-02-30"))]), "not an RFC 3339 timestamp"),
        c(
            "year 9999",
            "readings",
            with(r(), &[("period_start", s("9999-12-01")), ("period_end", s("9999-12-31"))]),
            "is in the future",
        ),
        c(
            "period_end years in the future",
            "readings",
            with(r(), &[("period_start", s("2031-01-01")), ("period_end", s("2031-01-31T00:00:00Z"))]),
            "is in the future",
        ),
        c(
            "year 1900 (a placeholder date)",
            "readings",
            with(r(), &[("period_start", s("1900-01-01")), ("period_end", s("1900-01-31"))]),
            "before 1950-01-01",
        ),
        c(
            "SIRET with a bad checksum",
            "readings",
            with(r(), &[("employer_siret", s("73282932000075"))]),
            "not a valid SIRET",
        ),
        c("SIRET of the wrong length", "readings", with(r(), &[("employer_siret", s("7328293"))]), "not a valid SIRET"),
        c(
            "NIR with a wrong key",
            "readings",
            with(r(), &[("worker_id", Value::Null), ("nir", s(&bad_key))]),
            "nir control key does not match",
        ),
        c(
            "NIR of the wrong length",
            "readings",
            with(r(), &[("worker_id", Value::Null), ("nir", s("12345"))]),
            "nir is not 15 characters",
        ),
        c("NIR in a free field", "readings", with(r(), &[("department", s(&format!("cardio {nir}")))]), "holds a NIR"),
        c(
            "NIR in an unknown field",
            "readings",
            with(r(), &[("comment", s(&format!("{} {} {}", &nir[..5], &nir[5..10], &nir[10..])))]),
            "field 'comment' holds a NIR",
        ),
        c("NIR as a field name", "readings", with(r(), &[(nir.as_str(), s("x"))]), "a field name holds a NIR"),
        c("worker_id and nir disagree", "readings", with(r(), &[("nir", s(&nir))]), "do not designate the same worker"),
        c(
            "negative revision",
            "readings",
            with(r(), &[("revision", serde_json::json!(-1))]),
            "non-negative whole number",
        ),
        c(
            "negative recording threshold",
            "readings",
            with(r(), &[("recording_threshold_msv", serde_json::json!(-0.05))]),
            "recording_threshold_msv is negative",
        ),
        c("unknown role", "workers", with(worker(), &[("role", s("pilot"))]), "unknown role"),
        c("apprentice not a boolean", "workers", with(worker(), &[("apprentice", s("maybe"))]), "not a boolean"),
        c(
            "pregnancy date not a date",
            "workers",
            with(worker(), &[("pregnancy_declared_on", s("soon"))]),
            "'pregnancy_declared_on' is not a date",
        ),
        c(
            "procedure ending before it starts",
            "procedures",
            with(procedure(), &[("ended_at", s("2025-02-01T09:00:00Z"))]),
            "ended_at is before started_at",
        ),
        c(
            "procedure over 24 hours",
            "procedures",
            with(procedure(), &[("ended_at", s("2025-02-03T11:00:00Z"))]),
            "more than 24 is not plausible",
        ),
        c(
            "negative fluoroscopy time",
            "procedures",
            with(procedure(), &[("fluoroscopy_s", serde_json::json!(-5))]),
            "'fluoroscopy_s' is negative",
        ),
    ]
}

/// The rejects of a lake, keyed by origin.
fn rejects(lake: &Path) -> std::collections::BTreeMap<String, (String, String, String)> {
    sql_json(lake, "SELECT origin, kind, reason, raw_text FROM rejects")
        .into_iter()
        .map(|r| {
            let g = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (g("origin"), (g("kind"), g("reason"), g("raw_text")))
        })
        .collect()
}

fn no_panic(output: &str) {
    assert!(!output.contains("panicked"), "a panic:\n{output}");
}

/// Asserts one class landed at `origin` with its reason, and that its reject holds no clear NIR.
fn landed(
    rejects: &std::collections::BTreeMap<String, (String, String, String)>,
    class: &Class,
    origin: &str,
    reason: &str,
) {
    let Some((kind, got, raw)) = rejects.get(origin) else {
        panic!("class '{}' has no reject at {origin}; rejects: {:?}", class.name, rejects.keys().collect::<Vec<_>>());
    };
    assert_eq!(kind, class.kind, "class '{}'", class.name);
    assert!(got.contains(reason), "class '{}' at {origin}: reason {got:?} lacks {reason:?}", class.name);
    assert!(!raw.contains(&nir()) && !got.contains(&nir()), "class '{}': clear NIR in its reject", class.name);
}

#[test]
fn every_bad_input_class_lands_in_rejects_from_files_with_its_line() {
    let dir = tempdir();
    let d = dir.path();
    let lake = d.join("lake");
    let classes = json_classes();
    let good = serde_json::to_vec(&reading()).unwrap();
    let mut files = std::collections::BTreeMap::<&str, Vec<u8>>::new();
    let mut expected = Vec::new();
    for kind in ["readings", "workers", "procedures"] {
        // A good record first and last: bad lines between good ones never stop the file.
        let mut text = [good.as_slice(), b"\n"].concat();
        if kind != "readings" {
            text.clear();
        }
        let mut line = text.iter().filter(|b| **b == b'\n').count() as u64;
        for class in classes.iter().filter(|c| c.kind == kind) {
            text.extend(&class.raw);
            text.push(b'\n');
            line += 1;
            expected.push((class, format!("{kind}.jsonl:{line}"), class.reason));
        }
        files.insert(kind, text);
    }
    // File layout classes: a BOM in the middle of a JSON Lines file, a line over 1 MiB.
    let bom = Class { name: "byte-order mark mid-file", kind: "readings", raw: vec![], reason: "", kafka: false };
    let long = Class { name: "line over 1 MiB", kind: "readings", raw: vec![], reason: "", kafka: false };
    let text = files.get_mut("readings").unwrap();
    let base = text.iter().filter(|b| **b == b'\n').count() as u64;
    text.extend([b"\xEF\xBB\xBF".as_slice(), good.as_slice(), b"\n".as_slice()].concat());
    text.extend(vec![b' '; (1 << 20) + 100]);
    text.extend(b"{\n");
    text.extend(&good);
    text.push(b'\n');
    let mut paths = Vec::new();
    for (kind, text) in &files {
        let p = d.join(format!("{kind}.jsonl"));
        std::fs::write(&p, text).unwrap();
        paths.push((kind.to_string(), p));
    }
    // CSV layout classes, `;` with decimal commas.
    let header = "reading_id;source;worker_id;employer_siret;department;dosimeter_id;monitoring;quantity;status;dose_msv;period_start;period_end";
    let row =
        |id: &str| format!("{id};DOSILAB;W1;{SIRET};radiology;D1;passive;Hp10;measured;0,4;2025-01-01;2025-01-31");
    let csv = [
        header.to_string(),
        row("c1"),
        format!("{};extra", row("c2")),
        header.to_string(),
        format!("\"{}", row("c3")),
        row("c4"),
        "\u{feff}".to_string() + &row("c5"),
    ]
    .join("\n");
    let csv_path = write(d, "layout.csv", &csv);
    let dup_path = write(d, "dup.csv", &format!("{};dose_msv\n{};0,5\n", header, row("c6")));
    let csv_classes = [
        ("CSV row with an extra cell", "layout.csv:3", "cells but the header has"),
        ("CSV header repeated mid-file", "layout.csv:4", "repeats the header"),
        ("CSV stray double quote", "layout.csv:5", "unbalanced double quote"),
        ("CSV byte-order mark mid-file", "layout.csv:7", "byte-order mark"),
        ("CSV header naming a column twice", "dup.csv:2", "names column 'dose_msv' twice"),
    ];

    let mut cmd = alara();
    cmd.args(["ingest", "--lake"]).arg(&lake).env("ALARA_PSEUDONYM_KEY", "rejects-test-key-0123456789");
    for (kind, p) in &paths {
        cmd.arg(format!("--{kind}")).arg(p);
    }
    cmd.arg("--readings").arg(&csv_path).arg("--readings").arg(&dup_path).current_dir(d);
    let out = cmd.output().unwrap();
    let printed = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{printed}");
    no_panic(&printed);

    let got = rejects(&lake);
    let origin = |p: &Path, line: u64| format!("{}:{line}", p.display());
    let readings_path = &paths.iter().find(|(k, _)| k == "readings").unwrap().1;
    for (class, at, reason) in &expected {
        let (file, line) = at.split_once(':').unwrap();
        let path = &paths.iter().find(|(_, p)| p.file_name().unwrap() == file).unwrap().1;
        landed(&got, class, &origin(path, line.parse().unwrap()), reason);
    }
    landed(&got, &bom, &origin(readings_path, base + 1), "byte-order mark");
    landed(&got, &long, &origin(readings_path, base + 2), "longer than the 1048576 bytes");
    for (name, at, reason) in csv_classes {
        let (file, line) = at.split_once(':').unwrap();
        let class = Class { name, kind: "readings", raw: vec![], reason, kafka: false };
        landed(&got, &class, &origin(&d.join(file), line.parse().unwrap()), reason);
    }
    let total = expected.len() + 2 + csv_classes.len();
    assert!(total >= 30, "{total} classes");
    assert_eq!(got.len(), total, "exactly one reject per bad record: {:#?}", got.keys());
    // The good records around them: the first and last readings lines, c1 and c4 (c3's stray
    // quote swallows nothing), none of the bad ones.
    assert_eq!(sql_count(&lake, "SELECT count(*) AS n FROM readings_all"), 4, "{printed}");
}

/// The same JSON classes as Kafka messages produced by kcat, plus Kafka's own: an empty message
/// and a poison message larger than the consumer's fetch size (1 MiB per partition), which must
/// not stall the partition: the good record after it lands.
#[test]
fn every_bad_input_class_lands_in_rejects_from_kafka_with_its_offset() {
    let Some(b) = ks::broker() else { return };
    let _g = ks::shared();
    let dir = tempdir();
    let d = dir.path();
    let lake = d.join("lake");
    let t = ks::Topics::create(&b, "rejects", 1);
    // The readings topic takes messages up to 8 MiB (the broker's default is 1 MiB).
    {
        use rdkafka::admin::{AdminClient, AdminOptions, AlterConfig, ResourceSpecifier};
        let admin: AdminClient<rdkafka::client::DefaultClientContext> =
            rdkafka::ClientConfig::new().set("bootstrap.servers", &b).create().unwrap();
        let change = AlterConfig::new(ResourceSpecifier::Topic(&t.readings)).set("max.message.bytes", "8388608");
        let res = ks::runtime().block_on(admin.alter_configs(&[change], &AdminOptions::new())).unwrap();
        assert!(res.iter().all(Result::is_ok), "{res:?}");
    }
    let classes = json_classes();
    let good = serde_json::to_vec(&reading()).unwrap();
    let mut expected = Vec::new();
    for (kind, topic) in [("readings", &t.readings), ("workers", &t.workers), ("procedures", &t.procedures)] {
        let mut text = Vec::new();
        for (offset, class) in classes.iter().filter(|c| c.kind == kind && c.kafka).enumerate() {
            text.extend(&class.raw);
            text.push(b'\n');
            expected.push((class, format!("{topic}/0@{offset}"), class.reason));
        }
        let f = d.join(format!("{kind}.msgs"));
        std::fs::write(&f, &text).unwrap();
        let out = Command::new("kcat").args(["-P", "-b", &b, "-t", topic, "-p", "0", "-l"]).arg(&f).output().unwrap();
        assert!(out.status.success(), "kcat: {}", String::from_utf8_lossy(&out.stderr));
    }
    // An empty message (our producer: kcat cannot send one), then a 3 MiB poison message and a
    // good record (kcat, one message per file).
    let n_readings = expected.iter().filter(|e| e.0.kind == "readings").count() as i64;
    let at = ks::produce(&b, &t.readings, &[("k".to_string(), None)]);
    assert_eq!(at, vec![(0, n_readings)]);
    let mut poison = good.clone();
    poison.extend(vec![b' '; 3 << 20]);
    for (i, payload) in [poison, good.clone()].iter().enumerate() {
        let f = d.join(format!("m{i}"));
        std::fs::write(&f, payload).unwrap();
        let out = Command::new("kcat")
            .args(["-P", "-b", &b, "-t", &t.readings, "-p", "0", "-X", "message.max.bytes=8388608"])
            .arg(&f)
            .output()
            .unwrap();
        assert!(out.status.success(), "kcat: {}", String::from_utf8_lossy(&out.stderr));
    }
    let empty = Class { name: "empty message", kind: "readings", raw: vec![], reason: "", kafka: true };
    let big = Class {
        name: "message over 1 MiB (larger than the fetch size)",
        kind: "readings",
        raw: vec![],
        reason: "",
        kafka: true,
    };

    let cfg = ks::config(d, &t, "latency_ms = 200");
    // The NIR classes need a pseudonymisation key (without one, a NIR stops the run: exit 2).
    let key = write(d, "key", "rejects-test-key-0123456789");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(&format!("\n[pseudonym]\nkey_file = \"{}\"\n", key.display()));
    std::fs::write(&cfg, text).unwrap();
    let out = ks::ingest_until_idle(&b, &lake, &cfg, &ks::unique("g"));
    no_panic(&out);
    let got = rejects(&lake);
    for (class, origin, reason) in &expected {
        landed(&got, class, origin, reason);
    }
    landed(&got, &empty, &format!("{}/0@{n_readings}", t.readings), "empty message");
    landed(&got, &big, &format!("{}/0@{}", t.readings, n_readings + 1), "larger than the 1048576 bytes");
    assert!(expected.len() + 2 >= 30, "{} classes", expected.len() + 2);
    assert_eq!(got.len(), expected.len() + 2, "{:#?}", got.keys());
    assert_eq!(
        sql_count(&lake, "SELECT count(*) AS n FROM readings_all"),
        1,
        "the record after the poison message landed"
    );
}

/// A view file is input too: `--queries DIR` files go through the read-only guard of typed SQL.
/// A `CREATE EXTERNAL TABLE … LOCATION '/etc/passwd'` or a `COPY` in a view file is refused with
/// an error naming the file, for `alara sql` and `alara report`, and the COPY writes nothing.
#[test]
fn view_files_that_would_write_or_read_outside_the_lake_are_refused() {
    let dir = tempdir();
    let d = dir.path();
    let lake = d.join("lake");
    let r = write(d, "r.jsonl", &String::from_utf8(serde_json::to_vec(&reading()).unwrap()).unwrap());
    run_ok(alara().args(["ingest", "--lake"]).arg(&lake).arg("--readings").arg(&r));
    let copied = d.join("copied.csv");
    let hostile = [
        (
            "passwd",
            "-- name: passwd\nCREATE EXTERNAL TABLE passwd (line VARCHAR) STORED AS CSV LOCATION '/etc/passwd'"
                .to_string(),
        ),
        (
            "leak",
            format!(
                "-- name: leak\n-- description: copies the readings out\nCOPY (SELECT * FROM readings_all) TO '{}'",
                copied.display()
            ),
        ),
    ];
    for (name, sql) in &hostile {
        let queries = d.join(format!("q-{name}"));
        std::fs::create_dir_all(&queries).unwrap();
        // A harmless view beside it, so the refusal is about the hostile file only.
        std::fs::write(queries.join("ok.sql"), "SELECT count(*) AS n FROM readings_all").unwrap();
        std::fs::write(queries.join(format!("{name}.sql")), sql).unwrap();
        for args in [vec!["sql", "-c", "SELECT * FROM ok"], vec!["report", "--as-of", "2025-06-30", "--out"]] {
            let mut cmd = alara();
            cmd.args(&args[..1]).arg("--lake").arg(&lake).arg("--queries").arg(&queries).args(&args[1..]);
            if args[0] == "report" {
                cmd.arg(d.join(format!("report-{name}")));
            }
            let out = cmd.output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{} ran a hostile view file {name}.sql:\n{err}", args[0]);
            assert!(err.contains(&format!("view file {name}.sql")) && err.contains("refused"), "{err}");
            assert!(!err.contains("panicked"), "{err}");
        }
    }
    assert!(!copied.exists(), "the COPY of a view file wrote {}", copied.display());
    // The harmless view alone works: the guard refuses writes, not views.
    let queries = d.join("q-ok");
    std::fs::create_dir_all(&queries).unwrap();
    std::fs::write(queries.join("ok.sql"), "SELECT count(*) AS n FROM readings_all").unwrap();
    let out = run_ok(alara().args(["sql", "--lake"]).arg(&lake).arg("--queries").arg(&queries).args([
        "--format",
        "csv",
        "-c",
        "SELECT n FROM ok",
    ]));
    assert!(stdout(&out).contains('1'), "{}", stdout(&out));
}
