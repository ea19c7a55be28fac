//! `/sql`: read-only SQL over the same tables and views as `alara sql`, planned through the
//! same read-only guard ([`alara_detect::Session::sql`]). The page shows the first rows; the
//! CSV download has them all.

use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{Chrome, Grid, check_csrf, render, require};
use crate::app::App;
use crate::data::open_session;
use crate::i18n::{Lang, Tr};
use crate::users::Role;

/// Rows shown on the page.
const MAX_ROWS: usize = 1000;

#[derive(Template)]
#[template(path = "sql.html")]
struct SqlPage {
    c: Chrome,
    query: String,
    error: String,
    ran: bool,
    g: Grid,
    tables: String,
}

const EXAMPLE: &str =
    "SELECT level, quantity, COUNT(*) AS findings\nFROM overexposure\nGROUP BY level, quantity\nORDER BY findings DESC";

async fn table_names(app: &App) -> String {
    let (lake, options) = (app.opts.lake.clone(), app.opts.session.clone());
    let listed = app
        .engine
        .run(async move {
            let session = open_session(&lake, &options).await?;
            let sql =
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name";
            Ok::<_, crate::Error>(session.query(sql).await?)
        })
        .await;
    let Ok(Ok(batches)) = listed else {
        return String::new();
    };
    let Some(b) = batches.first() else { return String::new() };
    let Ok(t) = alara_detect::rows::table_from_batches(b.schema().as_ref(), &batches) else { return String::new() };
    t.iter().map(|r| r.str("table_name")).collect::<Vec<_>>().join(", ")
}

fn page_of(
    app: &App,
    lang: Lang,
    s: &crate::auth::Session,
    query: String,
    error: String,
    g: Option<Grid>,
    tables: String,
) -> Response {
    let c = Chrome::new(lang, s, "sql", "sql.title", "/sql", app);
    let ran = g.is_some();
    render(&SqlPage { c, query, error, ran, g: g.unwrap_or_default(), tables })
}

/// GET /sql: the form.
pub async fn page(State(app): State<Arc<App>>, Extension(lang): Extension<Lang>, headers: HeaderMap) -> Response {
    let s = match require(&app, &headers, lang, Role::Viewer) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let tables = table_names(&app).await;
    page_of(&app, lang, &s, EXAMPLE.to_string(), String::new(), None, tables)
}

/// The SQL form.
#[derive(Deserialize)]
pub struct SqlForm {
    q: String,
    #[serde(default)]
    format: String,
    #[serde(default)]
    csrf: String,
}

/// POST /sql: runs the query; `format=csv` answers a CSV file.
pub async fn run(
    State(app): State<Arc<App>>,
    Extension(lang): Extension<Lang>,
    headers: HeaderMap,
    Form(f): Form<SqlForm>,
) -> Response {
    let s = match require(&app, &headers, lang, Role::Viewer) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(r) = check_csrf(&s, lang, &f.csrf) {
        return r;
    }
    let tr = Tr(lang);
    tracing::info!(user = %s.user, query = %f.q, "sql");
    let (lake, options, q) = (app.opts.lake.clone(), app.opts.session.clone(), f.q.clone());
    let result = app
        .engine
        .run(async move {
            let session = open_session(&lake, &options).await.map_err(|e| e.to_string())?;
            let df = session.sql(&q).await.map_err(|e| e.to_string())?;
            let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
            let batches = df.collect().await.map_err(|e| e.to_string())?;
            Ok::<_, String>((schema, batches))
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
    let (schema, batches) = match result {
        Ok(r) => r,
        Err(e) => {
            let tables = table_names(&app).await;
            let resp = page_of(&app, lang, &s, f.q, e, None, tables);
            return (StatusCode::BAD_REQUEST, resp).into_response();
        }
    };
    if f.format == "csv" {
        // As `alara sql --format csv`: a header row, and the columns even when there is no row.
        let mut out = Vec::new();
        {
            let mut w = arrow::csv::WriterBuilder::new().with_header(true).build(&mut out);
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            let empty = [arrow::array::RecordBatch::new_empty(schema.clone())];
            let all: &[arrow::array::RecordBatch] = if rows == 0 { &empty } else { &batches };
            for b in all {
                if let Err(e) = w.write(b) {
                    return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
                }
            }
        }
        return (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (header::CONTENT_DISPOSITION, "attachment; filename=\"alara-query.csv\""),
            ],
            out,
        )
            .into_response();
    }
    let table = match alara_detect::rows::table_from_batches(&schema, &batches) {
        Ok(t) => t,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let mut g = Grid::of_table(&tr, "result", "", &table, MAX_ROWS);
    if g.note.is_empty() {
        g.note = format!("{} {}", table.len(), tr.t("sql.rows"));
    }
    let tables = table_names(&app).await;
    page_of(&app, lang, &s, f.q, String::new(), Some(g), tables)
}
