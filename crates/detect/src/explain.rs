//! Explanations: a person's statement that a finding for a worker and period is understood
//! (a badge left in the room, a known procedure change…). They are appended to the lake's
//! `explanations` table, never edited, so the audit trail keeps every one.

use std::sync::Arc;

use alara_lake::{Lake, Table, WriteOptions};
use arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampMicrosecondArray};
use chrono::{DateTime, Utc};
use sha2::Digest;

use crate::{Error, Result};

/// One explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// The worker.
    pub worker_id: String,
    /// Start of the period it covers.
    pub period_start: DateTime<Utc>,
    /// End of the period it covers (inclusive).
    pub period_end: DateTime<Utc>,
    /// Restrict to one signal or level (e.g. `peer_outlier`); `None` covers every finding.
    pub signal: Option<String>,
    /// Why the finding is explained, in the author's words.
    pub reason: String,
    /// Who recorded the explanation.
    pub author: String,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// For a possible significant event (ESR): whether it was declared. `None` for an ordinary
    /// explanation.
    pub decision: Option<Decision>,
}

/// The decision on a possible significant event (the register of `esr_register`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Declared to the authority (ASNR) as a significant event.
    Declared,
    /// Analysed and judged not to be a significant event.
    NotEsr,
}

impl Decision {
    /// The stored spelling: `declared`, `not_esr`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Declared => "declared",
            Decision::NotEsr => "not_esr",
        }
    }

    /// Parses the stored spelling (also `not-esr`).
    pub fn parse(s: &str) -> Option<Decision> {
        match s.trim().to_ascii_lowercase().as_str() {
            "declared" => Some(Decision::Declared),
            "not_esr" | "not-esr" => Some(Decision::NotEsr),
            _ => None,
        }
    }
}

impl Explanation {
    /// A stable id: the same statement recorded twice gets the same id.
    pub fn id(&self) -> String {
        let mut h = sha2::Sha256::new();
        for part in [
            self.worker_id.as_str(),
            &self.period_start.to_rfc3339(),
            &self.period_end.to_rfc3339(),
            self.signal.as_deref().unwrap_or(""),
            &self.reason,
            &self.author,
            &self.recorded_at.to_rfc3339(),
            self.decision.map(Decision::as_str).unwrap_or(""),
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        format!("X{}", &hex::encode(h.finalize())[..16])
    }
}

/// Appends an explanation to the lake and returns its id.
pub fn record(lake: &Lake, e: &Explanation) -> Result<String> {
    if e.period_end < e.period_start {
        return Err(Error::Invalid("the period ends before it starts".into()));
    }
    if e.reason.trim().is_empty() {
        return Err(Error::Invalid("an explanation needs a reason".into()));
    }
    if e.decision.is_some() && e.signal.is_none() {
        return Err(Error::Invalid(
            "a decision is about one finding: name its level with --signal (esr, limit, classification, pregnancy)"
                .into(),
        ));
    }
    let id = e.id();
    let ts = |t: &DateTime<Utc>| -> ArrayRef {
        Arc::new(TimestampMicrosecondArray::from(vec![t.timestamp_micros()]).with_timezone("UTC"))
    };
    let s = |v: Option<&str>| -> ArrayRef { Arc::new(StringArray::from(vec![v])) };
    let batch = RecordBatch::try_new(
        alara_model::schema::explanations_schema(),
        vec![
            s(Some(&id)),
            s(Some(&e.worker_id)),
            ts(&e.period_start),
            ts(&e.period_end),
            s(e.signal.as_deref()),
            s(Some(&e.reason)),
            s(Some(&e.author)),
            ts(&e.recorded_at),
            s(e.decision.map(Decision::as_str)),
        ],
    )
    .map_err(|e| Error::Invalid(e.to_string()))?;
    lake.write(Table::Explanations, None, &format!("explanation-{id}"), &[batch], &WriteOptions::default())?;
    Ok(id)
}
