//! Logging in and out.

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::extract::{ConnectInfo, Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{Chrome, message, render, see_other};
use crate::app::App;
use crate::auth::{LOGIN_COOKIE, SESSION_COOKIE, cookie, same_token, set_cookie, token};
use crate::i18n::{Lang, Tr};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    c: Chrome,
    error: String,
}

/// The login form, with a fresh double-submit CSRF token in its own cookie.
fn login_page(app: &App, lang: Lang, status: StatusCode, error: &str) -> Response {
    let Ok(csrf) = token() else {
        return message(lang, StatusCode::INTERNAL_SERVER_ERROR, "random source unavailable");
    };
    let c = Chrome::anonymous(lang, "login.title", csrf.clone(), "/login");
    let mut resp = (status, render(&LoginPage { c, error: error.to_string() })).into_response();
    let value = set_cookie(LOGIN_COOKIE, &csrf, None, app.opts.secure_cookies);
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// GET /login.
pub async fn form(State(app): State<Arc<App>>, Extension(lang): Extension<Lang>) -> Response {
    login_page(&app, lang, StatusCode::OK, "")
}

/// The login form's fields.
#[derive(Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
    #[serde(default)]
    csrf: String,
}

/// POST /login: rate limit, CSRF, password; then a session cookie and the start page.
pub async fn submit(
    State(app): State<Arc<App>>,
    Extension(lang): Extension<Lang>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let tr = Tr(lang);
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if expected.is_empty() || !same_token(expected, &f.csrf) {
        return message(lang, StatusCode::FORBIDDEN, tr.t("csrf"));
    }
    let ip = peer.ip();
    if !app.limiter.allowed(ip, &f.name) {
        tracing::warn!(%ip, user = %f.name, "login refused: too many failures");
        return login_page(&app, lang, StatusCode::TOO_MANY_REQUESTS, tr.t("login.limited"));
    }
    if let Err(e) = app.reload_users() {
        tracing::error!(error = %e, "reading the users file");
        return message(lang, StatusCode::INTERNAL_SERVER_ERROR, &format!("{}{e}", tr.t("failed")));
    }
    // Argon2 takes tens of milliseconds of CPU: off the async workers.
    let verified = {
        let app = Arc::clone(&app);
        let (name, password) = (f.name.clone(), f.password);
        tokio::task::spawn_blocking(move || {
            let users = app.users.read().unwrap_or_else(|e| e.into_inner());
            if users.is_empty() {
                return Err(());
            }
            Ok(users.verify(&name, &password).map(|u| u.role))
        })
        .await
    };
    let role = match verified {
        Ok(Ok(Some(role))) => role,
        Ok(Err(())) => return login_page(&app, lang, StatusCode::UNAUTHORIZED, tr.t("login.no_users")),
        Ok(Ok(None)) => {
            app.limiter.failed(ip, &f.name);
            tracing::warn!(%ip, user = %f.name, "login failed");
            return login_page(&app, lang, StatusCode::UNAUTHORIZED, tr.t("login.failed"));
        }
        Err(e) => return message(lang, StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    app.limiter.succeeded(&f.name);
    let id = match app.sessions.open(&f.name, role) {
        Ok(id) => id,
        Err(e) => return message(lang, StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    tracing::info!(user = %f.name, role = role.as_str(), "logged in");
    let mut resp = see_other("/");
    let secure = app.opts.secure_cookies;
    for c in [
        set_cookie(SESSION_COOKIE, &id, Some(app.opts.session_lifetime), secure),
        set_cookie(LOGIN_COOKIE, "", Some(std::time::Duration::ZERO), secure),
    ] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

/// The logout form's fields.
#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// POST /logout.
pub async fn logout(
    State(app): State<Arc<App>>,
    Extension(lang): Extension<Lang>,
    headers: HeaderMap,
    Form(f): Form<LogoutForm>,
) -> Response {
    if let Some(id) = cookie(&headers, SESSION_COOKIE)
        && let Some(s) = app.sessions.get(id)
    {
        if let Err(resp) = super::check_csrf(&s, lang, &f.csrf) {
            return resp;
        }
        app.sessions.close(id);
    }
    let mut resp = see_other("/login");
    let c = set_cookie(SESSION_COOKIE, "", Some(std::time::Duration::ZERO), app.opts.secure_cookies);
    if let Ok(v) = HeaderValue::from_str(&c) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}
