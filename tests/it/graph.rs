//! The architecture is the crate graph: `model ← lake / ingest / detect / alert / report ← cli`.
//! This test reads the workspace's declared dependencies with `cargo metadata` and fails on any
//! edge between alara crates that the graph does not allow, naming it.

use std::collections::BTreeSet;
use std::process::Command;

/// Workspace library crates that sit on `alara-model` and beside each other.
const LIBRARIES: &[&str] =
    &["alara-lake", "alara-ingest", "alara-detect", "alara-alert", "alara-report", "alara-generate"];

/// The edges allowed besides "every library → model" and "the binary → anything".
const ALLOWED: &[(&str, &str, &str)] = &[
    ("alara-detect", "alara-lake", "detections register the lake's tables"),
    // The rules of a consumer group are evaluated against the lake's shared truth (every
    // writer's commits, followed by each engine), the outbox is a lake table written by a
    // guarded commit so that no process raises a condition twice, and the rules' checkpoint is
    // a lake file. Routing these through ingest's flush observer would hide the other writers'
    // commits, which is the point: a decision, listed here, not an accident.
    (
        "alara-alert",
        "alara-lake",
        "the engine follows every writer's commits and writes the outbox with a guarded commit",
    ),
];

/// Why `from → to` is allowed, or `None` when it is forbidden.
fn allowed(from: &str, to: &str) -> Option<&'static str> {
    if from == "alara" {
        return Some("the binary wires every crate");
    }
    if to == "alara-model" && from != "alara-model" {
        return Some("everything speaks the model's vocabulary");
    }
    // A server crate may sit between the libraries and the binary.
    if from == "alara-serve" && LIBRARIES.contains(&to) {
        return Some("the server reads through the libraries");
    }
    ALLOWED.iter().find(|(f, t, _)| *f == from && *t == to).map(|(_, _, why)| *why)
}

/// Every dependency edge between alara packages declared in the workspace (all kinds).
fn edges() -> BTreeSet<(String, String)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let mut edges = BTreeSet::new();
    for package in meta["packages"].as_array().expect("packages") {
        let from = package["name"].as_str().expect("name");
        for dep in package["dependencies"].as_array().expect("dependencies") {
            let to = dep["name"].as_str().expect("dependency name");
            if to.starts_with("alara") {
                edges.insert((from.to_string(), to.to_string()));
            }
        }
    }
    edges
}

#[test]
fn crates_depend_only_along_the_allowed_graph() {
    let edges = edges();
    // The test must see the graph it checks: at least every library's edge to the model.
    for lib in LIBRARIES {
        assert!(
            edges.contains(&(lib.to_string(), "alara-model".to_string())),
            "{lib} → alara-model not found in {edges:?}"
        );
    }
    let forbidden: Vec<String> =
        edges.iter().filter(|(f, t)| allowed(f, t).is_none()).map(|(f, t)| format!("{f} → {t}")).collect();
    assert!(
        forbidden.is_empty(),
        "forbidden dependencies between crates (the graph is model ← lake/ingest/detect/alert/report ← cli, \
         detect → lake allowed): {forbidden:?}"
    );
}
