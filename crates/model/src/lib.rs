//! The vocabulary of alara, with no I/O: the contract's record kinds and enums, the rules that
//! validate raw records, NIR pseudonymisation, the Arrow schemas of the lake tables, the
//! regulatory [`Limits`] (written once), and what detections and alerts say ([`Finding`],
//! [`Level`], [`Signal`], [`BodySite`], [`Severity`], [`AlertState`]).
//!
//! Every other crate speaks in these types: `ingest` decodes bytes into [`Fields`] and validates
//! them with a [`Validator`] into [`Record`]s or [`Reject`]s; `lake` writes the batches built by
//! [`schema`] and tells [`FlushObserver`]s; `detect`, `alert` and `report` read them back.
//!
//! ```
//! use alara_model::{Fields, Kind, Validator, Record};
//! let raw = br#"{"reading_id":"r1","source":"LAB","worker_id":"w1","employer_siret":"73282932000074",
//!   "department":"radiology","dosimeter_id":"d1","monitoring":"lens","quantity":"Hp3",
//!   "status":"measured","dose_msv":"1,5","period_start":"2025-01-01","period_end":"2025-01-31"}"#;
//! let fields = Fields::from_json(raw).unwrap();
//! let Record::Reading(r) = Validator::default().validate(Kind::Readings, &fields).unwrap() else { panic!() };
//! assert_eq!(r.dose_msv, Some(1.5));
//! ```
#![deny(missing_docs)]

#[macro_use]
pub mod enums;
pub mod fields;
pub mod finding;
#[cfg(test)]
mod fuzz;
pub mod limits;
pub mod origin;
pub mod period;
pub mod pseudonym;
pub mod records;
pub mod schema;
pub mod sink;
pub mod table;

pub use enums::*;
pub use fields::{DecodeError, Fields, Value};
pub use finding::{AlertState, BodySite, Evidence, Finding, FindingKind, Level, Reference, Severity, Signal, Window};
pub use limits::{Limits, QuantityLevels};
pub use origin::{Origin, Reject};
pub use period::ReportPeriod;
pub use pseudonym::{NirError, Pseudonymizer, contains_nir, find_nirs, mask_nir_like, validate_nir};
pub use records::{Kind, Problems, Procedure, Reading, Record, Validator, Worker};
pub use schema::Stamped;
pub use sink::{BatchSink, Flush, FlushObserver, ObserverError};
