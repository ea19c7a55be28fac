//! Detection: the lake registered in a DataFusion session, with every SQL view of `queries/`.
//!
//! [`Session::open`] registers each lake table as `<table>_all` (every row ever written, for
//! audit) and then the views of `queries/*.sql`, among them `readings`, `workers`, `procedures`
//! and `rejects` (one row per identity) and the detection views. The SQL files are compiled into
//! the binary, so a fresh machine needs nothing but the lake; a directory of `.sql` files can be
//! given instead to try changes without rebuilding.
//!
//! Data files that fail the lake's integrity check are left out of the session and listed in
//! `lake_faults` ([`faults`]).
//!
//! [`gather`] runs the report's queries over the lake "as of" a date and hands back the model's
//! [`alara_model::table::Table`]s ([`rows`] converts Arrow batches once); [`listings`] holds the
//! listings the command line prints. Detection is the only crate that runs SQL: the binary wires, the report renders.
#![deny(missing_docs)]

pub mod config;
pub mod explain;
pub mod faults;
pub mod gather;
pub mod listings;
pub mod queries;
pub mod rows;
pub mod session;
pub mod udf;

pub use config::{DetectConfig, QuantityLevels};
pub use queries::{Query, embedded_queries, load_queries};
pub use session::{Session, SessionOptions, table_schema};

/// Errors of detection.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// DataFusion refused or failed a statement.
    #[error("{context}: {source}")]
    DataFusion {
        /// What was being done (query name, table).
        context: String,
        /// DataFusion's own message.
        #[source]
        source: datafusion::error::DataFusionError,
    },
    /// A query file could not be read.
    #[error("reading {path}: {source}")]
    ReadQuery {
        /// The file.
        path: std::path::PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Views that could not be registered because they refer to each other in a cycle or to
    /// names that do not exist.
    #[error("views could not be registered: {0}")]
    Views(String),
    /// A statement that would change something, refused by the read-only session.
    #[error(
        "{0} refused: alara sql is read-only (the lake is written only by `alara ingest`, `alara explain` and the alert outbox)"
    )]
    ReadOnly(String),
    /// Input refused before touching the lake.
    #[error("{0}")]
    Invalid(String),
    /// The lake could not be opened.
    #[error(transparent)]
    Lake(#[from] alara_lake::Error),
}

/// Result with detection's error.
pub type Result<T> = std::result::Result<T, Error>;
