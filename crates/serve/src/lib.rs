//! `alara serve`: where advisors work. A web application over the lake, behind a login:
//!
//! | page | what |
//! |---|---|
//! | `/` (today) | the report's "needs attention", live from the lake |
//! | `/alerts` | open, failed and acknowledged alerts; acknowledge with a note |
//! | `/findings` | every overexposure, missing badge and heterogeneity with its evidence; explain one |
//! | `/worker/{id}` | the dose statement, the 12-month chart, findings, alerts, readings |
//! | `/departments`, `/quality` | compliance and dose by role; rejects, late and missing results, ingest lag |
//! | `/reports` | the nightly reports kept in a directory, by date |
//! | `/sql` | read-only SQL with a result table and a CSV download |
//! | `/users` | user management (admins) |
//!
//! Nothing is computed here that the rest of alara computes: the data come from the report's
//! queries ([`alara_detect::gather`]) run in a detection [`alara_detect::Session`], findings
//! are folded by [`alara_report::model`], charts drawn by [`alara_report::svg`];
//! acknowledgements go through [`alara_alert::acknowledge`] and explanations through
//! [`alara_detect::explain::record`], exactly like `alara alerts --ack` and `alara explain`,
//! with the logged-in user as the author.
//!
//! Layout: [`users`] (the users file), [`auth`] (sessions, CSRF, login rate limit),
//! [`i18n`] (French and English strings), [`data`] (the lake, cached), [`engine`] (the
//! big-stack threads every query runs on), [`access`] (who viewed which worker), `pages`
//! (handlers and templates), [`app`] (the router and the server), [`pg`] (the SQL endpoint for
//! BI tools, PostgreSQL wire protocol).
#![deny(missing_docs)]

pub mod access;
pub mod alertmanager;
pub mod app;
pub mod auth;
pub mod data;
pub mod engine;
pub mod i18n;
mod pages;
pub mod pg;
pub mod tls;
pub mod users;

use std::path::PathBuf;

pub use app::{ServeOptions, Server, bind};
pub use users::{Role, User, Users};

/// Errors of the web application.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A line of the users file is wrong.
    #[error("{path} line {line}: {why}")]
    UsersFile {
        /// The file.
        path: PathBuf,
        /// Line number (1-based).
        line: usize,
        /// What is wrong.
        why: String,
    },
    /// The operating system's random source failed.
    #[error("random source: {0}")]
    Random(String),
    /// Input refused (a user name, a short password, a bad address).
    #[error("{0}")]
    Invalid(String),
    /// The lake or a query failed.
    #[error(transparent)]
    Detect(#[from] alara_detect::Error),
    /// Writing to the lake failed.
    #[error(transparent)]
    Lake(#[from] alara_lake::Error),
    /// Listening failed.
    #[error("listening on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Whether the user fixes this in the command line or configuration.
    pub fn is_usage(&self) -> bool {
        matches!(self, Error::Invalid(_) | Error::UsersFile { .. } | Error::Listen { .. })
    }
}

/// Result with the web application's error.
pub type Result<T> = std::result::Result<T, Error>;

/// The `[serve]` section of `alara.toml`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// The users file (default: next to the lake, `<lake>.users`).
    pub users_file: Option<PathBuf>,
    /// Directory of kept nightly reports (default: `report/` next to the lake when it exists,
    /// as `alara demo` lays it out).
    pub reports_dir: Option<PathBuf>,
}
