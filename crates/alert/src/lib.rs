//! Streaming alerts: rules evaluated on every flush ingest makes durable, an outbox in the
//! lake, and hooks that deliver at least once, in order per worker, and never lose an alert.
//!
//! The rules and the transports are apart: the rules raise, the engine records, the
//! transports deliver.
//!
//! - [`rules`]: the rules (declaration criterion, 12-month sums, pregnancy, operational alarm)
//!   over a rolling state per worker × quantity, rebuilt from the lake at start-up
//!   ([`rules::replay`]) so a restart neither forgets nor repeats. Their levels are the model's
//!   one [`alara_model::Limits`].
//! - [`alert`]: the [`Alert`] payload and its stable id (same condition, same id).
//! - [`outbox`]: the append-only `alerts` table (`raised` before any delivery, `queued`,
//!   `delivered`, `failed` per hook, `acknowledged`) and the [`History`] folded from it.
//! - [`transport`]: the hooks `webhook` (signed POST), `command`, `kafka`, `log`, behind
//!   [`Notifier`], and [`transport::deliver`]: one worker per hook (ordering, grouping, retries
//!   with backoff and jitter).
//! - [`Engine`]: ties them together; [`Engine::observer`] is an [`alara_model::FlushObserver`]
//!   that ingest tells of every durable flush.
//!
//! ```no_run
//! # fn main() -> alara_alert::Result<()> {
//! use alara_alert::{Engine, EngineConfig, HookConfig};
//! let lake = alara_lake::Lake::open("lake").unwrap();
//! let config = EngineConfig { hooks: vec![HookConfig::log("alerts.jsonl")], ..EngineConfig::default() };
//! let engine = Engine::start(&lake, config)?;
//! // core.observe(engine.observer()); ... ingest ...
//! let summary = engine.finish(std::time::Duration::from_secs(30));
//! println!("{} alerts raised", summary.raised);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod alert;
pub mod config;
pub mod engine;
pub mod outbox;
mod raised;
pub mod read;
pub mod rules;
pub mod transport;

use std::path::PathBuf;

pub use alert::{Alert, Cause, Delivery, Level, Rule, Window, alert_id};
pub use config::{AlertsConfig, DEFAULT_ALERT_TOPIC, HookConfig, HookKind, RuleConfig, hook_names};
pub use engine::{Engine, EngineConfig, StateSize, Summary};
pub use outbox::{Ack, EventKind, History, HookState, Outbox, acknowledge};
pub use read::unreadable_files;
pub use transport::deliver::HookReport;
pub use transport::{Notifier, SIGNATURE_HEADER, sign};

/// Errors of the alert engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A hook or `[alerts]` setting a person must fix (exit code 2).
    #[error("{0}")]
    Config(String),
    /// An id given to `--ack` that matches no alert, or several.
    #[error("{0}")]
    UnknownAlert(String),
    /// A lake file could not be read back.
    #[error("reading {path}: {reason}")]
    ReadLake {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Other processes kept raising alerts first; the flush is retried.
    #[error("{0}")]
    Contention(String),
    /// Events could not be encoded.
    #[error("encoding alert events: {0}")]
    Encode(String),
    /// Writing to the lake failed.
    #[error(transparent)]
    Lake(#[from] alara_lake::Error),
}

impl Error {
    /// Whether the user fixes this in the configuration or the command line.
    pub fn is_usage(&self) -> bool {
        matches!(self, Error::Config(_) | Error::UnknownAlert(_))
    }
}

/// Result with the alert engine's error.
pub type Result<T> = std::result::Result<T, Error>;
