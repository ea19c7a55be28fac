//! `/alerts`: open, failed and acknowledged alerts; acknowledging goes through
//! [`alara_alert::acknowledge`], like `alara alerts --ack`, under the logged-in name.

use std::sync::Arc;

use alara_report::fmt::when;
use askama::Template;
use axum::Extension;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::{Chrome, check_csrf, message, render, require, see_other, session_and_live};
use crate::app::App;
use crate::i18n::{Lang, Tr};
use crate::users::Role;

/// One alert row.
pub struct AlertRow {
    /// Full id.
    pub id: String,
    /// Raised at.
    pub raised: String,
    /// Level label.
    pub level: String,
    /// CSS class of the level.
    pub class: &'static str,
    /// Quantity.
    pub quantity: String,
    /// Worker.
    pub worker: String,
    /// Department.
    pub department: String,
    /// Dose.
    pub dose: String,
    /// Threshold.
    pub threshold: String,
    /// The alert's own summary line.
    pub summary: String,
    /// Delivery state.
    pub state: String,
    /// Acknowledged.
    pub acked: bool,
    /// By whom.
    pub ack_by: String,
    /// When.
    pub ack_at: String,
    /// The note.
    pub ack_note: String,
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct AlertsPage {
    c: Chrome,
    flash: String,
    groups: Vec<(String, &'static str, Vec<AlertRow>)>,
}

/// Query string of GET /alerts.
#[derive(Deserialize, Default)]
pub struct AlertsQuery {
    #[serde(default)]
    acked: String,
}

/// GET /alerts.
pub async fn page(
    State(app): State<Arc<App>>,
    Extension(lang): Extension<Lang>,
    headers: HeaderMap,
    Query(q): Query<AlertsQuery>,
) -> Response {
    let (s, live) = match session_and_live(&app, &headers, lang, Role::Viewer).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let tr = Tr(lang);
    let (mut open, mut failed, mut acked) = (Vec::new(), Vec::new(), Vec::new());
    let mut flash = String::new();
    let table = live.table("alerts");
    let mut rows: Vec<_> = table.iter().collect();
    // Newest first.
    rows.sort_by_key(|r| std::cmp::Reverse(r.time("raised_at")));
    for r in rows {
        let state = r.str("state");
        if state == "withdrawn" || r.str("rule") == "withdrawal" {
            continue;
        }
        let level = r.str("level");
        let row = AlertRow {
            id: r.str("alert_id"),
            raised: r.time("raised_at").map(when).unwrap_or_default(),
            class: match level.as_str() {
                "limit" | "pregnancy" | "esr" => "act",
                "investigation" => "soon",
                _ => "check",
            },
            level: tr.level(&level).to_string(),
            quantity: r.str("quantity"),
            worker: r.str("worker_id"),
            department: r.str("department"),
            dose: r.float("dose_msv").map(|v| tr.msv(v)).unwrap_or_default(),
            threshold: r.float("threshold_msv").map(|v| tr.msv(v)).unwrap_or_default(),
            summary: tr.0.alert_summary(
                &level,
                &r.str("quantity"),
                r.float("dose_msv"),
                r.float("threshold_msv"),
                &r.str("summary"),
            ),
            state: state.clone(),
            acked: r.time("acknowledged_at").is_some(),
            ack_by: r.str("acknowledged_by"),
            ack_at: r.time("acknowledged_at").map(when).unwrap_or_default(),
            ack_note: r.str("acknowledged_note"),
        };
        if !q.acked.is_empty() && row.id == q.acked {
            flash = format!("{}{}", tr.t("alerts.done"), row.summary);
        }
        if row.acked {
            acked.push(row);
        } else if state == "failed" {
            failed.push(row);
        } else {
            open.push(row);
        }
    }
    let c = Chrome::new(lang, &s, "alerts", "alerts.title", "/alerts", &app);
    render(&AlertsPage {
        c,
        flash,
        groups: vec![
            (tr.t("alerts.open").to_string(), "open", open),
            (tr.t("alerts.failed").to_string(), "failed", failed),
            (tr.t("alerts.acknowledged").to_string(), "acknowledged", acked),
        ],
    })
}

/// The acknowledgement form.
#[derive(Deserialize)]
pub struct AckForm {
    id: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    csrf: String,
}

/// POST /alerts/ack (advisors).
pub async fn ack(
    State(app): State<Arc<App>>,
    Extension(lang): Extension<Lang>,
    headers: HeaderMap,
    Form(f): Form<AckForm>,
) -> Response {
    let s = match require(&app, &headers, lang, Role::Advisor) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(r) = check_csrf(&s, lang, &f.csrf) {
        return r;
    }
    let note = Some(f.note.trim()).filter(|n| !n.is_empty()).map(str::to_string);
    let lake = app.lake.clone();
    let (id, user) = (f.id.clone(), s.user.clone());
    let done = tokio::task::spawn_blocking(move || alara_alert::acknowledge(&lake, &id, &user, note.as_deref())).await;
    app.cache.invalidate().await;
    match done {
        Ok(Ok(alert)) => {
            tracing::info!(user = %s.user, alert_id = %alert.alert_id, "acknowledged");
            crate::alertmanager::sync_all(&app).await;
            see_other(&format!("/alerts?acked={}#alert-{}", alert.alert_id, alert.alert_id))
        }
        Ok(Err(e)) if e.is_usage() => message(lang, StatusCode::BAD_REQUEST, &e.to_string()),
        Ok(Err(e)) => message(lang, StatusCode::INTERNAL_SERVER_ERROR, &format!("{}{e}", Tr(lang).t("failed"))),
        Err(e) => message(lang, StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}
