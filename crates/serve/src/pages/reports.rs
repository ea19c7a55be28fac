//! `/reports`: the nightly reports kept in a directory, by date. A report is a directory
//! holding `report.html` (and its CSV extracts and `summary.json`): the reports directory
//! itself, or any of its subdirectories (`reports/2026-10-31/`). Files are served from there
//! only: names are checked, never joined blindly to a path.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::tables::GridsPage;
use super::{Cell, Chrome, Grid, message, render, require};
use crate::app::App;
use crate::i18n::{Lang, Tr};
use crate::users::Role;

/// The name under which the reports directory itself is listed.
const TOP: &str = "latest";

/// A kept report: its name in URLs, its directory and date.
struct Kept {
    name: String,
    dir: PathBuf,
    as_of: String,
}

fn safe_name(s: &str) -> bool {
    !s.is_empty() && !s.starts_with('.') && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn kept(root: &FsPath) -> Vec<Kept> {
    let mut out = Vec::new();
    let as_of =
        |dir: &FsPath| alara_report::read_previous(dir).ok().flatten().map(|s| s.as_of.to_string()).unwrap_or_default();
    if root.join(alara_report::HTML_FILE).is_file() {
        out.push(Kept { name: TOP.to_string(), dir: root.to_path_buf(), as_of: as_of(root) });
    }
    if let Ok(entries) = std::fs::read_dir(root) {
        for e in entries.flatten() {
            let dir = e.path();
            let Some(name) = dir.file_name().and_then(|n| n.to_str()).map(str::to_string) else { continue };
            if safe_name(&name) && name != TOP && dir.join(alara_report::HTML_FILE).is_file() {
                out.push(Kept { as_of: as_of(&dir), name, dir });
            }
        }
    }
    out.sort_by(|a, b| b.as_of.cmp(&a.as_of).then(a.name.cmp(&b.name)));
    out
}

/// GET /reports.
pub async fn list(State(app): State<Arc<App>>, Extension(lang): Extension<Lang>, headers: HeaderMap) -> Response {
    let s = match require(&app, &headers, lang, Role::Viewer) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let tr = Tr(lang);
    let mut g = Grid::new(&tr, "reports", "", &["col.date", "reports.page", "col.files"]);
    let lead = match &app.opts.reports_dir {
        None => tr.t("reports.no_dir").to_string(),
        Some(root) => {
            g.empty = tr.t("reports.none").to_string();
            for k in kept(root) {
                let mut files: Vec<String> = std::fs::read_dir(&k.dir)
                    .map(|rd| {
                        rd.flatten()
                            .filter(|e| e.path().is_file())
                            .filter_map(|e| e.file_name().to_str().map(str::to_string))
                            .filter(|n| safe_name(n))
                            .collect()
                    })
                    .unwrap_or_default();
                files.sort();
                g.rows.push(vec![
                    Cell::text(if k.as_of.is_empty() { k.name.clone() } else { k.as_of.clone() }),
                    Cell::link(tr.t("reports.page"), format!("/reports/{}/{}", k.name, alara_report::HTML_FILE)),
                    Cell::text(files.join(" · ")),
                ]);
            }
            format!("{} ({})", tr.t("reports.lead"), root.display())
        }
    };
    let c = Chrome::new(lang, &s, "reports", "reports.title", "/reports", &app);
    let page = GridsPage { c, lead, sections: vec![g] };
    render(&page)
}

/// GET /reports/{name}/{file}.
pub async fn file(
    State(app): State<Arc<App>>,
    Extension(lang): Extension<Lang>,
    headers: HeaderMap,
    Path((name, file)): Path<(String, String)>,
) -> Response {
    if let Err(r) = require(&app, &headers, lang, Role::Viewer) {
        return r;
    }
    let not_found = || message(lang, StatusCode::NOT_FOUND, Tr(lang).t("not_found"));
    let Some(root) = &app.opts.reports_dir else { return not_found() };
    if !safe_name(&name) || !safe_name(&file) {
        return not_found();
    }
    let Some(k) = kept(root).into_iter().find(|k| k.name == name) else { return not_found() };
    let path = k.dir.join(&file);
    let Ok(bytes) = std::fs::read(&path) else { return not_found() };
    let kind = match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("csv") => "text/csv; charset=utf-8",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    };
    (StatusCode::OK, [(header::CONTENT_TYPE, kind)], bytes).into_response()
}
