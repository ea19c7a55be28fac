//! `alara serve`: the web application over a lake, behind a login.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use alara_detect::SessionOptions;
use alara_serve::ServeOptions;
use anyhow::Context;
use chrono::NaiveDate;

use crate::UsageError;
use crate::config::Config;

/// Arguments of `alara serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Lake directory.
    #[arg(long, env = "ALARA_LAKE", value_name = "DIR")]
    pub lake: Option<PathBuf>,
    /// Address of the web application.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Also serve the PostgreSQL-wire SQL endpoint for BI tools and drivers on this address
    /// (read-only, same users; TLS with --tls-cert/--tls-key).
    #[arg(long, value_name = "ADDR")]
    pub pg: Option<SocketAddr>,
    /// The users file (default: `[serve] users_file`, else `<lake>.users`).
    #[arg(long, env = "ALARA_USERS", value_name = "FILE")]
    pub users: Option<PathBuf>,
    /// Directory of kept nightly reports (default: `[serve] reports_dir`, else `report/` next
    /// to the lake when it exists).
    #[arg(long, value_name = "DIR")]
    pub reports: Option<PathBuf>,
    /// Date the 12-month windows end at (default: today, UTC).
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<NaiveDate>,
    /// Send cookies without the `Secure` flag, for plain HTTP to a host other than localhost
    /// (development only: in production serve HTTPS behind a reverse proxy).
    #[arg(long)]
    pub insecure_cookies: bool,
    /// Serve HTTPS with this certificate chain (PEM; server certificate first).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM PKCS#8).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Read view definitions from this directory instead of the built-in queries/.
    #[arg(long, value_name = "DIR")]
    pub queries: Option<PathBuf>,
}

/// Runs the command.
pub fn run(args: Args, config: &Config) -> anyhow::Result<ExitCode> {
    let lake = config.lake(args.lake.as_deref())?;
    if !lake.is_dir() {
        return Err(UsageError(format!(
            "{}: no lake there (run `alara ingest` or `alara demo` first)",
            lake.display()
        ))
        .into());
    }
    let mut opts = ServeOptions::new(lake.clone(), args.listen);
    if let Some(u) = args.users.clone().or_else(|| config.serve.users_file.clone()) {
        opts.users_file = u;
    }
    opts.reports_dir = args.reports.clone().or_else(|| config.serve.reports_dir.clone()).or_else(|| {
        let sibling = lake.parent().map(|p| p.join("report"));
        sibling.filter(|d| d.is_dir())
    });
    opts.as_of = args.as_of;
    opts.secure_cookies = !args.insecure_cookies;
    opts.hooks = config.hooks.clone();
    opts.tls = args.tls_cert.clone().zip(args.tls_key.clone());
    opts.pg = args.pg;
    opts.session = SessionOptions { queries_dir: args.queries.clone(), config: config.limits.clone() };
    let users = alara_serve::Users::load(&opts.users_file).map_err(|e| UsageError(e.to_string()))?;
    if users.is_empty() {
        eprintln!(
            "alara: no user in {} yet: add one with `alara user add NAME --role admin --lake {}`",
            opts.users_file.display(),
            lake.display()
        );
    }
    let users_file = opts.users_file.clone();
    // Requests are served here; queries run on the application's own big-stack threads
    // (alara_serve::engine).
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async {
        let server = alara_serve::bind(opts).await.map_err(|e| match e.is_usage() {
            true => anyhow::Error::from(UsageError(e.to_string())),
            false => e.into(),
        })?;
        // The first line is the address, for people and scripts.
        println!("alara serve: {}://{}/ (users: {})", server.scheme(), server.local_addr(), users_file.display());
        if let Some(pg) = server.pg_addr() {
            println!("alara serve: SQL endpoint postgresql://{pg}/alara (PostgreSQL protocol, same users)");
        }
        server
            .run(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("serving")
    })?;
    Ok(ExitCode::SUCCESS)
}
