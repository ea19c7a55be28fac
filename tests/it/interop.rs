//! Engines nobody here wrote read the lake and find what `alara sql` finds.
//!
//! A lake is built through the real binary the hard way (Kafka ingest SIGKILLed mid-stream and
//! restarted, the stream partly replayed by its source, then the same data ingested from files
//! twice), so its Delta tables hold copies and revisions that only the identity rules resolve.
//! `tests/interop/check_engines.py` then opens every table with Apache Spark (delta-spark), the
//! PyPI `deltalake` reader (with DuckDB) and polars, runs alara's own `queries/*.sql` identity views
//! and the figure queries of `tests/interop/figures/`, and every figure of every engine must equal
//! what `alara sql -f` reports for the same file. Once on a local directory, once on `s3://`
//! against the project's local S3 server (`scripts/s3.sh`, moto).
//!
//! No skip: Spark, the Python readers and the S3 server are installed and started by
//! `scripts/test-deps.sh` / `scripts/test.sh`; when one is missing these tests fail saying so.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::common::*;
use crate::kafka_support::*;

const LONG: Duration = Duration::from_secs(300);

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A lake location with the environment alara needs to reach it (empty for a directory).
struct LakeAt {
    uri: String,
    env: Vec<(String, String)>,
}

impl LakeAt {
    fn alara(&self) -> Command {
        let mut c = alara();
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    /// `alara sql --format json` on a SQL file or text; rows as JSON objects.
    fn sql(&self, args: &[&str]) -> Vec<Value> {
        let out = run_ok(self.alara().args(["sql", "--lake", &self.uri, "--format", "json"]).args(args));
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("alara sql output is not JSON ({e}): {}", stdout(&out)));
        v.as_array().expect("a JSON array").clone()
    }

    fn count(&self, sql: &str) -> i64 {
        let rows = self.sql(&["-c", sql]);
        assert_eq!(rows.len(), 1, "one row from {sql}");
        rows[0].as_object().and_then(|o| o.values().next()).and_then(Value::as_i64).expect("an integer")
    }

    /// Like [`LakeAt::count`], but `None` while there is no lake yet (the ingest process creates it).
    fn try_count(&self, sql: &str) -> Option<i64> {
        let out = self.alara().args(["sql", "--lake", &self.uri, "--format", "json", "-c", sql]).output().ok()?;
        let v: Value = serde_json::from_slice(&out.stdout).ok()?;
        v.as_array()?.first()?.as_object()?.values().next()?.as_i64()
    }

    /// `alara ingest --kafka` in the background, output to a log file.
    fn kafka_ingest(&self, broker: &str, config: &Path, group: &str, log: &Path, extra: &[&str]) -> Running {
        let out = std::fs::File::create(log).expect("log file");
        let child = self
            .alara()
            .args(["ingest", "--lake", &self.uri, "--kafka", broker, "--group", group, "--config"])
            .arg(config)
            .args(extra)
            .env("RUST_LOG", "info,librdkafka=warn")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log file"))
            .stderr(out)
            .spawn()
            .expect("spawning alara ingest");
        Running(child)
    }
}

