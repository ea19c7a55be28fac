//! Page handlers: each reads the session, the language and the live data, and renders one
//! compiled template. Pages work without JavaScript: links and plain forms only.

pub mod alerts;
pub mod findings;
pub mod login;
pub mod reports;
pub mod sql;
pub mod tables;
pub mod today;
pub mod users;
pub mod worker;

use std::sync::Arc;

use alara_report::Value;
use alara_report::fmt::{iso_date, when};
use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::app::App;
use crate::auth::{SESSION_COOKIE, Session, cookie, same_token};
use crate::data::Live;
use crate::i18n::{Lang, Tr};
use crate::users::Role;

/// What the layout needs: language, who is logged in, the CSRF token, the active tab.
pub struct Chrome {
    /// Translations.
    pub tr: Tr,
    /// Page title.
    pub title: String,
    /// Whether someone is logged in (the navigation is shown).
    pub logged_in: bool,
    /// Login name.
    pub user: String,
    /// Catalog key of the role.
    pub role_key: &'static str,
    /// May acknowledge and explain.
    pub can_act: bool,
    /// May manage users.
    pub admin: bool,
    /// The session's (or the login form's) CSRF token.
    pub csrf: String,
    /// The active tab.
    pub nav: &'static str,
    /// The path of the page (for the language switch).
    pub path: String,
    /// The date of the data.
    pub as_of: String,
}

impl Chrome {
    /// The report charts' style, so a chart looks the same on a page as in the report.
    pub fn chart_css(&self) -> &'static str {
        alara_report::svg::CSS
    }

    /// The layout for a logged-in page.
    pub fn new(lang: Lang, s: &Session, nav: &'static str, title_key: &str, path: &str, app: &App) -> Chrome {
        let tr = Tr(lang);
        Chrome {
            title: tr.t(title_key).to_string(),
            tr,
            logged_in: true,
            user: s.user.clone(),
            role_key: match s.role {
                Role::Viewer => "role.viewer",
                Role::Advisor => "role.advisor",
                Role::Admin => "role.admin",
            },
            can_act: s.role >= Role::Advisor,
            admin: s.role >= Role::Admin,
            csrf: s.csrf.clone(),
            nav,
            path: path.to_string(),
            as_of: app.as_of().to_string(),
        }
    }

    /// The layout of a page seen before logging in.
    pub fn anonymous(lang: Lang, title_key: &str, csrf: String, path: &str) -> Chrome {
        let tr = Tr(lang);
        Chrome {
            title: tr.t(title_key).to_string(),
            tr,
            logged_in: false,
            user: String::new(),
            role_key: "role.viewer",
            can_act: false,
            admin: false,
            csrf,
            nav: "",
            path: path.to_string(),
            as_of: String::new(),
        }
    }
}

/// A table cell.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    /// Text (escaped by the template).
    pub text: String,
    /// A link.
    pub href: Option<String>,
    /// CSS class (`num` for numbers).
    pub class: &'static str,
}

impl Cell {
    /// Plain text.
    pub fn text(s: impl Into<String>) -> Cell {
        Cell { text: s.into(), ..Cell::default() }
    }

    /// A number, right-aligned.
    pub fn num(s: impl Into<String>) -> Cell {
        Cell { text: s.into(), class: "num", ..Cell::default() }
    }

    /// A link.
    pub fn link(s: impl Into<String>, href: impl Into<String>) -> Cell {
        Cell { text: s.into(), href: Some(href.into()), ..Cell::default() }
    }
}

/// A column head.
#[derive(Debug, Clone)]
pub struct Head {
    /// Text.
    pub text: String,
    /// Right-aligned.
    pub num: bool,
}

/// A titled table.
#[derive(Debug, Clone, Default)]
pub struct Grid {
    /// Anchor.
    pub id: String,
    /// Title.
    pub title: String,
    /// Text under the title.
    pub text: String,
    /// Column heads.
    pub head: Vec<Head>,
    /// Rows.
    pub rows: Vec<Vec<Cell>>,
    /// Note under the table.
    pub note: String,
    /// Shown instead of an empty table.
    pub empty: String,
}

impl Grid {
    /// An empty grid with heads (`#` prefix: numeric column).
    pub fn new(tr: &Tr, id: &str, title: &str, heads: &[&str]) -> Grid {
        Grid {
            id: id.to_string(),
            title: title.to_string(),
            head: heads
                .iter()
                .map(|h| match h.strip_prefix('#') {
                    Some(h) => Head { text: tr.t(h).to_string(), num: true },
                    None => Head { text: tr.t(h).to_string(), num: false },
                })
                .collect(),
            empty: tr.t("none").to_string(),
            ..Grid::default()
        }
    }

