//! The lake as Delta Lake tables, end to end: Kafka flushes as Delta commits carrying their
//! positions, two writers on one lake, time travel, and engines reading through the Delta log
//! (PyPI `deltalake` and pyarrow) seeing exactly what alara counts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use crate::common::*;
use crate::kafka_support::*;

const LONG: Duration = Duration::from_secs(180);

/// The actions of every commit of a table, by version.
fn log(table: &Path) -> BTreeMap<u64, Vec<serde_json::Value>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(table.join("_delta_log")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(v) = name.strip_suffix(".json").and_then(|v| v.parse::<u64>().ok()) {
            let text = std::fs::read_to_string(table.join("_delta_log").join(&name)).unwrap();
            out.insert(v, text.lines().map(|l| serde_json::from_str(l).unwrap()).collect());
        }
    }
    out
}

/// The `txn` actions of a commit, as (appId, version), sorted.
fn txns(actions: &[serde_json::Value]) -> Vec<(String, i64)> {
    let mut v: Vec<_> = actions
        .iter()
        .filter_map(|a| a.get("txn"))
        .map(|t| (t["appId"].as_str().unwrap().to_string(), t["version"].as_i64().unwrap()))
        .collect();
    v.sort();
    v
}

/// Rows of a table read by engines we did not write: through the Delta log with the PyPI
/// `deltalake` reader, and every Parquet file under the table with pyarrow (what a reader that
/// ignores the log sees). `None` when the modules are missing (outside CI).
fn engine_counts(table: &Path, version: Option<u64>) -> Option<(i64, i64)> {
    let py = python_with("deltalake")?;
    python_with("pyarrow")?;
    let script = r#"
import sys, deltalake, pyarrow.dataset as ds
v = None if sys.argv[2] == "latest" else int(sys.argv[2])
dt = deltalake.DeltaTable(sys.argv[1], version=v)
through_log = dt.to_pyarrow_table().num_rows
raw = ds.dataset(sys.argv[1], format="parquet", partitioning="hive").count_rows()
print(through_log, raw, flush=True)
# Leave without the interpreter's teardown, where pyarrow's and delta-rs's thread pools have been
# seen to abort the process ("terminate called without an active exception") after the answer.
import os; os._exit(0)
"#;
    let v = version.map(|v| v.to_string()).unwrap_or_else(|| "latest".into());
    let out = run_ok(std::process::Command::new(py).args(["-c", script]).arg(table).arg(v));
    let text = stdout(&out);
    let mut it = text.split_whitespace().map(|n| n.parse::<i64>().unwrap());
    Some((it.next().unwrap(), it.next().unwrap()))
}

fn readings_version(lake: &Path) -> u64 {
    let rows = sql_json(lake, "SELECT version FROM lake_snapshot WHERE table_name = 'readings'");
    rows[0]["version"].as_u64().unwrap()
}

/// A Kafka flush is one Delta commit per table it touches, each carrying the flush's positions as
/// application transactions; the last positions in the `readings` log are the high watermarks.
#[test]
fn a_kafka_flush_is_one_delta_commit_per_table_with_its_positions() {
    let Some(b) = broker() else { return };
    let _g = shared();
    let dir = tempdir();
    let lake = dir.path().join("lake");
    let t = Topics::create(&b, "deltatxn", 3);
    let cfg = config(dir.path(), &t, "latency_ms = 100\nmax_batch_rows = 200");
    let mut msgs: Vec<(String, Option<String>)> =
        (0..1000).map(|i| (format!("k{i}"), Some(reading("deltatxn", i)))).collect();
    msgs.extend((0..20).map(|i| (format!("bad{i}"), Some(format!("{{bad {i}")))));
    let written = produce(&b, &t.readings, &msgs);
    ingest_until_idle(&b, &lake, &cfg, &unique("g"));
    assert_eq!(readings(&lake), 1000);

    let readings_log = log(&lake.join("readings"));
    let rejects_log = log(&lake.join("rejects"));
    let flushes: BTreeSet<Vec<(String, i64)>> = readings_log.range(1..).map(|(_, a)| txns(a)).collect();
    assert_eq!(flushes.len(), readings_log.len() - 1, "every readings commit is one flush with its positions");
    assert!(flushes.iter().all(|t| !t.is_empty()));
    for (v, actions) in rejects_log.range(1..) {
        assert!(flushes.contains(&txns(actions)), "rejects commit {v} belongs to one flush: {:?}", txns(actions));
    }
    // Per partition: the highest position is the offset after the last message produced.
    let mut high: BTreeMap<String, i64> = BTreeMap::new();
    for (p, o) in &written {
        let e = high.entry(format!("alara.kafka:{}:{p}", t.readings)).or_insert(0);
        *e = (*e).max(o + 1);
    }
    let mut last: BTreeMap<String, i64> = BTreeMap::new();
    for txn in flushes.iter().flatten() {
        let e = last.entry(txn.0.clone()).or_insert(0);
        *e = (*e).max(txn.1);
    }
    assert_eq!(last, high);
    assert_eq!(sql_count(&lake, "SELECT count(*) AS n FROM rejects"), 20);
}

