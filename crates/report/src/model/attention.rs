//! Who needs attention and why: findings ordered by urgency and grouped into lines a person
//! reads.

use std::collections::BTreeMap;

use super::*;

/// A worker who needs attention, with every finding about them.
#[derive(Debug, Clone, PartialEq)]
pub struct Attention {
    /// The pseudonymous worker id.
    pub worker_id: String,
    /// Most urgent severity among the findings.
    pub severity: Severity,
    /// Findings, most urgent first.
    pub findings: Vec<Finding>,
}

impl Attention {
    /// Some finding is new.
    pub fn has_new(&self) -> bool {
        self.findings.iter().any(|f| f.new)
    }
}

/// Rank of a level or signal within its severity: an exceeded limit before a pregnancy, before
/// a single-result declaration, before a projection, and so on.
pub fn level_rank(f: &Finding) -> u8 {
    match (f.kind, f.level.as_str()) {
        (Kind::Overexposure, "limit") => 0,
        (Kind::Overexposure, "pregnancy") => 1,
        (Kind::Overexposure, "esr") => 2,
        (Kind::Overexposure, "projected") => 3,
        (Kind::Overexposure, "investigation") => 4,
        (Kind::Overexposure, _) => 5,
        (Kind::MissingBadge, "not_returned") => 6,
        (Kind::MissingBadge, "procedure_without_dosimeter") => 7,
        (Kind::MissingBadge, _) => 8,
        (Kind::Heterogeneity, "passive_operational_mismatch") => 9,
        (Kind::Heterogeneity, _) => 10,
    }
}

/// Orders findings: most urgent first, then by level, then largest dose relative to its
/// threshold, then latest period.
pub fn finding_order(a: &Finding, b: &Finding) -> std::cmp::Ordering {
    a.severity()
        .cmp(&b.severity())
        .then(level_rank(a).cmp(&level_rank(b)))
        .then(b.ratio().total_cmp(&a.ratio()))
        .then(b.end.cmp(&a.end))
        .then(a.key.cmp(&b.key))
}

/// Findings of a worker gathered for a one-line summary: overexposure windows of the same
/// quantity and body site (the most urgent level leads), single results one by one, and the
/// other signals by signal.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// The most urgent finding of the group (the one shown).
    pub lead: Finding,
    /// Every finding of the group, most urgent first.
    pub all: Vec<Finding>,
}

/// Groups a worker's findings (already in [`finding_order`]) into lines.
pub fn lines(findings: &[Finding]) -> Vec<Line> {
    let mut out: Vec<Line> = Vec::new();
    for f in findings {
        let group = line_group(f);
        match out.iter_mut().find(|l| line_group(&l.lead) == group) {
            Some(l) => l.all.push(f.clone()),
            None => out.push(Line { lead: f.clone(), all: vec![f.clone()] }),
        }
    }
    out
}

fn line_group(f: &Finding) -> String {
    match (f.kind, f.level.as_str()) {
        (Kind::Overexposure, "esr") => f.key.clone(),
        (Kind::Overexposure, _) => {
            format!("o|{}|{}", f.quantity.as_deref().unwrap_or(""), f.body_site.as_deref().unwrap_or(""))
        }
        (k, level) => format!("{}|{level}", k.view()),
    }
}

/// Groups findings per worker, most urgent workers first.
pub fn attention(findings: &[Finding]) -> Vec<Attention> {
    let mut by_worker: BTreeMap<&str, Vec<Finding>> = BTreeMap::new();
    for f in findings {
        by_worker.entry(&f.worker_id).or_default().push(f.clone());
    }
    let mut out: Vec<Attention> = by_worker
        .into_iter()
        .map(|(w, mut fs)| {
            fs.sort_by(finding_order);
            Attention { worker_id: w.to_string(), severity: fs[0].severity(), findings: fs }
        })
        .collect();
    out.sort_by(|a, b| finding_order(&a.findings[0], &b.findings[0]).then(a.worker_id.cmp(&b.worker_id)));
    out
}
