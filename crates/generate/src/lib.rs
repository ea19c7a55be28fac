//! Synthetic, realistic dosimetry data with known anomalies, for `alara generate` and `alara demo`.
//!
//! [`generate`] writes a hospital's worth of records in the contract's input formats (CONTRACT.md
//! section 1) into a directory:
//!
//! | file | format |
//! |---|---|
//! | `readings.jsonl` | JSON Lines, one reading per line; a few deliberately invalid lines |
//! | `workers.csv` | CSV, `;`-separated, header row, one row per worker version |
//! | `procedures.csv` | CSV, `,`-separated, header row, one row per worker present at a procedure |
//! | `manifest.json` | the [`Manifest`]: options, exact counts, injected cases, invalid lines |
//!
//! The hospital has two sites of one employer (one SIREN, two Luhn-valid SIRETs), seven
//! departments and crews that share fluoroscopy rooms. Doses follow the workload (DAP of each
//! procedure attended) so that peers are comparable; passive badges and operational dosimeters
//! agree within the usual tolerance; levels are calibrated on DOMAIN.md section 7. On top of
//! that background, every level and signal of CONTRACT.md section 3 is injected on a dedicated
//! worker, together with controls that must *not* be flagged; the manifest lists them with
//! exact windows and doses so detections can be tested against it.
//!
//! Output is deterministic (same [`GenerateOptions`] → byte-identical files) and streamed
//! worker by worker, so memory stays flat however many workers are asked for.
//!
//! ```
//! let dir = std::env::temp_dir().join(format!("alara-generate-doc-{}", std::process::id()));
//! let opts = alara_generate::GenerateOptions { workers: 30, ..Default::default() };
//! let manifest = alara_generate::generate(&dir, &opts).unwrap();
//! assert_eq!(manifest.counts.readings_invalid, manifest.invalid.len() as u64);
//! assert!(manifest.cases.iter().any(|c| c.case_id == "limit-hp3-caen"));
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```
#![deny(missing_docs)]

mod calendar;
mod cases;
mod hospital;
mod invalid;
mod manifest;
mod output;
mod rng;
mod roster;
mod schedule;
mod simulate;
pub mod siret;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

pub use cases::Expect;
pub use manifest::{Case, Counts, InvalidLine, Manifest};

use crate::calendar::{Calendar, midnight, rfc3339};
use crate::cases::{CaseKind, MIN_MONTHS, Placement};
use crate::hospital::{SIREN_STEM, Site};
use crate::output::{CsvOut, ReadingsOut};
use crate::roster::Roster;
use crate::simulate::{Sim, Track};

/// Name of the readings file.
pub const READINGS_FILE: &str = "readings.jsonl";
/// Name of the workers file.
pub const WORKERS_FILE: &str = "workers.csv";
/// Name of the procedures file.
pub const PROCEDURES_FILE: &str = "procedures.csv";
/// Name of the manifest file.
pub const MANIFEST_FILE: &str = "manifest.json";

/// Header of workers.csv (contract field names).
pub const WORKERS_HEADER: [&str; 8] = [
    "worker_id",
    "employer_siret",
    "department",
    "role",
    "category",
    "pregnancy_declared_on",
    "apprentice",
    "valid_from",
];
/// Header of procedures.csv (contract field names).
pub const PROCEDURES_HEADER: [&str; 9] = [
    "procedure_id",
    "worker_id",
    "department",
    "room",
    "procedure_type",
    "started_at",
    "ended_at",
    "fluoroscopy_s",
    "dap_gycm2",
];

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Number of workers, case workers included (at least [`min_workers`]).
    pub workers: usize,
    /// Number of whole months (at least [`MIN_MONTHS`](min_months)).
    pub months: u32,
    /// Seed of every random draw: same options, same bytes.
    pub seed: u64,
    /// First day after the last month; must be the first day of a month. A fixed default rather
    /// than "today", so that output never depends on the clock.
    pub end: NaiveDate,
    /// Inject the known cases (default). `false` gives the same hospital with ordinary workers
    /// only (the case posts filled by ordinary staff): the data set on which the statistical
    /// signals must stay within their false discovery rate.
    pub inject: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            workers: 120,
            months: 24,
            seed: 42,
            // A constant: 2026-11-01 is a valid date.
            end: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default(),
            inject: true,
        }
    }
}

/// Fewest workers that hold every injected case (one dedicated worker each, plus support).
pub fn min_workers() -> usize {
    roster::min_workers()
}

/// Fewest months that hold every injected case (12-month windows plus room around them).
pub fn min_months() -> u32 {
    MIN_MONTHS
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Too few workers for the injected cases.
    #[error("--workers {workers} is too small: the injected cases need at least {needed} workers")]
    TooFewWorkers {
        /// Requested.
        workers: usize,
        /// Minimum.
        needed: usize,
    },
    /// Too few months for the 12-month windows of the cases.
    #[error("--months {months} is too small: the injected cases need at least {needed} months")]
    TooFewMonths {
        /// Requested.
        months: u32,
        /// Minimum.
        needed: u32,
    },
    /// The end date is not the first day of a month, or the period leaves the calendar.
    #[error("end date {end} must be the first day of a month, with {months} months before it")]
    BadEnd {
        /// Requested end.
        end: NaiveDate,
        /// Requested months.
        months: u32,
    },
    /// The output directory could not be created.
    #[error("cannot create output directory {path}: {source}")]
    CreateDir {
        /// Directory.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

impl Error {
    /// Whether the request itself is at fault (too few workers or months, a bad end date): the
    /// CLI exits with 2 ("bad usage") for these and with 1 for I/O failures.
    pub fn is_usage(&self) -> bool {
        matches!(self, Error::TooFewWorkers { .. } | Error::TooFewMonths { .. } | Error::BadEnd { .. })
    }
}

/// A `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Writes readings.jsonl, workers.csv, procedures.csv and manifest.json into `out_dir` (created
/// if missing; existing files of those names are replaced) and returns the manifest.
pub fn generate(out_dir: &Path, opts: &GenerateOptions) -> Result<Manifest> {
    if opts.workers < min_workers() {
        return Err(Error::TooFewWorkers { workers: opts.workers, needed: min_workers() });
    }
    if opts.months < MIN_MONTHS {
        return Err(Error::TooFewMonths { months: opts.months, needed: MIN_MONTHS });
    }
    let cal = Calendar::new(opts.end, opts.months).ok_or(Error::BadEnd { end: opts.end, months: opts.months })?;
    std::fs::create_dir_all(out_dir).map_err(|source| Error::CreateDir { path: out_dir.to_path_buf(), source })?;

    let placement = Placement::new(&cal);
    let roster = Roster::build(opts.workers, opts.seed, &cal, &placement, opts.inject);
    // Both stems are constants of the right length and all digits.
    let sirets = [Site::North, Site::South].map(|s| siret::siret(SIREN_STEM, s.nic_stem()).unwrap_or_default());

    let workers_rows = write_workers(out_dir, &roster, &sirets)?;

    // Stream crew by crew (members after one another reuse the crew's cached schedules), then
    // the workers outside fluoroscopy.
    let mut order: Vec<usize> = (0..roster.workers.len()).collect();
    order.sort_by_key(|&w| {
        let s = &roster.workers[w].segments[0];
        (s.dept, s.crew, roster.workers[w].number)
    });
    let n = order.len();
    let inject_after: Vec<usize> =
        (0..invalid::COUNT).map(|j| ((j + 1) * n / (invalid::COUNT + 1)).min(n - 1)).collect();

    let mut readings = ReadingsOut::create(out_dir)?;
    let mut procedures = CsvOut::create(out_dir, PROCEDURES_FILE, b',', &PROCEDURES_HEADER)?;
    let mut sim = Sim::new(opts.seed, &cal, &placement, &roster, &sirets);
    let mut tracks: Vec<(CaseKind, usize, Track)> = Vec::new();
    for (pos, &w) in order.iter().enumerate() {
        let plan = &roster.workers[w];
        let track = sim.worker(plan, &mut readings, &mut procedures)?;
        if let Some(kind) = plan.case {
            tracks.push((kind, w, track));
        }
        for (j, _) in inject_after.iter().enumerate().filter(|(_, p)| **p == pos) {
            let base = sim.lab_line(
                plan,
                cal.len() - 1,
                alara_model::Monitoring::Passive,
                alara_model::Status::Measured,
                None,
            );
            let (text, reason) = invalid::bad_line(j, &base, &cal);
            readings.invalid(&text, reason)?;
        }
    }
    // A lab re-sends a batch unchanged, then corrects a typo, then re-sends the batch again.
    let resend = std::mem::take(&mut sim.resend);
    let corrections = std::mem::take(&mut sim.corrections);
    for line in resend.iter().chain(corrections.iter()).chain(resend.iter()) {
        readings.valid(line, false)?;
    }

    let counts = Counts {
        readings_lines: readings.lines,
        readings_valid: readings.valid,
        readings_invalid: readings.invalid.len() as u64,
        readings_distinct_identities: readings.identities,
        workers_lines: workers_rows,
        procedures_lines: procedures.rows,
    };
    let invalid_lines = std::mem::take(&mut readings.invalid);
    readings.finish()?;
    procedures.finish()?;

    tracks.sort_by_key(|(kind, _, _)| *kind);
    let cases = tracks
        .iter()
        .map(|(kind, w, track)| manifest::case(*kind, &roster.workers[*w], track, &cal, &placement))
        .collect();
    let manifest = Manifest {
        seed: opts.seed,
        workers: opts.workers,
        months: opts.months,
        start: cal.month_start(0),
        end: opts.end,
        files: manifest::Files::default(),
        counts,
        cases,
        invalid: invalid_lines,
    };
    manifest::write(out_dir, &manifest)?;
    Ok(manifest)
}

/// Writes workers.csv (id order, each worker's versions oldest first) and returns its row count.
fn write_workers(dir: &Path, roster: &Roster, sirets: &[String; 2]) -> Result<u64> {
    let mut out = CsvOut::create(dir, WORKERS_FILE, b';', &WORKERS_HEADER)?;
    let mut by_id: Vec<&roster::WorkerPlan> = roster.workers.iter().collect();
    by_id.sort_by_key(|w| w.number);
    for w in by_id {
        for v in &w.versions {
            let siret = match v.dept.site() {
                Site::North => &sirets[0],
                Site::South => &sirets[1],
            };
            let pregnancy = v.pregnancy_declared_on.map(|d| d.to_string()).unwrap_or_default();
            out.row(&[
                &w.id,
                siret,
                v.dept.name(),
                w.role.as_str(),
                v.category.as_str(),
                &pregnancy,
                if w.apprentice { "true" } else { "false" },
                &rfc3339(midnight(v.valid_from)),
            ])?;
        }
    }
    let rows = out.rows;
    out.finish()?;
    Ok(rows)
}