/// SIGKILLed mid-stream and restarted: positions come from the Delta log, so the readings table
/// holds each offset exactly once (not just one row per identity), and engines reading through
/// the log agree with alara while a reader of the raw files may see flushes that never committed.
#[test]
fn after_sigkill_positions_come_from_the_log_and_engines_agree() {
    let Some(b) = broker() else { return };
    let _g = shared();
    let dir = tempdir();
    let lake = dir.path().join("lake");
    let t = Topics::create(&b, "deltakill", 2);
    let cfg = config(dir.path(), &t, "latency_ms = 200\nmax_batch_rows = 2000");
    let group = unique("g");
    let total = 30_000usize;
    let producer = {
        let (b, topic) = (b.clone(), t.readings.clone());
        std::thread::spawn(move || produce_lines(&b, &topic, (0..total).map(|i| reading("deltakill", i))))
    };
    for round in 0..3 {
        let i = Ingest::start(&b, &lake, &cfg, &group, &[]);
        let before = readings(&lake);
        wait_until(LONG, "progress", || readings(&lake), |n| *n > before || *n == total as i64);
        std::thread::sleep(Duration::from_millis(150 * round));
        i.kill9();
    }
    assert_eq!(producer.join().unwrap(), total);
    ingest_until_idle(&b, &lake, &cfg, &group);
    assert_eq!(readings(&lake), total as i64);
    assert_eq!(sql_count(&lake, "SELECT count(*) AS n FROM readings_all"), total as i64, "no offset twice");
    if let Some((through_log, raw)) = engine_counts(&lake.join("readings"), None) {
        assert_eq!(through_log, total as i64);
        eprintln!("raw Parquet files under readings/ hold {raw} rows (uncommitted flushes included)");
        assert!(raw >= through_log);
    }
}

/// Two ingest processes in different groups consume the same topic into one lake: both believe
/// they own every partition. Each offset is committed once: a flush that finds the other writer
/// already past its start is abandoned and re-seeks.
#[test]
fn two_writers_on_one_lake_commit_each_offset_once() {
    let Some(b) = broker() else { return };
    let _g = shared();
    let dir = tempdir();
    let lake = dir.path().join("lake");
    let t = Topics::create(&b, "twowriters", 2);
    let cfg = config(dir.path(), &t, "latency_ms = 100\nmax_batch_rows = 300");
    let total = 6000usize;
    let a = Ingest::start(&b, &lake, &cfg, &unique("ga"), &[]);
    let c = Ingest::start(&b, &lake, &cfg, &unique("gb"), &[]);
    produce_lines(&b, &t.readings, (0..total).map(|i| reading("twowriters", i)));
    wait_until(LONG, "every reading", || readings(&lake), |n| *n >= total as i64);
    // Let both drain what they fetched, then stop them.
    std::thread::sleep(Duration::from_millis(1500));
    let (sa, oa) = a.terminate();
    let (sc, oc) = c.terminate();
    assert!(sa.success() && sc.success(), "{oa}\n{oc}");
    let abandoned = [&oa, &oc].iter().map(|o| o.matches("flush abandoned").count()).sum::<usize>();
    eprintln!("{abandoned} flushes abandoned to the other writer");
    assert_eq!(readings(&lake), total as i64);
    assert_eq!(sql_count(&lake, "SELECT count(*) AS n FROM readings_all"), total as i64, "each offset once");
    // Both writers' commits are in one log; the positions only ever move forward.
    let mut last: BTreeMap<String, i64> = BTreeMap::new();
    for (v, actions) in log(&lake.join("readings")) {
        for (app, next) in txns(&actions) {
            let before = last.insert(app.clone(), next).unwrap_or(0);
            assert!(next > before, "readings commit {v} moves {app} from {before} back to {next}");
        }
    }
    assert_eq!(last.len(), 2);
}

