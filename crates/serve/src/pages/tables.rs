//! `/departments` and `/quality`: the report's tables, live.

use std::collections::BTreeMap;
use std::sync::Arc;

use alara_report::model::Band;
use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::{Cell, Chrome, Grid, render, session_and_live};
use crate::app::App;
use crate::i18n::{Lang, Tr};
use crate::users::Role;

/// A page of titled tables.
#[derive(Template)]
#[template(path = "grids.html")]
pub struct GridsPage {
    /// Layout.
    pub c: Chrome,
    /// Text under the title.
    pub lead: String,
    /// The tables.
    pub sections: Vec<Grid>,
}

fn rate(tr: &Tr, r: Option<f64>) -> String {
    r.map(|v| format!("{} %", tr.num(v * 100.0, 0))).unwrap_or_default()
}

fn band(tr: &Tr, b: Option<Band>) -> Cell {
    match b {
        Some(Band::Satisfactory) => Cell::text(tr.t("band.satisfactory")),
        Some(Band::Progress) => Cell::text(tr.t("band.progress")),
        Some(Band::Priority) => Cell::text(tr.t("band.priority")),
        None => Cell::text(""),
    }
}

/// GET /departments.
pub async fn departments(
    State(app): State<Arc<App>>,
    Extension(lang): Extension<Lang>,
    headers: HeaderMap,
) -> Response {
    let (s, live) = match session_and_live(&app, &headers, lang, Role::Viewer).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let tr = Tr(lang);
    let mut compliance = Grid::new(
        &tr,
        "compliance",
        tr.t("departments.compliance"),
        &[
            "col.department",
            "#col.workers",
            "#col.issued",
            "#col.read",
            "#col.not_returned",
            "#col.return_rate",
            "#col.wearing_rate",
            "col.band",
        ],
    );
    for d in &live.departments {
        compliance.rows.push(vec![
            Cell::text(d.name.clone()),
            Cell::num(d.workers.to_string()),
            Cell::num(d.badges_issued.to_string()),
            Cell::num(d.badges_read.to_string()),
            Cell::num(d.badges_not_returned.to_string()),
            Cell::num(rate(&tr, d.return_rate())),
            Cell::num(rate(&tr, d.wearing_rate())),
            band(&tr, d.band()),
        ]);
    }
    // Whole-body rolling 12-month dose by department and role, from the report's totals.
    let mut by_role: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for ((w, q, _), t) in &live.totals {
        if q != "Hp10" {
            continue;
        }
        let p = live.people.get(w);
        let dept = p.map(|p| p.department.clone()).unwrap_or_default();
        let role = p.and_then(|p| p.role.clone()).unwrap_or_default();
        by_role.entry((dept, role)).or_default().push(t.rolling_12);
    }
    let mut roles = Grid::new(
        &tr,
        "by-role",
        tr.t("departments.by_role"),
        &["col.department", "col.role", "#col.workers", "#col.mean", "#col.max", "#col.total"],
    );
    for ((dept, role), v) in by_role {
        let total: f64 = v.iter().sum();
        let max = v.iter().copied().fold(0.0, f64::max);
        roles.rows.push(vec![
            Cell::text(dept),
            Cell::text(role),
            Cell::num(v.len().to_string()),
            Cell::num(tr.msv(total / v.len() as f64)),
            Cell::num(tr.msv(max)),
            Cell::num(tr.msv(total)),
        ]);
    }
    let c = Chrome::new(lang, &s, "departments", "departments.title", "/departments", &app);
    render(&GridsPage { c, lead: tr.t("departments.lead").to_string(), sections: vec![compliance, roles] })
}

/// GET /quality.
pub async fn quality(State(app): State<Arc<App>>, Extension(lang): Extension<Lang>, headers: HeaderMap) -> Response {
    let (s, live) = match session_and_live(&app, &headers, lang, Role::Viewer).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let tr = Tr(lang);
    let sections = [
        ("rejects", "quality.rejects", "rejects_by_reason"),
        ("late", "quality.late", "late_results"),
        ("missing", "quality.missing", "missing_results"),
        ("lag", "quality.lag", "ingest_lag"),
    ]
    .into_iter()
    .map(|(id, title, table)| {
        let mut g = Grid::of_table(&tr, id, tr.t(title), &live.table(table), 200);
        if let Some(why) = live.unavailable.get(table) {
            g.text = format!("{}: {why}", tr.t("unavailable"));
        }
        g
    })
    .collect();
    let c = Chrome::new(lang, &s, "quality", "quality.title", "/quality", &app);
    render(&GridsPage { c, lead: tr.t("quality.lead").to_string(), sections })
}
