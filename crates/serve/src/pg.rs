//! The SQL endpoint for BI tools (`alara serve --pg ADDR`): the PostgreSQL wire protocol over the
//! same read-only session as `alara sql`, so DBeaver, Metabase, Grafana, `psql` or a Python
//! driver query the lake tables and the detection views by their contract names.
//!
//! The protocol, the PostgreSQL dialect and the `pg_catalog` that BI tools list tables from are
//! `datafusion-postgres`'s; alara adds three things around it:
//! - **the users of the web application**: a password checked against the users file's Argon2id
//!   hash (the file is read at each login, so `alara user add` needs no restart), failures
//!   rate-limited like the login page. The password travels in clear inside the connection, so
//!   the endpoint listens on localhost by default and serves TLS with `--tls-cert`/`--tls-key`;
//! - **read-only**: only queries, `EXPLAIN`, `SHOW`, cursors and transaction brackets pass;
//!   everything else (`CREATE`, `INSERT`, `COPY`, `SET`…) is refused before it is planned;
//! - **fresh data**: the session is brought up to the lake's latest commits before each statement
//!   is planned (one listing of each table's Delta log when nothing changed), so a query sees
//!   everything committed before it was sent.
//!
//! Every statement runs on the application's big-stack query threads ([`crate::engine`]).

use std::fmt::Debug;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use alara_detect::{Session, SessionOptions};
use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::setup_pg_catalog;
use datafusion_postgres::hooks::HookClient;
use datafusion_postgres::hooks::cursor::CursorStatementHook;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::pgwire::api::auth::{
    DefaultServerParameterProvider, LoginInfo, StartupHandler, finish_authentication, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use datafusion_postgres::pgwire::api::results::Response;
use datafusion_postgres::pgwire::api::{ClientInfo, PgWireConnectionState, PgWireServerHandlers};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::startup::Authentication;
use datafusion_postgres::pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use datafusion_postgres::pgwire::tokio::{TlsAcceptor, process_socket, tokio_rustls::rustls};
use datafusion_postgres::{DfSessionService, QueryHook};
use futures::{Sink, SinkExt};

use crate::auth::Limiter;
use crate::engine::Engine;
use crate::users::Users;
use crate::{Error, Result};

/// The SQL endpoint, bound and ready to be started on the query threads.
pub struct Endpoint {
    listener: std::net::TcpListener,
    addr: SocketAddr,
    tls: Option<TlsAcceptor>,
}

impl Endpoint {
    /// Binds `addr` (before anything runs, so a port in use is reported at start-up) and reads
    /// the TLS certificate and key when given.
    pub fn bind(addr: SocketAddr, tls: Option<&(PathBuf, PathBuf)>) -> Result<Endpoint> {
        let listener =
            std::net::TcpListener::bind(addr).map_err(|source| Error::Listen { addr: addr.to_string(), source })?;
        listener.set_nonblocking(true).map_err(|source| Error::Listen { addr: addr.to_string(), source })?;
        let addr = listener.local_addr().map_err(|source| Error::Listen { addr: addr.to_string(), source })?;
        let tls = tls.map(|(cert, key)| tls_acceptor(cert, key)).transpose()?;
        Ok(Endpoint { listener, addr, tls })
    }

    /// The address listened on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether connections are encrypted.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Opens the session over `lake` and serves connections on the query threads until the
    /// engine stops.
    pub async fn start(self, engine: &Engine, lake: PathBuf, options: SessionOptions, users: PathBuf) -> Result<()> {
        let session = engine.run(async move { Session::open(&lake, &options).await }).await??;
        let session = Arc::new(session);
        setup_pg_catalog(session.ctx(), "datafusion", EmptyContextProvider)
            .map_err(|e| Error::Invalid(format!("setting up pg_catalog: {e}")))?;
        let hooks: Vec<Arc<dyn QueryHook>> = vec![
            Arc::new(ReadOnly),
            Arc::new(Fresh { session: Arc::clone(&session) }),
            Arc::new(CursorStatementHook),
            Arc::new(SetShowHook),
            Arc::new(TransactionStatementHook),
        ];
        let ctx = Arc::new(session.ctx().clone());
        let handlers = Arc::new(Handlers {
            service: Arc::new(DfSessionService::new_with_hooks(ctx, hooks)),
            startup: Arc::new(Password {
                users,
                limiter: Limiter::new(5, Duration::from_secs(300)),
                parameters: DefaultServerParameterProvider::default(),
            }),
        });
        let Endpoint { listener, addr, tls } = self;
        engine.handle().spawn(async move {
            let listener = match tokio::net::TcpListener::from_std(listener) {
                Ok(l) => l,
                Err(e) => {
                    tracing::error!(%addr, error = %e, "SQL endpoint: listening failed");
                    return;
                }
            };
            tracing::info!(%addr, tls = tls.is_some(), "SQL endpoint (PostgreSQL protocol) listening");
            loop {
                let (socket, peer) = match listener.accept().await {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "SQL endpoint: accept failed");
                        continue;
                    }
                };
                let (handlers, tls) = (Arc::clone(&handlers), tls.clone());
                tokio::spawn(async move {
                    if let Err(e) = process_socket(socket, tls, handlers).await {
                        tracing::debug!(%peer, error = %e, "SQL endpoint: connection ended with an error");
                    }
                });
            }
        });
        Ok(())
    }
}

/// TLS for the endpoint from PEM files (rustls, as the protocol library uses).
fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |path: &Path, e: &dyn std::fmt::Display| Error::Invalid(format!("{}: {e}", path.display()));
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| bad(cert, &e))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, &e))?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| Error::Invalid(format!("TLS certificate and key: {e}")))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The handlers of one endpoint: datafusion-postgres's query handling, alara's login.
struct Handlers {
    service: Arc<DfSessionService>,
    startup: Arc<Password>,
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl datafusion_postgres::pgwire::api::query::SimpleQueryHandler> {
        Arc::clone(&self.service)
    }