    /// Any query result, columns as they come (names shown as they are: they are SQL names a
    /// reader may type in the SQL box).
    pub fn of_table(tr: &Tr, id: &str, title: &str, t: &alara_report::Table, max_rows: usize) -> Grid {
        let numeric: Vec<bool> = (0..t.columns.len())
            .map(|i| t.rows.iter().any(|r| matches!(r[i], Value::Float(_) | Value::Int(_))))
            .collect();
        let mut g = Grid {
            id: id.to_string(),
            title: title.to_string(),
            head: t.columns.iter().zip(&numeric).map(|(c, n)| Head { text: c.clone(), num: *n }).collect(),
            empty: tr.t("none").to_string(),
            ..Grid::default()
        };
        for r in t.rows.iter().take(max_rows) {
            g.rows.push(
                r.iter()
                    .map(|v| {
                        let text = value_text(tr, v);
                        if matches!(v, Value::Float(_) | Value::Int(_)) { Cell::num(text) } else { Cell::text(text) }
                    })
                    .collect(),
            );
        }
        if t.len() > max_rows {
            g.note = format!("{} {} {}", max_rows, tr.t("sql.capped"), t.len());
        }
        g
    }
}

/// A cell value as text.
pub fn value_text(tr: &Tr, v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Float(f) => tr.num(*f, 3),
        Value::Time(t) => when(*t),
        Value::Date(d) => iso_date(i64::from(*d) * 86_400_000_000),
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Text(s) => s.clone(),
    }
}

/// Renders a template.
pub fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct Message {
    c: Chrome,
    message: String,
}

/// A page with one message and a status.
pub fn message(lang: Lang, status: StatusCode, message: &str) -> Response {
    let c = Chrome::anonymous(lang, "error", String::new(), "/");
    (status, render(&Message { c, message: message.to_string() })).into_response()
}

/// The session of the request if its role is at least `min`; otherwise the response to send:
/// to the login page without a session, 403 with too small a role.
#[allow(clippy::result_large_err)]
pub fn require(app: &App, headers: &HeaderMap, lang: Lang, min: Role) -> Result<Session, Response> {
    let Some(s) = cookie(headers, SESSION_COOKIE).and_then(|id| app.sessions.get(id)) else {
        return Err(Redirect::to("/login").into_response());
    };
    if s.role < min {
        return Err(message(lang, StatusCode::FORBIDDEN, Tr(lang).t("forbidden")));
    }
    Ok(s)
}

/// Refuses a form whose CSRF token is not the session's.
#[allow(clippy::result_large_err)]
pub fn check_csrf(s: &Session, lang: Lang, token: &str) -> Result<(), Response> {
    if same_token(&s.csrf, token) {
        Ok(())
    } else {
        tracing::warn!(user = %s.user, "form refused: bad CSRF token");
        Err(message(lang, StatusCode::FORBIDDEN, Tr(lang).t("csrf")))
    }
}

/// The live data, or an error page.
pub async fn live(app: &App, lang: Lang) -> Result<Arc<Live>, Box<Response>> {
    app.cache.get(&app.engine, &app.opts.lake, &app.opts.session, app.as_of()).await.map_err(|e| {
        tracing::error!(error = %e, "reading the lake");
        Box::new(message(lang, StatusCode::INTERNAL_SERVER_ERROR, &format!("{}{e}", Tr(lang).t("failed"))))
    })
}

/// The prologue of a page that shows the lake: a logged-in session with at least `min`, and
/// the live data; or the page to answer instead (login redirect, 403, error).
#[allow(clippy::result_large_err)]
pub async fn session_and_live(
    app: &App,
    headers: &HeaderMap,
    lang: Lang,
    min: Role,
) -> Result<(Session, Arc<Live>), Response> {
    let s = require(app, headers, lang, min)?;
    let live = live(app, lang).await.map_err(|r| *r)?;
    Ok((s, live))
}

/// 404.
pub async fn not_found(State(_app): State<Arc<App>>, Extension(lang): Extension<Lang>, uri: Uri) -> Response {
    tracing::debug!(%uri, "not found");
    message(lang, StatusCode::NOT_FOUND, Tr(lang).t("not_found"))
}

/// A redirect after a POST (303: the browser GETs the target).
pub fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response()
}
