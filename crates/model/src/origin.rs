//! Where a raw record came from, and a record that was turned away.

use chrono::{DateTime, Utc};

use crate::records::Kind;

/// The position of a raw record at its source, kept with every row and every reject so a person
/// can go back to the exact line or message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Origin {
    /// A line of a file (1-based; for CSV, the header is line 1).
    File {
        /// Path as given on the command line.
        path: String,
        /// Line number.
        line: u64,
    },
    /// A Kafka message.
    Kafka {
        /// The Kafka topic the record was read from.
        topic: String,
        /// The partition of that topic.
        partition: i32,
        /// The record's offset within the partition.
        offset: i64,
    },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{path}:{line}"),
            Origin::Kafka { topic, partition, offset } => write!(f, "{topic}/{partition}@{offset}"),
        }
    }
}

/// A record that did not pass validation, bound for the `rejects` table.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    /// Which kind the record was supposed to be.
    pub kind: Kind,
    /// Where it came from.
    pub origin: Origin,
    /// What is wrong, in words a person can act on.
    pub reason: String,
    /// The raw bytes, with anything NIR-like masked.
    pub raw: Vec<u8>,
    /// When it was rejected.
    pub rejected_at: DateTime<Utc>,
}

impl Reject {
    /// A reject whose raw bytes are masked here, so no caller can forget to.
    pub fn new(
        kind: Kind,
        origin: Origin,
        reason: impl Into<String>,
        raw: &[u8],
        rejected_at: DateTime<Utc>,
    ) -> Reject {
        let text = String::from_utf8_lossy(raw);
        let masked = crate::pseudonym::mask_nir_like(&text);
        Reject {
            kind,
            origin,
            reason: crate::pseudonym::mask_nir_like(&reason.into()),
            raw: masked.into_bytes(),
            rejected_at,
        }
    }
}
