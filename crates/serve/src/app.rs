//! The router, the shared state and the server loop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use alara_detect::SessionOptions;
use alara_lake::Lake;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::NaiveDate;

use crate::auth::{Limiter, Sessions};
use crate::data::Cache;
use crate::i18n::Lang;
use crate::pages;
use crate::users::Users;
use crate::{Error, Result};

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The lake directory.
    pub lake: PathBuf,
    /// Where to listen (`127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// The users file.
    pub users_file: PathBuf,
    /// Directory of kept nightly reports (`<dir>/report.html`, `<dir>/<date>/report.html`).
    pub reports_dir: Option<PathBuf>,
    /// The date windows end at; `None`: today (UTC), read at each request.
    pub as_of: Option<NaiveDate>,
    /// Detection settings (levels, query directory).
    pub session: SessionOptions,
    /// Mark cookies `Secure` (browsers then send them over HTTPS only, and over plain HTTP to
    /// `localhost`). Turn off only for plain HTTP to another host during development.
    pub secure_cookies: bool,
    /// How long a session lasts.
    pub session_lifetime: Duration,
    /// Failed logins allowed per address and per name within `login_window`.
    pub max_login_failures: usize,
    /// The window of the login rate limit.
    pub login_window: Duration,
    /// How long live data are reused before the queries run again.
    pub cache_ttl: Duration,
    /// The configured hooks (`alertmanager` ones are kept in step with acknowledgements).
    pub hooks: Vec<alara_alert::HookConfig>,
    /// Serve HTTPS with this certificate chain and PKCS#8 key (PEM files).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Address of the PostgreSQL-wire SQL endpoint for BI tools (`--pg`), if any.
    pub pg: Option<SocketAddr>,
}

impl ServeOptions {
    /// Defaults for a lake: users file next to it, 8-hour sessions, 5 failed logins per 15
    /// minutes, data kept 30 s.
    pub fn new(lake: PathBuf, listen: SocketAddr) -> ServeOptions {
        ServeOptions {
            users_file: crate::users::default_path(&lake),
            lake,
            listen,
            reports_dir: None,
            as_of: None,
            session: SessionOptions::default(),
            secure_cookies: true,
            session_lifetime: Duration::from_secs(8 * 3600),
            max_login_failures: 5,
            login_window: Duration::from_secs(15 * 60),
            cache_ttl: Duration::from_secs(30),
            hooks: Vec::new(),
            tls: None,
            pg: None,
        }
    }
}

/// What every handler shares.
pub struct App {
    /// The options.
    pub opts: ServeOptions,
    /// The lake (for writes: acknowledgements, explanations, the access log).
    pub lake: Lake,
    /// The users, re-read from the file when it changes on disk.
    pub users: RwLock<Users>,
    /// Sessions.
    pub sessions: Sessions,
    /// Login rate limit.
    pub limiter: Limiter,
    /// Live data.
    pub cache: Cache,
    /// Alertmanagers to keep in step.
    pub alertmanagers: Vec<Arc<crate::alertmanager::Target>>,
    /// The query threads (every DataFusion call runs there).
    pub engine: crate::engine::Engine,
}

impl App {
    /// The date windows end at now.
    pub fn as_of(&self) -> NaiveDate {
        self.opts.as_of.unwrap_or_else(|| chrono::Utc::now().date_naive())
    }

    /// Re-reads the users file (so `alara user add` takes effect without a restart).
    pub fn reload_users(&self) -> Result<()> {
        let fresh = Users::load(&self.opts.users_file)?;
        *self.users.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(())
    }
}