/// A child process killed (SIGKILL) and reaped when dropped, so a failing test leaves no
/// `alara ingest` behind.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The Python interpreter with every interop engine, and Java for Spark. Fails (never skips)
/// with what to run when something is missing.
fn interop_python() -> String {
    let py = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
    let probe = Command::new(&py)
        .args(["-c", "import pyspark, deltalake, polars, duckdb, pyarrow"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {py}: {e}; the interop tests need Python 3 (scripts/test-deps.sh)"));
    assert!(
        probe.status.success(),
        "the interop tests need pyspark, deltalake, polars, duckdb and pyarrow for {py}; run scripts/test-deps.sh:\n{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let java = Command::new("java").arg("-version").output();
    assert!(java.is_ok_and(|o| o.status.success()), "Spark needs Java 17+ on PATH (java -version failed)");
    py
}

/// The project's local S3 server (`scripts/s3.sh start`, idempotent) and the AWS_* variables for
/// it. Fails when it cannot start.
fn s3_env() -> Vec<(String, String)> {
    let script = repo().join("scripts/s3.sh");
    let start = Command::new(&script).arg("start").stdin(Stdio::null()).output().expect("running scripts/s3.sh");
    assert!(
        start.status.success(),
        "the local S3 server did not start (scripts/s3.sh start; scripts/test-deps.sh installs moto[server]):\n{}",
        String::from_utf8_lossy(&start.stderr)
    );
    let env = run_ok(Command::new(&script).arg("env"));
    stdout(&env)
        .lines()
        .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Builds a lake at `lake` through the binary: Kafka with a SIGKILL mid-stream, a restart, a
/// source replay of part of the stream, then the same generated files ingested twice.
fn build_lake(lake: &LakeAt, broker: &str, dir: &Path) {
    let gen_dir = dir.join("gen");
    run_ok(alara().args(["generate", "--workers", "24", "--months", "18", "--seed", "5", "--out"]).arg(&gen_dir));
    let lines: Vec<String> = std::fs::read_to_string(gen_dir.join("readings.jsonl"))
        .expect("generated readings")
        .lines()
        .map(str::to_string)
        .collect();
    let half = lines.len() / 2;

    let t = Topics::create(broker, "interop", 3);
    let cfg = config(dir, &t, "latency_ms = 200\nmax_batch_rows = 300");
    let group = unique("g");
    produce_lines(broker, &t.readings, lines[..half].iter().cloned());
    let mut first = lake.kafka_ingest(broker, &cfg, &group, &dir.join("ingest-1.log"), &[]);
    wait_until(
        LONG,
        "a first flush in the lake",
        || lake.try_count("SELECT count(*) AS n FROM readings_all"),
        |n| n.is_some_and(|n| n > 0),
    );
    // SIGKILL: no flush of the batch in hand, no commit, no goodbye to the group.
    first.0.kill().expect("SIGKILL");
    first.0.wait().expect("wait");
    produce_lines(broker, &t.readings, lines[half..].iter().cloned());
    // The source replays the first tenth of its stream (same identities, same revisions).
    produce_lines(broker, &t.readings, lines[..lines.len() / 10].iter().cloned());
    let mut second = lake.kafka_ingest(broker, &cfg, &group, &dir.join("ingest-2.log"), &["--until-idle"]);
    let status = second.0.wait().expect("wait");
    assert!(
        status.success(),
        "alara ingest --until-idle: {status}\n{}",
        std::fs::read_to_string(dir.join("ingest-2.log")).unwrap_or_default()
    );

    // The same files, twice.
    for _ in 0..2 {
        let mut c = lake.alara();
        c.args(["ingest", "--lake", &lake.uri, "--readings"]).arg(gen_dir.join("readings.jsonl"));
        c.arg("--workers").arg(gen_dir.join("workers.csv"));
        c.arg("--procedures").arg(gen_dir.join("procedures.csv"));
        run_ok(&mut c);
    }

    // The lake is one where the identity rules matter: copies, revisions and rejects.
    let stored = lake.count("SELECT count(*) AS n FROM readings_all");
    let identities = lake.count("SELECT count(*) AS n FROM readings");
    assert!(
        stored >= 3 * identities,
        "every reading is stored at least 3 times ({stored} rows, {identities} identities)"
    );
    assert!(lake.count("SELECT count(*) AS n FROM readings WHERE revision > 0") > 0, "a corrected result");
    assert!(lake.count("SELECT count(*) AS n FROM rejects") > 0, "rejected records");
    assert!(lake.count("SELECT count(*) AS n FROM workers_all") > lake.count("SELECT count(*) AS n FROM workers"));
}

/// A figure's rows, comparable across producers: nulls dropped (alara's JSON omits them), rows
/// sorted.
fn comparable(rows: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = rows
        .iter()
        .map(|r| {
            let o = r.as_object().expect("a row object");
            Value::Object(o.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect())
        })
        .collect();
    out.sort_by_key(|v| v.to_string());
    out
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn figure_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("tests/interop/figures"))
        .expect("tests/interop/figures")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "the figure queries are there");
    files
}

/// Runs every engine over the lake and compares each figure with `alara sql -f` on the same file.
fn engines_agree_with_alara(lake: &LakeAt, dir: &Path) {
    let py = interop_python();
    let out_file = dir.join("engines.json");
    let run = Command::new(&py)
        .arg(repo().join("tests/interop/check_engines.py"))
        .arg(&lake.uri)
        .arg("--out")
        .arg(&out_file)
        .envs(lake.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .expect("running check_engines.py");
    let report: Value = serde_json::from_slice(&std::fs::read(&out_file).unwrap_or_default()).unwrap_or_else(|e| {
        panic!(
            "check_engines.py wrote no JSON ({e}); status {}:\n{}",
            run.status,
            last_lines(&String::from_utf8_lossy(&run.stderr), 40)
        )
    });
    assert!(run.status.success(), "the engines disagree with one another: {}", report["differences"]);
    let engines = report["engines"].as_object().expect("engines");
    assert_eq!(engines.len(), 3, "spark, deltalake and polars all ran");

    for file in figure_files() {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let alara_rows = comparable(&lake.sql(&["-f", file.to_str().unwrap()]));
        assert!(!alara_rows.is_empty(), "figure {name} has rows");
        for (engine, result) in engines {
            let rows = comparable(result["figures"][&name].as_array().unwrap_or_else(|| panic!("{engine}: {name}")));
            assert!(
                rows == alara_rows,
                "figure {name}: {engine} differs from alara sql\n  {engine}: {} rows, first {:?}\n  alara: {} rows, first {:?}\n  first difference: {:?}",
                rows.len(),
                rows.first(),
                alara_rows.len(),
                alara_rows.first(),
                rows.iter().zip(&alara_rows).find(|(a, b)| a != b)
            );
        }
    }
    // The dose figures are not empty zeros.
    let total = comparable(&lake.sql(&["-f", repo().join("tests/interop/figures/dose_total.sql").to_str().unwrap()]));
    assert!(total[0]["dose_umsv"].as_i64().is_some_and(|d| d > 0), "a positive total dose: {total:?}");
}

/// Spark, delta-rs and polars read a local lake built through Kafka (with a SIGKILL and a replay)
/// and files (twice), and find the identities and dose sums `alara sql` reports.
#[test]
fn spark_deltalake_and_polars_find_what_alara_sql_finds() {
    let Some(b) = broker() else { return };
    let _g = shared();
    let dir = tempdir();
    let lake = LakeAt { uri: dir.path().join("lake").to_string_lossy().into_owned(), env: Vec::new() };
    build_lake(&lake, &b, dir.path());
    engines_agree_with_alara(&lake, dir.path());
}

/// The same on `s3://`, against the project's local S3 server: ingest, sql and the other engines
/// work there as on a local disk, with credentials from the environment only.
#[test]
fn the_same_on_an_s3_lake() {
    let Some(b) = broker() else { return };
    let _g = shared();
    let env = s3_env();
    let bucket = unique("alara-interop").to_lowercase().replace('_', "-");
    let bucket: String = bucket.chars().take(63).collect();
    run_ok(Command::new(repo().join("scripts/s3.sh")).args(["mb", &bucket]));
    let dir = tempdir();
    let lake = LakeAt { uri: format!("s3://{bucket}/lake"), env };
    build_lake(&lake, &b, dir.path());
    // Nothing of the lake went to the local disk.
    assert!(!dir.path().join("lake").exists() && !repo().join("s3:").exists());
    engines_agree_with_alara(&lake, dir.path());
    // The nightly report reads the same snapshot from S3: every section built, nothing unavailable.
    let as_of = lake.sql(&["-c", "SELECT CAST(CAST(max(period_end) AS DATE) AS VARCHAR) AS d FROM readings"]);
    let as_of = as_of[0]["d"].as_str().expect("a last period").to_string();
    let out = dir.path().join("report");
    run_ok(lake.alara().args(["report", "--lake", &lake.uri, "--as-of", &as_of, "--out"]).arg(&out));
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary.json")).unwrap();
    assert_eq!(summary["unavailable"], serde_json::json!({}), "every report section reads the S3 lake");
    assert_eq!(summary["files"]["report.html"], 1, "{summary}");
    assert!(
        summary["findings"].as_array().is_some_and(|f| !f.is_empty()),
        "the generated anomalies are found: {summary}"
    );
}
