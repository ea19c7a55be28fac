//! `/worker/{id}`: one worker's dose statement, 12-month charts against the limit and the
//! investigation level (the report's chart code), findings, alerts and legal results. Each view
//! is written to the access log before the page is sent.

use std::sync::Arc;

use alara_report::fmt::{iso_date, when};
use alara_report::model::{self, Kind};
use alara_report::svg::{self, RefLine};
use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{Cell, Chrome, Grid, live, message, render, require};
use crate::app::App;
use crate::i18n::{Lang, Tr};
use crate::pages::today::{period, who};
use crate::users::Role;

#[derive(Template)]
#[template(path = "worker.html")]
struct WorkerPage {
    c: Chrome,
    lead: String,
    head: Vec<Grid>,
    charts: Vec<(String, String)>,
    sections: Vec<Grid>,
}

/// Readings shown on the page (the newest).
const MAX_READINGS: usize = 200;

/// GET /worker/{id}.
pub async fn page(
    State(app): State<Arc<App>>,
    Extension(lang): Extension<Lang>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let s = match require(&app, &headers, lang, Role::Viewer) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let tr = Tr(lang);
    // The view is recorded before anything about the worker is read or sent.
    let logged = {
        let (lake, user, role, worker) = (app.lake.clone(), s.user.clone(), s.role, id.clone());
        tokio::task::spawn_blocking(move || {
            crate::access::record(&lake, chrono::Utc::now(), &user, role.as_str(), &worker, "worker")
        })
        .await
    };
    match logged {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            return message(lang, StatusCode::INTERNAL_SERVER_ERROR, &format!("{}access log: {e}", tr.t("failed")));
        }
        Err(e) => return message(lang, StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
    let live = match live(&app, lang).await {
        Ok(l) => l,
        Err(r) => return *r,
    };
    let person = live.people.get(&id);

    let mut statement = Grid::new(
        &tr,
        "statement",
        tr.t("worker.statement"),
        &[
            "col.quantity",
            "col.site",
            "#col.last_period",
            "#col.ytd",
            "#col.rolling",
            "#col.career",
            "#col.limit",
            "#col.missing",
        ],
    );
    statement.text = tr.t("worker.statement_text").to_string();
    let mut charts = Vec::new();
    let periods = live.table("dose_by_period");
    for ((w, q, site), t) in live.totals.iter().filter(|((w, _, _), _)| *w == id) {
        let last = periods
            .iter()
            .filter(|r| r.str("worker_id") == *w && r.str("quantity") == *q && r.str("body_site") == *site)
            .max_by_key(|r| r.time("period_end"))
            .map(|r| match r.float("counted_msv") {
                Some(v) => format!("{} ({})", tr.msv(v), r.time("period_end").map(iso_date).unwrap_or_default()),
                None => format!(
                    "{} ({})",
                    tr.0.status(&r.str("status")),
                    r.time("period_end").map(iso_date).unwrap_or_default()
                ),
            })
            .unwrap_or_default();
        let limit = live.thresholds.get(person, q, "limit");
        let investigation = live.thresholds.get(person, q, "investigation");
        statement.rows.push(vec![
            Cell::text(tr.quantity(q)),
            Cell::text(tr.0.site(site)),
            Cell::num(last),
            Cell::num(tr.msv(t.year_to_date)),
            Cell::num(tr.msv(t.rolling_12)),
            Cell::num(tr.msv(t.career)),
            Cell::num(limit.map(|l| tr.msv(l)).unwrap_or_default()),
            Cell::num(t.missing_12.to_string()),
        ]);
        let empty = Default::default();
        let months = live.monthly.get(&(w.clone(), q.clone(), site.clone())).unwrap_or(&empty);
        let points = model::rolling_series(months, &live.bounds);
        let mut lines = Vec::new();
        if let Some(v) = limit {
            lines.push(RefLine { value: v, label: format!("{} {}", tr.t("worker.limit"), tr.msv(v)), class: "limit" });
        }
        if let Some(v) = investigation {
            lines.push(RefLine {
                value: v,
                label: format!("{} {}", tr.t("worker.investigation"), tr.msv(v)),
                class: "inv",
            });
        }
        let title = format!("{} · {}", tr.quantity(q), tr.0.site(site));
        let chart = svg::rolling_chart(tr.0, &points, &lines, None, None, &format!("{id} {title}"));
        charts.push((title, chart));
    }

    let mut findings =
        Grid::new(&tr, "findings", tr.t("worker.findings"), &["col.finding", "col.period", "col.dose", "col.evidence"]);
    for f in live.findings.iter().filter(|f| f.worker_id == id) {
        let mut title = Cell::text(format!("{} — {}", tr.severity(f.severity()), tr.finding_title(f)));
        if f.kind != Kind::Overexposure {
            title.href = Some(
                "/findings#".to_string() + if f.kind == Kind::MissingBadge { "missing_badge" } else { "heterogeneity" },
            );
        }
        findings.rows.push(vec![
            title,
            Cell::text(period(f)),
            Cell::text(tr.finding_numbers(f)),
            Cell::text(f.evidence.clone().unwrap_or_default()),
        ]);
    }

    let mut alerts = Grid::new(
        &tr,
        "alerts",
        tr.t("worker.alerts"),
        &["col.raised", "col.level", "col.quantity", "#col.dose", "col.state", "col.summary"],
    );
    for r in live.table("alerts").iter().filter(|r| r.str("worker_id") == id) {
        let state = match r.text("acknowledged_by") {
            Some(by) => format!("{} {by}", tr.t("alerts.acked_by")),
            None => r.str("state"),
        };
        alerts.rows.push(vec![
            Cell::link(
                r.time("raised_at").map(when).unwrap_or_default(),
                format!("/alerts#alert-{}", r.str("alert_id")),
            ),
            Cell::text(tr.level(&r.str("level"))),
            Cell::text(r.str("quantity")),
            Cell::num(r.float("dose_msv").map(|v| tr.msv(v)).unwrap_or_default()),
            Cell::text(state),
            Cell::text(tr.0.alert_summary(
                &r.str("level"),
                &r.str("quantity"),
                r.float("dose_msv"),
                r.float("threshold_msv"),
                &r.str("summary"),
            )),
        ]);
    }

    let mut readings = Grid::new(
        &tr,
        "readings",
        tr.t("worker.readings"),
        &["col.quantity", "col.site", "col.start", "col.end", "col.status", "#col.dose"],
    );
    let mut rows: Vec<_> = periods.iter().filter(|r| r.str("worker_id") == id).collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.time("period_end")));
    let total = rows.len();
    for r in rows.into_iter().take(MAX_READINGS) {
        readings.rows.push(vec![
            Cell::text(r.str("quantity")),
            Cell::text(tr.0.site(&r.str("body_site"))),
            Cell::text(r.time("period_start").map(iso_date).unwrap_or_default()),
            Cell::text(r.time("period_end").map(iso_date).unwrap_or_default()),
            Cell::text(tr.0.status(&r.str("status"))),
            Cell::num(r.float("counted_msv").map(|v| tr.msv(v)).unwrap_or_default()),
        ]);
    }
    if total > MAX_READINGS {
        readings.note = format!("{MAX_READINGS} {} {total}", tr.t("sql.capped"));
    }

    let known = person.is_some() || !statement.rows.is_empty() || !alerts.rows.is_empty();
    let lead = if known { who(&live, &id) } else { tr.t("worker.unknown").to_string() };
    let mut c = Chrome::new(lang, &s, "", "worker.title", &format!("/worker/{id}"), &app);
    c.title = format!("{} {id}", tr.t("worker.title"));
    let page = WorkerPage { c, lead, head: vec![statement], charts, sections: vec![findings, alerts, readings] };
    let resp = render(&page);
    if known { resp } else { (StatusCode::NOT_FOUND, resp).into_response() }
}
