//! Helpers shared by the end-to-end tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `alara` binary built for these tests.
pub fn alara() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_alara"));
    // Tests never read a developer's alara.toml or history by accident.
    c.env_remove("ALARA_CONFIG")
        .env_remove("ALARA_LAKE")
        .env_remove("ALARA_PSEUDONYM_KEY")
        .env_remove("ALARA_PSEUDONYM_KEY_FILE");
    c
}

/// Runs a command and returns its output, panicking with both streams if it did not exit as expected.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("spawning alara");
    assert!(
        out.status.success(),
        "command failed ({:?}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Stdout as a string.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `alara sql --format json -c SQL` and returns the rows as JSON objects.
pub fn sql_json(lake: &Path, sql: &str) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let out = run_ok(alara().args(["sql", "--lake"]).arg(lake).args(["--format", "json", "-c", sql]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("sql output is not JSON ({e}): {}", stdout(&out)));
    v.as_array().expect("array").iter().map(|r| r.as_object().expect("object").clone()).collect()
}

/// One integer from `SELECT ... AS n`.
pub fn sql_count(lake: &Path, sql: &str) -> i64 {
    let rows = sql_json(lake, sql);
    assert_eq!(rows.len(), 1, "expected one row from {sql}");
    rows[0].values().next().and_then(|v| v.as_i64()).unwrap_or_else(|| panic!("no integer in {:?}", rows[0]))
}

/// A fresh temporary directory.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// Writes a file and returns its path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("writing fixture");
    p
}

/// The Python interpreter used for interop checks (pyarrow, DuckDB), installed by
/// scripts/test-deps.sh (which the test command, scripts/test.sh, runs first). A missing module
/// fails the test: a check that did not run must never count as passed. Always `Some`; the
/// `Option` keeps the callers' `let Some(py) = … else { return }` compiling.
pub fn python_with(module: &str) -> Option<String> {
    let py = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
    let out = Command::new(&py).args(["-c", &format!("import {module}")]).output();
    match out {
        Ok(o) if o.status.success() => Some(py),
        Ok(o) => panic!(
            "python module {module} is missing for {py}: run scripts/test-deps.sh (scripts/test.sh runs it) \
             — this test cannot run without it\n{}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("cannot run {py} ({e}): run scripts/test-deps.sh (or set PYTHON)"),
    }
}
