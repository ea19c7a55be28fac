//! `/users`: admins add, change and remove users. The same file as `alara user add`.

use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{Chrome, check_csrf, render, require, see_other};
use crate::app::App;
use crate::i18n::{Lang, Tr};
use crate::users::{Role, Users};

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    c: Chrome,
    file: String,
    flash: String,
    error: String,
    users: Vec<(String, String)>,
}

/// Query string of GET /users.
#[derive(Deserialize, Default)]
pub struct UsersQuery {
    #[serde(default)]
    saved: String,
    #[serde(default)]
    removed: String,
}

fn page_of(app: &App, lang: Lang, s: &crate::auth::Session, flash: String, error: String) -> Response {
    let tr = Tr(lang);
    let _ = app.reload_users();
    let users = app.users.read().unwrap_or_else(|e| e.into_inner()).clone();
    let c = Chrome::new(lang, s, "users", "users.title", "/users", app);
    render(&UsersPage {
        c,
        file: app.opts.users_file.display().to_string(),
        flash,
        error,
        users: users
            .list()
            .iter()
            .map(|u| (u.name.clone(), tr.t(&format!("role.{}", u.role.as_str())).to_string()))
            .collect(),
    })
}

/// GET /users (admins).
pub async fn page(
    State(app): State<Arc<App>>,
    Extension(lang): Extension<Lang>,
    headers: HeaderMap,
    Query(q): Query<UsersQuery>,
) -> Response {
    let s = match require(&app, &headers, lang, Role::Admin) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let tr = Tr(lang);
    let flash = if !q.saved.is_empty() {
        format!("{}{}", tr.t("users.saved"), q.saved)
    } else if !q.removed.is_empty() {
        format!("{}{}", tr.t("users.removed"), q.removed)
    } else {
        String::new()
    };
    page_of(&app, lang, &s, flash, String::new())
}

/// The users form.
#[derive(Deserialize)]
pub struct UsersForm {
    action: String,
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

/// POST /users (admins): `action=set` adds or changes a user, `action=remove` removes one.
/// The user's open sessions are closed either way.
pub async fn change(
    State(app): State<Arc<App>>,
    Extension(lang): Extension<Lang>,
    headers: HeaderMap,
    Form(f): Form<UsersForm>,
) -> Response {
    let s = match require(&app, &headers, lang, Role::Admin) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(r) = check_csrf(&s, lang, &f.csrf) {
        return r;
    }
    let tr = Tr(lang);
    let name = f.name.trim().to_string();
    if f.action == "remove" && name == s.user {
        return (StatusCode::BAD_REQUEST, page_of(&app, lang, &s, String::new(), tr.t("users.self").to_string()))
            .into_response();
    }
    let path = app.opts.users_file.clone();
    let (action, role, password) = (f.action.clone(), f.role.clone(), f.password);
    let who = name.clone();
    let done = tokio::task::spawn_blocking(move || -> crate::Result<()> {
        let mut users = Users::load(&path)?;
        match action.as_str() {
            "remove" => {
                users.remove(&who);
            }
            _ => {
                let role = Role::parse(&role).ok_or_else(|| crate::Error::Invalid(format!("role '{role}'")))?;
                users.set(&who, role, &password)?;
            }
        }
        users.save()
    })
    .await;
    match done {
        Ok(Ok(())) => {
            app.sessions.close_user(&name);
            let _ = app.reload_users();
            tracing::info!(admin = %s.user, user = %name, action = %f.action, "users changed");
            let key = if f.action == "remove" { "removed" } else { "saved" };
            see_other(&format!("/users?{key}={name}"))
        }
        Ok(Err(e)) => (StatusCode::BAD_REQUEST, page_of(&app, lang, &s, String::new(), e.to_string())).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
