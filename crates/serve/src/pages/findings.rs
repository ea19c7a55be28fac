//! `/findings`: open findings with their evidence, and the explained ones. Recording an
//! explanation goes through [`alara_detect::explain::record`], like `alara explain`, under the
//! logged-in name.

use std::sync::Arc;

use alara_detect::explain::{Explanation, record};
use alara_model::records::parse_timestamp;
use alara_report::fmt::{iso_time, when};
use alara_report::model::Kind;
use alara_report::model::SeverityText as _;
use askama::Template;
use axum::Extension;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{Duration, Utc};
use serde::Deserialize;

use super::{Cell, Chrome, Grid, check_csrf, message, render, require, see_other, session_and_live};
use crate::app::App;
use crate::i18n::{Lang, Tr};
use crate::pages::today::{period, who};
use crate::users::Role;

/// One finding row.
pub struct FindingRow {
    /// Severity label.
    pub severity: &'static str,
    /// CSS class.
    pub class: &'static str,
    /// What.
    pub title: String,
    /// Dose against threshold.
    pub numbers: String,
    /// Worker.
    pub worker: String,
    /// Department and role.
    pub department: String,
    /// When.
    pub period: String,
    /// Evidence from the view.
    pub evidence: String,
    /// Whether an explanation suppresses it (missing badges, heterogeneity).
    pub explainable: bool,
    /// Level or signal.
    pub signal: String,
    /// Start, RFC 3339.
    pub from: String,
    /// End, RFC 3339.
    pub to: String,
}

#[derive(Template)]
#[template(path = "findings.html")]
struct FindingsPage {
    c: Chrome,
    flash: String,
    error: String,
    groups: Vec<(String, &'static str, Vec<FindingRow>)>,
    g: Grid,
}

/// Query string of GET /findings.
#[derive(Deserialize, Default)]
pub struct FindingsQuery {
    #[serde(default)]
    explained: String,
}

/// GET /findings.
pub async fn page(
    State(app): State<Arc<App>>,
    Extension(lang): Extension<Lang>,
    headers: HeaderMap,
    Query(q): Query<FindingsQuery>,
) -> Response {
    let (s, live) = match session_and_live(&app, &headers, lang, Role::Viewer).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let tr = Tr(lang);
    let mut groups: Vec<(String, &'static str, Vec<FindingRow>)> = vec![
        (tr.t("findings.overexposure").to_string(), "overexposure", Vec::new()),
        (tr.t("findings.missing_badge").to_string(), "missing_badge", Vec::new()),
        (tr.t("findings.heterogeneity").to_string(), "heterogeneity", Vec::new()),
    ];
    for f in &live.findings {
        let i = match f.kind {
            Kind::Overexposure => 0,
            Kind::MissingBadge => 1,
            Kind::Heterogeneity => 2,
        };
        groups[i].2.push(FindingRow {
            severity: tr.severity(f.severity()),
            class: f.severity().class(),
            title: tr.finding_title(f),
            numbers: tr.finding_numbers(f),
            worker: f.worker_id.clone(),
            department: who(&live, &f.worker_id),
            period: period(f),
            evidence: f.evidence.clone().unwrap_or_default(),
            explainable: f.kind != Kind::Overexposure && f.start.is_some() && f.end.is_some(),
            signal: f.level.clone(),
            from: f.start.map(iso_time).unwrap_or_default(),
            to: f.end.map(iso_time).unwrap_or_default(),
        });
    }
    let mut g = Grid::new(
        &tr,
        "explained-table",
        "",
        &["col.finding", "col.worker", "col.period", "col.reason", "col.by", "col.at"],
    );
    let explained = live.table("explained_findings");
    let mut flash = String::new();
    for r in explained.iter() {
        let signal = r.str("level_or_signal");
        if !q.explained.is_empty() && r.str("explanation_id") == q.explained && flash.is_empty() {
            flash = format!("{}{} — {}", tr.t("findings.done"), r.str("worker_id"), r.str("reason"));
        }
        g.rows.push(vec![
            Cell::text(tr.signal(&signal)),
            Cell::link(r.str("worker_id"), format!("/worker/{}", r.str("worker_id"))),
            Cell::text(format!(
                "{} → {}",
                r.time("period_start").map(when).unwrap_or_default(),
                r.time("period_end").map(when).unwrap_or_default()
            )),
            Cell::text(r.str("reason")),
            Cell::text(r.str("explained_by")),
            Cell::text(r.time("explained_at").map(when).unwrap_or_default()),
        ]);
    }
    let c = Chrome::new(lang, &s, "findings", "findings.title", "/findings", &app);
    render(&FindingsPage { c, flash, error: String::new(), groups, g })
}

/// The explanation form.
#[derive(Deserialize)]
pub struct ExplainForm {
    worker: String,
    #[serde(default)]
    signal: String,
    from: String,
    to: String,
    reason: String,
    #[serde(default)]
    csrf: String,
}

/// POST /findings/explain (advisors).
pub async fn explain(
    State(app): State<Arc<App>>,
    Extension(lang): Extension<Lang>,
    headers: HeaderMap,
    Form(f): Form<ExplainForm>,
) -> Response {
    let s = match require(&app, &headers, lang, Role::Advisor) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(r) = check_csrf(&s, lang, &f.csrf) {
        return r;
    }
    let (Some(from), Some(to_raw)) = (parse_timestamp(&f.from), parse_timestamp(&f.to)) else {
        return message(lang, StatusCode::BAD_REQUEST, "from/to: not a date");
    };
    // A bare date for the end means the whole day, as with `alara explain --to`.
    let to = if f.to.trim().len() == 10 { to_raw + Duration::days(1) - Duration::microseconds(1) } else { to_raw };
    let e = Explanation {
        worker_id: f.worker.trim().to_string(),
        period_start: from,
        period_end: to,
        signal: Some(f.signal.trim().to_string()).filter(|s| !s.is_empty()),
        reason: f.reason.trim().to_string(),
        author: s.user.clone(),
        recorded_at: Utc::now(),
        // An ordinary explanation; the ESR register's decisions are recorded with `alara explain --decision`.
        decision: None,
    };
    let lake = app.lake.clone();
    let done = tokio::task::spawn_blocking(move || record(&lake, &e)).await;
    app.cache.invalidate().await;
    match done {
        Ok(Ok(id)) => {
            tracing::info!(user = %s.user, explanation_id = %id, "explanation recorded");
            see_other(&format!("/findings?explained={id}#explained"))
        }
        Ok(Err(alara_detect::Error::Invalid(m))) => message(lang, StatusCode::BAD_REQUEST, &m),
        Ok(Err(e)) => message(lang, StatusCode::INTERNAL_SERVER_ERROR, &format!("{}{e}", Tr(lang).t("failed"))),
        Err(e) => message(lang, StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}