    fn extended_query_handler(&self) -> Arc<impl datafusion_postgres::pgwire::api::query::ExtendedQueryHandler> {
        Arc::clone(&self.service)
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        Arc::clone(&self.startup)
    }
}

/// Password login against the users file.
struct Password {
    users: PathBuf,
    limiter: Limiter,
    parameters: DefaultServerParameterProvider,
}

impl Password {
    /// Whether `name` may log in with `password` from `ip`. Argon2 is slow on purpose: it runs
    /// on a blocking thread.
    async fn check(&self, ip: IpAddr, name: &str, password: &str) -> bool {
        if !self.limiter.allowed(ip, name) {
            tracing::warn!(%ip, user = name, "SQL endpoint: too many failed logins, refused");
            return false;
        }
        let (path, n, p) = (self.users.clone(), name.to_string(), password.to_string());
        let ok = tokio::task::spawn_blocking(move || match Users::load(&path) {
            Ok(users) => users.verify(&n, &p).is_some(),
            Err(e) => {
                tracing::error!(error = %e, "SQL endpoint: reading the users file");
                false
            }
        })
        .await
        .unwrap_or(false);
        if ok {
            self.limiter.succeeded(name);
        } else {
            self.limiter.failed(ip, name);
            tracing::warn!(%ip, user = name, "SQL endpoint: login failed");
        }
        ok
    }
}

#[async_trait]
impl StartupHandler for Password {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                protocol_negotiation(client, startup).await?;
                save_startup_parameters_to_metadata(client, startup);
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client.send(PgWireBackendMessage::Authentication(Authentication::CleartextPassword)).await?;
            }
            PgWireFrontendMessage::PasswordMessageFamily(pwd) => {
                let pwd = pwd.into_password()?;
                let user = LoginInfo::from_client_info(client).user().unwrap_or_default().to_string();
                if self.check(client.socket_addr().ip(), &user, &pwd.password).await {
                    finish_authentication(client, &self.parameters).await?;
                } else {
                    return Err(PgWireError::InvalidPassword(user));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Whether a statement may run on the endpoint: queries and what BI tools send around them.
pub fn allowed(statement: &Statement) -> bool {
    match statement {
        Statement::Query(_)
        | Statement::ShowVariable { .. }
        | Statement::ShowVariables { .. }
        | Statement::ShowTables { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowSchemas { .. }
        | Statement::ShowFunctions { .. }
        | Statement::ExplainTable { .. }
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Fetch { .. }
        | Statement::Close { .. } => true,
        // `EXPLAIN ANALYZE` runs its statement: it passes only when that one would.
        Statement::Explain { statement, .. } => allowed(statement),
        // A cursor over a query (psycopg's server-side cursors); its query is checked.
        Statement::Declare { stmts } => stmts.iter().all(|d| d.for_query.is_some()),
        _ => false,
    }
}

/// The read-only refusal, with PostgreSQL's code for it (25006, read_only_sql_transaction).
fn refused(statement: &Statement) -> PgWireError {
    let word = statement.to_string().split_whitespace().next().unwrap_or_default().to_uppercase();
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".into(),
        "25006".into(),
        format!("{word} refused: alara's SQL endpoint is read-only (queries, EXPLAIN and SHOW only)"),
    )))
}

/// Refuses every statement that is not read-only, before it is planned.
struct ReadOnly;

#[async_trait]
impl QueryHook for ReadOnly {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        (!allowed(statement)).then(|| Err(refused(statement)))
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        (!allowed(statement)).then(|| Err(refused(statement)))
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        (!allowed(statement)).then(|| Err(refused(statement)))
    }
}

/// Brings the session up to the lake's latest commits before a statement is planned.
struct Fresh {
    session: Arc<Session>,
}

impl Fresh {
    async fn refresh(&self) -> Option<PgWireError> {
        self.session.refresh().await.err().map(|e| PgWireError::ApiError(Box::new(e)))
    }
}

#[async_trait]
impl QueryHook for Fresh {
    async fn handle_simple_query(
        &self,
        _statement: &Statement,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        self.refresh().await.map(Err)
    }

    async fn handle_extended_parse_query(
        &self,
        _statement: &Statement,
        _ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        self.refresh().await.map(Err)
    }

    async fn handle_extended_query(
        &self,
        _statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn parse(sql: &str) -> Statement {
        Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap().remove(0)
    }

    #[test]
    fn only_read_only_statements_pass() {
        for sql in [
            "SELECT 1",
            "WITH a AS (SELECT 1) SELECT * FROM a",
            "EXPLAIN SELECT * FROM readings",
            "SHOW search_path",
            "BEGIN",
            "COMMIT",
            "ROLLBACK",
            "DECLARE c CURSOR FOR SELECT 1",
            "FETCH 10 FROM c",
            "CLOSE c",
        ] {
            assert!(allowed(&parse(sql)), "{sql} should pass");
        }
        for sql in [
            "CREATE TABLE t (a INT)",
            "CREATE VIEW v AS SELECT 1",
            "INSERT INTO readings_all VALUES (1)",
            "COPY readings_all TO '/tmp/x.csv'",
            "SET search_path = public",
            "DROP TABLE readings_all",
            "DELETE FROM readings_all",
            "EXPLAIN ANALYZE INSERT INTO readings_all VALUES (1)",
        ] {
            let s = parse(sql);
            assert!(!allowed(&s), "{sql} should be refused");
            assert!(refused(&s).to_string().contains("read-only"), "{sql}");
        }
    }
}
