//! `/`: who needs attention today, from the report's own folding of the findings.

use std::sync::Arc;

use alara_report::fmt::iso_date;
use alara_report::model::Finding;
use alara_report::model::SeverityText as _;
use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::{Chrome, render, session_and_live};
use crate::app::App;
use crate::data::Live;
use crate::i18n::{Lang, Tr};
use crate::users::Role;

/// One finding line.
pub struct Line {
    /// What.
    pub title: String,
    /// Dose against threshold.
    pub numbers: String,
    /// When.
    pub period: String,
}

/// One worker needing attention.
pub struct Item {
    /// Worker id.
    pub worker: String,
    /// Department and role.
    pub who: String,
    /// Severity label.
    pub severity: &'static str,
    /// CSS class of the severity.
    pub class: &'static str,
    /// Findings.
    pub lines: Vec<Line>,
}

#[derive(Template)]
#[template(path = "today.html")]
struct TodayPage {
    c: Chrome,
    lead: String,
    counts: Vec<(String, String, String)>,
    attention: Vec<Item>,
    unavailable: Vec<(String, String)>,
}

/// A finding's period as dates.
pub fn period(f: &Finding) -> String {
    match (f.start, f.end) {
        (Some(s), Some(e)) => format!("{} → {}", iso_date(s), iso_date(e)),
        (Some(s), None) => iso_date(s),
        (None, Some(e)) => iso_date(e),
        (None, None) => String::new(),
    }
}

/// Department and role of a worker, as one line.
pub fn who(live: &Live, worker: &str) -> String {
    live.people
        .get(worker)
        .map(|p| match &p.role {
            Some(r) => format!("{} · {r}", p.department),
            None => p.department.clone(),
        })
        .unwrap_or_default()
}

/// Alerts neither acknowledged nor withdrawn.
pub fn open_alerts(live: &Live) -> usize {
    live.table("alerts")
        .iter()
        .filter(|r| {
            r.time("acknowledged_at").is_none() && r.str("state") != "withdrawn" && r.str("rule") != "withdrawal"
        })
        .count()
}

/// GET /.
pub async fn page(State(app): State<Arc<App>>, Extension(lang): Extension<Lang>, headers: HeaderMap) -> Response {
    let (s, live) = match session_and_live(&app, &headers, lang, Role::Viewer).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let tr = Tr(lang);
    let workers = live
        .table("lake_overview")
        .iter()
        .next()
        .and_then(|r| r.int("workers"))
        .map(|n| n.to_string())
        .unwrap_or_default();
    let counts = vec![
        (tr.t("today.attention_count").to_string(), live.attention.len().to_string(), String::new()),
        (tr.t("today.open_alerts").to_string(), open_alerts(&live).to_string(), "/alerts".to_string()),
        (tr.t("today.findings").to_string(), live.findings.len().to_string(), "/findings".to_string()),
        (tr.t("today.workers").to_string(), workers, String::new()),
    ];
    let attention = live
        .attention
        .iter()
        .map(|a| Item {
            worker: a.worker_id.clone(),
            who: who(&live, &a.worker_id),
            severity: tr.severity(a.severity),
            class: a.severity.class(),
            lines: a
                .findings
                .iter()
                .map(|f| Line { title: tr.finding_title(f), numbers: tr.finding_numbers(f), period: period(f) })
                .collect(),
        })
        .collect();
    let c = Chrome::new(lang, &s, "today", "today.title", "/", &app);
    render(&TodayPage {
        lead: tr.t("today.lead").to_string(),
        c,
        counts,
        attention,
        unavailable: live.unavailable.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
    })
}