/// `--lake-version` and `--lake-time` read the lake as it was: an auditor's question.
#[test]
fn time_travel_returns_the_older_answer() {
    let dir = tempdir();
    let lake = dir.path().join("lake");
    let first: Vec<String> = (0..100).map(|i| reading("tt", i)).collect();
    let second: Vec<String> = (100..150).map(|i| reading("tt", i)).collect();
    let f1 = write(dir.path(), "a.jsonl", &first.join("\n"));
    let f2 = write(dir.path(), "b.jsonl", &second.join("\n"));
    run_ok(alara().args(["ingest", "--lake"]).arg(&lake).arg("--readings").arg(&f1));
    let v = readings_version(&lake);
    std::thread::sleep(Duration::from_millis(50));
    let between = chrono::Utc::now().to_rfc3339();
    std::thread::sleep(Duration::from_millis(50));
    run_ok(alara().args(["ingest", "--lake"]).arg(&lake).arg("--readings").arg(&f2));
    let count = |extra: &[&str]| {
        let out = run_ok(alara().args(["sql", "--lake"]).arg(&lake).args(extra).args([
            "--format",
            "csv",
            "-c",
            "SELECT count(*) AS n FROM readings",
        ]));
        stdout(&out).lines().nth(1).unwrap().trim().parse::<i64>().unwrap()
    };
    assert_eq!(count(&[]), 150);
    assert_eq!(count(&["--lake-version", &v.to_string()]), 100);
    assert_eq!(count(&["--lake-time", &between]), 100);
    assert_eq!(count(&["--lake-time", "2000-01-01T00:00:00Z"]), 0);
    let out = alara()
        .args(["sql", "--lake"])
        .arg(&lake)
        .args(["--lake-time", "yesterday", "-c", "SELECT 1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a bad time is a usage error");
    // The report reads the same older state.
    let report = dir.path().join("report");
    run_ok(
        alara()
            .args(["report", "--lake"])
            .arg(&lake)
            .args(["--as-of", "2026-01-01", "--lake-version", &v.to_string(), "--out"])
            .arg(&report),
    );
    // Another engine agrees on what version v held.
    if let Some((through_log, _)) = engine_counts(&lake.join("readings"), Some(v)) {
        assert_eq!(through_log, 100);
    }
}

/// A flush that never committed (its file is there, its commit is not) is invisible to alara and
/// to engines that read through the Delta log; only a raw file reader counts it.
#[test]
fn engines_reading_through_the_log_ignore_a_flush_that_never_committed() {
    let dir = tempdir();
    let lake = dir.path().join("lake");
    let lines: Vec<String> = (0..40).map(|i| reading("uncommitted", i)).collect();
    let f = write(dir.path(), "r.jsonl", &lines.join("\n"));
    run_ok(alara().args(["ingest", "--lake"]).arg(&lake).arg("--readings").arg(&f));
    // What a writer killed between its data file and its commit leaves: a whole file, no commit.
    let part = lake.join("readings/year=2025");
    let committed = std::fs::read_dir(&part).unwrap().next().unwrap().unwrap().path();
    std::fs::copy(&committed, part.join("kafka-killed-before-commit.parquet")).unwrap();
    assert_eq!(sql_count(&lake, "SELECT count(*) AS n FROM readings_all"), 40);
    if let Some((through_log, raw)) = engine_counts(&lake.join("readings"), None) {
        assert_eq!((through_log, raw), (40, 80));
    }
    // Compaction keeps it out, and vacuum removes it only once it is older than the orphan age.
    run_ok(alara().args(["compact", "--lake"]).arg(&lake));
    assert!(part.join("kafka-killed-before-commit.parquet").exists());
    assert_eq!(sql_count(&lake, "SELECT count(*) AS n FROM readings_all"), 40);
}

/// Ingests readings `from..to` (unique ids) from a file and returns the readings files it added.
fn ingest_file(dir: &Path, lake: &Path, from: usize, to: usize) -> BTreeSet<String> {
    let before = if lake.is_dir() { data_files(&lake.join("readings")) } else { BTreeSet::new() };
    let lines: Vec<String> = (from..to).map(|i| reading("faults", i)).collect();
    let f = write(dir, &format!("readings-{from}.jsonl"), &lines.join("\n"));
    run_ok(alara().args(["ingest", "--lake"]).arg(lake).arg("--readings").arg(&f));
    data_files(&lake.join("readings")).difference(&before).cloned().collect()
}

/// Issue 9, item 3 ("faults contained"): a truncated data file is quarantined, not fatal. It is
/// a row of `lake_faults`, queries answer from the readable files (with a warning on stderr), the
/// report says so, and file and Kafka ingest go on adding to the lake.
#[test]
fn issue_9_a_truncated_data_file_is_a_row_of_lake_faults_and_the_rest_answers() {
    let dir = tempdir();
    let lake = dir.path().join("lake");
    ingest_file(dir.path(), &lake, 0, 300);
    let victim = ingest_file(dir.path(), &lake, 300, 420);
    assert_eq!(victim.len(), 1, "one ingest of one year adds one readings file: {victim:?}");
    let victim = victim.into_iter().next().unwrap();
    ingest_file(dir.path(), &lake, 420, 500);
    assert_eq!(sql_count(&lake, "SELECT count(*) AS n FROM readings"), 500);
    assert!(sql_json(&lake, "SELECT * FROM lake_faults").is_empty(), "a healthy lake has no faults");

    // Half of the file survives, as after a partial copy or a full disk.
    let path = lake.join("readings").join(&victim);
    let size = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(size / 2).unwrap();

    let faults = sql_json(&lake, "SELECT table_name, file, problem, size_in_log, size_on_disk FROM lake_faults");
    assert_eq!(faults.len(), 1, "{faults:?}");
    assert_eq!(faults[0]["table_name"], "readings");
    assert_eq!(faults[0]["file"], victim.as_str());
    assert!(faults[0]["problem"].as_str().unwrap().starts_with("truncated"), "{faults:?}");
    assert_eq!((faults[0]["size_in_log"].as_u64(), faults[0]["size_on_disk"].as_u64()), (Some(size), Some(size / 2)));
    let out = run_ok(alara().args(["sql", "--lake"]).arg(&lake).args(["-c", "SELECT count(*) AS n FROM readings"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 lake file(s)") && stderr.contains("lake_faults"), "{stderr}");
    assert_eq!(sql_count(&lake, "SELECT count(*) AS n FROM readings"), 500 - 120);

    let report = dir.path().join("report");
    run_ok(
        alara()
            .args(["report", "--lake"])
            .arg(&lake)
            .args(["--as-of", "2025-12-31", "--lang", "en", "--out"])
            .arg(&report),
    );
    let page = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert!(
        page.contains("Unreadable lake files (truncated or corrupt) set aside: <strong>1</strong>"),
        "the report counts the quarantined files"
    );

    // Ingest goes on: the alert engine's replay skips the file, new readings are counted.
    ingest_file(dir.path(), &lake, 500, 560);
    assert_eq!(sql_count(&lake, "SELECT count(*) AS n FROM readings"), 560 - 120);
    let Some(b) = broker() else { return };
    let _g = shared();
    let t = Topics::create(&b, "faults", 1);
    let cfg = config(dir.path(), &t, "latency_ms = 100");
    produce_lines(&b, &t.readings, (560..600).map(|i| reading("faults", i)));
    ingest_until_idle(&b, &lake, &cfg, &unique("g"));
    assert_eq!(sql_count(&lake, "SELECT count(*) AS n FROM readings"), 600 - 120);
    assert_eq!(sql_json(&lake, "SELECT file FROM lake_faults").len(), 1);
}
