//! Ingest: raw records from files or Kafka, validated once by the shared [`Core`], buffered, and
//! handed to a [`alara_model::BatchSink`] (the lake) in flushes that are durable on return.
//!
//! Sources differ only in how they read bytes and what they do once a flush is durable: the file
//! source moves on, the Kafka source commits offsets.
#![deny(missing_docs)]

pub mod core;
pub mod files;
pub mod kafka;

pub use crate::core::{Core, CoreConfig, Counts};
pub use alara_model::FlushObserver;
pub use files::ingest_file;

use std::path::PathBuf;

/// Errors of ingest. Bad records are not errors (they become rejects); these stop a run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input file could not be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// An input file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A CSV header that cannot be split.
    #[error("{path}: the CSV header cannot be read: {reason}")]
    CsvHeader {
        /// The file.
        path: PathBuf,
        /// Why the header cannot be read.
        reason: String,
    },
    /// A record carries a NIR and no pseudonymisation key is configured.
    #[error(
        "{origin}: records carry a NIR but no pseudonymisation key is configured; set ALARA_PSEUDONYM_KEY \
         (at least 16 bytes) or ALARA_PSEUDONYM_KEY_FILE (a file holding the key) and run again"
    )]
    MissingPseudonymKey {
        /// Where the first such record was.
        origin: String,
    },
    /// The sink failed (disk full, permissions…); nothing of the flush counts as durable.
    #[error("writing to the lake failed: {0}")]
    Sink(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The flush is durable but an observer (the alert rules) could not act on it; the source
    /// stops without committing its position, so the next start replays the flush.
    #[error("acting on flush {flush} failed (it will be replayed at the next start): {source}")]
    Observer {
        /// The flush's name.
        flush: String,
        /// The observer's error.
        #[source]
        source: alara_model::ObserverError,
    },
}

/// Result with ingest's error.
pub type Result<T> = std::result::Result<T, Error>;
