//! The SQL views of `queries/`: each file is one `SELECT` whose view name is the file name, with
//! `-- name:` and `-- description:` header lines an advisor can read.

use std::path::Path;

use crate::{Error, Result};

/// One view definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// View name (the file stem).
    pub name: String,
    /// The description from the header, lines joined.
    pub description: String,
    /// The SQL text.
    pub sql: String,
}

impl Query {
    /// Parses a file's text.
    pub fn parse(name: &str, sql: &str) -> Query {
        let mut description = String::new();
        let mut in_desc = false;
        for line in sql.lines() {
            let Some(c) = line.trim_start().strip_prefix("--") else {
                break;
            };
            let c = c.trim();
            if let Some(d) = c.strip_prefix("description:") {
                description = d.trim().to_string();
                in_desc = true;
            } else if c.contains(':') && !c.starts_with(' ') && c.split(':').next().is_some_and(|k| !k.contains(' ')) {
                in_desc = false;
            } else if in_desc {
                description.push(' ');
                description.push_str(c);
            }
        }
        Query { name: name.to_string(), description, sql: sql.to_string() }
    }
}

macro_rules! embed {
    ($($name:literal),+ $(,)?) => {
        &[$(($name, include_str!(concat!("../../../queries/", $name, ".sql")))),+]
    };
}

/// Every file of `queries/`, compiled in. A unit test checks that this list and the directory
/// agree, so a new file cannot be forgotten.
pub const EMBEDDED: &[(&str, &str)] = embed![
    "readings",
    "workers",
    "worker_history",
    "procedures",
    "rejects",
    // Detections (issue 4): helpers first, then the contract's views.
    "legal_results",
    "monthly_dose",
    "rolling_12_months",
    "monthly_workload",
    "lens_estimate",
    "overexposure",
    "classification_review",
    "explanations",
    "missing_badge_signals",
    "missing_badge",
    "heterogeneity_signals",
    "unexplained_heterogeneity",
    "explained_findings",
    "findings",
    // Inspection and declaration (issue 14).
    "inspection_indicator",
    "department_dose",
    "dose_classes",
    "esr_register",
    // The alert outbox (issue 5): state per hook, then per alert.
    "alert_status",
    "alerts",
];

/// The compiled-in queries.
pub fn embedded_queries() -> Vec<Query> {
    EMBEDDED.iter().map(|(n, s)| Query::parse(n, s)).collect()
}

/// Queries from a directory of `.sql` files, sorted by name.
pub fn load_queries(dir: &Path) -> Result<Vec<Query>> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|source| Error::ReadQuery { path: dir.to_path_buf(), source })?;
    for e in entries {
        let e = e.map_err(|source| Error::ReadQuery { path: dir.to_path_buf(), source })?;
        let p = e.path();
        if p.extension().is_some_and(|x| x == "sql") {
            let sql = std::fs::read_to_string(&p).map_err(|source| Error::ReadQuery { path: p.clone(), source })?;
            let name = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
            out.push(Query::parse(&name, &sql));
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_file_is_embedded() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../queries");
        let mut on_disk: Vec<String> = load_queries(&dir).unwrap().into_iter().map(|q| q.name).collect();
        let mut embedded: Vec<String> = EMBEDDED.iter().map(|(n, _)| n.to_string()).collect();
        on_disk.sort();
        embedded.sort();
        assert_eq!(on_disk, embedded, "queries/ and EMBEDDED in crates/detect/src/queries.rs differ");
    }

    #[test]
    fn header_description_is_parsed() {
        let q = Query::parse("x", "-- name: x\n-- description: one\n--   two\nSELECT 1");
        assert_eq!(q.description, "one two");
    }
}