/// Builds the application state and the router.
fn router(opts: ServeOptions) -> Result<(Router, Arc<App>)> {
    let lake = Lake::open(&opts.lake)?;
    let users = Users::load(&opts.users_file)?;
    let app = Arc::new(App {
        lake,
        users: RwLock::new(users),
        sessions: Sessions::new(opts.session_lifetime),
        limiter: Limiter::new(opts.max_login_failures, opts.login_window),
        cache: Cache::new(opts.cache_ttl),
        alertmanagers: crate::alertmanager::targets(&opts.hooks)?,
        engine: crate::engine::Engine::new(2)?,
        opts,
    });
    let router = Router::new()
        .route("/", get(pages::today::page))
        .route("/login", get(pages::login::form).post(pages::login::submit))
        .route("/logout", post(pages::login::logout))
        .route("/alerts", get(pages::alerts::page))
        .route("/alerts/ack", post(pages::alerts::ack))
        .route("/findings", get(pages::findings::page))
        .route("/findings/explain", post(pages::findings::explain))
        .route("/worker/{id}", get(pages::worker::page))
        .route("/departments", get(pages::tables::departments))
        .route("/quality", get(pages::tables::quality))
        .route("/reports", get(pages::reports::list))
        .route("/reports/{name}/{file}", get(pages::reports::file))
        .route("/sql", get(pages::sql::page).post(pages::sql::run))
        .route("/users", get(pages::users::page).post(pages::users::change))
        .fallback(pages::not_found)
        .layer(middleware::from_fn(language))
        .layer(middleware::from_fn(security_headers))
        .with_state(Arc::clone(&app));
    Ok((router, app))
}

/// Picks the language: `?lang=` (remembered in a cookie), else the cookie, else French.
async fn language(mut req: Request, next: Next) -> Response {
    let asked =
        req.uri().query().and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("lang=")).and_then(Lang::parse));
    let lang = asked
        .or_else(|| crate::auth::cookie(req.headers(), crate::auth::LANG_COOKIE).and_then(Lang::parse))
        .unwrap_or_default();
    req.extensions_mut().insert(lang);
    let mut resp = next.run(req).await;
    if let Some(l) = asked {
        let c = format!("{}={}; Path=/; SameSite=Strict; Max-Age=31536000", crate::auth::LANG_COOKIE, l.code());
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

/// Pages hold health data: no caching, no framing, no scripts, no foreign resources.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// A bound, not yet running, server.
pub struct Server {
    listener: tokio::net::TcpListener,
    router: Router,
    app: Arc<App>,
    addr: SocketAddr,
    tls: Option<tokio_native_tls::TlsAcceptor>,
    pg: Option<crate::pg::Endpoint>,
}

impl Server {
    /// The address actually listened on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The SQL endpoint's address, when `--pg` was given.
    pub fn pg_addr(&self) -> Option<SocketAddr> {
        self.pg.as_ref().map(crate::pg::Endpoint::local_addr)
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// Serves until `shutdown` completes, then lets requests in flight finish.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> Result<()> {
        let addr = self.addr;
        tracing::info!(%addr, "serving");
        if let Some(pg) = self.pg {
            let o = &self.app.opts;
            pg.start(&self.app.engine, o.lake.clone(), o.session.clone(), o.users_file.clone()).await?;
        }
        let background = tokio::spawn(crate::alertmanager::keep_in_step(Arc::clone(&self.app)));
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        let served = match self.tls {
            None => axum::serve(self.listener, service).with_graceful_shutdown(shutdown).await,
            Some(acceptor) => {
                use axum::serve::ListenerExt;
                // `tap_io` only to get axum's generic ConnectInfo<SocketAddr> for this listener.
                let listener = crate::tls::TlsListener::new(self.listener, acceptor).tap_io(|_| ());
                axum::serve(listener, service).with_graceful_shutdown(shutdown).await
            }
        }
        .map_err(|source| Error::Listen { addr: addr.to_string(), source });
        background.abort();
        served
    }
}

/// Opens the lake and the users file and binds the listening socket.
pub async fn bind(opts: ServeOptions) -> Result<Server> {
    let addr = opts.listen;
    let tls = match &opts.tls {
        Some((cert, key)) => Some(crate::tls::acceptor(cert, key)?),
        None => None,
    };
    let pg = opts.pg.map(|a| crate::pg::Endpoint::bind(a, opts.tls.as_ref())).transpose()?;
    let (router, app) = router(opts)?;
    let listener =
        tokio::net::TcpListener::bind(addr).await.map_err(|source| Error::Listen { addr: addr.to_string(), source })?;
    let addr = listener.local_addr().map_err(|source| Error::Listen { addr: addr.to_string(), source })?;
    Ok(Server { listener, router, app, addr, tls, pg })
}
