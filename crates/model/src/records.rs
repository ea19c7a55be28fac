//! The three validated record kinds of the contract and the rules that admit them.
//!
//! Validation collects every problem of a record, not only the first, so that the person fixing
//! a lab export sees all of them in one `rejects` row.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::enums::*;
use crate::fields::{Fields, Value};
use crate::pseudonym::{NirError, Pseudonymizer};

/// Longest wearing period accepted for any dosimeter (arrêté 23 June 2023, art. 13-II: 3 months).
pub const MAX_PERIOD_DAYS: i64 = 92;

/// Default lab recording threshold when a reading does not say (mSv).
pub const DEFAULT_RECORDING_THRESHOLD_MSV: f64 = 0.05;

/// Which of the three input record kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Dosimeter results.
    Readings,
    /// Worker reference data.
    Workers,
    /// Procedure workload.
    Procedures,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 3] = [Kind::Readings, Kind::Workers, Kind::Procedures];

    /// The table (and lake directory) name.
    pub fn table(self) -> &'static str {
        match self {
            Kind::Readings => "readings",
            Kind::Workers => "workers",
            Kind::Procedures => "procedures",
        }
    }
}

/// One dosimeter result, validated. The worker is always pseudonymous here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    /// Id at the source; with `source`, the identity of the reading.
    pub reading_id: String,
    /// Correction number: the highest wins.
    pub revision: i64,
    /// Lab or operational system.
    pub source: String,
    /// Pseudonymous worker id.
    pub worker_id: String,
    /// Employer SIRET (14 digits, Luhn-valid).
    pub employer_siret: String,
    /// The establishment (site) the result belongs to, when the lab says.
    pub site: Option<String>,
    /// The department (service) the worker belonged to for this period.
    pub department: String,
    /// Dosimeter id.
    pub dosimeter_id: String,
    /// Kind of monitoring.
    pub monitoring: Monitoring,
    /// Where it was worn.
    pub position: Option<Position>,
    /// Which side the dosimeter was worn on (eye, hand).
    pub laterality: Option<Laterality>,
    /// The operational quantity measured.
    pub quantity: Quantity,
    /// Lab status.
    pub status: Status,
    /// Dose, for measured and estimated results only.
    pub dose_msv: Option<f64>,
    /// Lab recording threshold.
    pub recording_threshold_msv: f64,
    /// Start of wearing (or entry).
    pub period_start: DateTime<Utc>,
    /// End of wearing (or exit).
    pub period_end: DateTime<Utc>,
    /// Radiation nature.
    pub radiation: Option<Radiation>,
}

/// Worker reference data, one version (the latest `valid_from` wins).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Worker {
    /// Pseudonymous worker id.
    pub worker_id: String,
    /// Employer SIRET.
    pub employer_siret: String,
    /// The department (service) the worker belongs to from `valid_from`.
    pub department: String,
    /// The worker's job, used to choose peers.
    pub role: Role,
    /// The worker's classification (category A, B or not classified).
    pub category: Category,
    /// Date the pregnancy was declared, if any.
    pub pregnancy_declared_on: Option<NaiveDate>,
    /// A worker aged 16–18, with lower limits.
    pub apprentice: bool,
    /// From when this version applies.
    pub valid_from: DateTime<Utc>,
}

/// One worker present at one procedure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Procedure {
    /// Procedure id in the dose-archiving system.
    pub procedure_id: String,
    /// Pseudonymous worker id.
    pub worker_id: String,
    /// The department (service) where the procedure took place.
    pub department: String,
    /// The room, when the scheduling system records it.
    pub room: Option<String>,
    /// Procedure type.
    pub procedure_type: Option<String>,
    /// When the worker's attendance started.
    pub started_at: DateTime<Utc>,
    /// When the worker's attendance ended.
    pub ended_at: DateTime<Utc>,
    /// Fluoroscopy time (seconds).
    pub fluoroscopy_s: Option<f64>,
    /// Dose-area product (Gy·cm²).
    pub dap_gycm2: Option<f64>,
}

/// A validated record of any kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A reading.
    Reading(Reading),
    /// A worker version.
    Worker(Worker),
    /// A procedure attendance.
    Procedure(Procedure),
}

/// Everything wrong with one record, as sentences a person can act on.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Problems(pub Vec<String>);

impl Problems {
    fn push(&mut self, p: impl Into<String>) {
        self.0.push(p.into());
    }
    /// Whether NIR pseudonymisation was impossible for want of a key (a configuration error,
    /// not a data error: the caller stops rather than rejecting every record).
    pub fn missing_key(&self) -> bool {
        self.0.iter().any(|p| p == &NirError::NoKey.to_string())
    }
}

impl std::fmt::Display for Problems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join("; "))
    }
}

/// Fields that identify something (a person, a result, a badge, a procedure, a room): a NIR
/// written in one of them is replaced by its pseudonym, so the identity stays stable. A NIR in any
/// other field rejects the record (it has no business there and cannot be stored).
pub const IDENTITY_FIELDS: [&str; 5] = ["worker_id", "reading_id", "dosimeter_id", "procedure_id", "room"];

/// Fields holding numbers: searched for a NIR by their whole part (`185057800608412.5` is a NIR
/// with decimals) and, when stored as decimals ([`DECIMAL_FIELDS`]), as they are printed.
const NUMERIC_FIELDS: [&str; 5] = ["revision", "dose_msv", "recording_threshold_msv", "fluoroscopy_s", "dap_gycm2"];

/// Numeric fields stored as decimals (`f64`), which the lake's JSON and SQL print with a decimal
/// point (`21390031212009.0`, `1850578006084.27`): a point is a separator to a reader and to
/// [`crate::find_nirs`], so these are also searched as printed (see `Validator::screen`).
const DECIMAL_FIELDS: [&str; 4] = ["dose_msv", "recording_threshold_msv", "fluoroscopy_s", "dap_gycm2"];

/// Default of [`Validator::future_horizon`]: one day past the time of ingest (clock skew, time
/// zones and an end-of-day `period_end` fit; a mistyped year does not).
pub const DEFAULT_FUTURE_HORIZON: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// Default of [`Validator::earliest`]: no individual dosimetry record predates 1950; earlier
/// dates are placeholders (`1900-01-01`, a spreadsheet's zero date) or typos.
pub const DEFAULT_EARLIEST: NaiveDate = NaiveDate::from_ymd_opt(1950, 1, 1).expect("a valid date");

/// Validation settings.
#[derive(Debug, Clone)]
pub struct Validator {
    /// Pseudonymiser for records that carry a NIR; `None` refuses such records.
    pub pseudonymizer: Option<Pseudonymizer>,
    /// How far past the time of ingest any timestamp of a record may lie (`period_end`,
    /// `valid_from`, …); later ones are rejected. Default [`DEFAULT_FUTURE_HORIZON`].
    pub future_horizon: chrono::TimeDelta,
    /// Earliest date any timestamp of a record may hold. Default [`DEFAULT_EARLIEST`].
    pub earliest: NaiveDate,
}

impl Default for Validator {
    fn default() -> Self {
        Validator { pseudonymizer: None, future_horizon: DEFAULT_FUTURE_HORIZON, earliest: DEFAULT_EARLIEST }
    }
}

impl Validator {
    /// The default settings with this pseudonymiser.
    pub fn with_pseudonymizer(pseudonymizer: Option<Pseudonymizer>) -> Self {
        Validator { pseudonymizer, ..Validator::default() }
    }
}

/// Reads fields one by one, recording problems instead of stopping at the first.
struct Reader<'a> {
    f: &'a Fields,
    problems: Problems,
    v: &'a Validator,
    now: DateTime<Utc>,
}

impl<'a> Reader<'a> {
    fn text(&mut self, name: &str, required: bool) -> Option<String> {
        match self.f.get(name) {
            Value::Null => {
                if required {
                    self.problems.push(format!("missing required field '{name}'"));
                }
                None
            }
            Value::Text(s) if s.trim().is_empty() => {
                if required {
                    self.problems.push(format!("missing required field '{name}'"));
                }
                None
            }
            Value::Text(s) => Some(s.trim().to_string()),
            Value::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => Some(format!("{}", *n as i64)),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
        }
    }

    fn parse_enum<T: std::str::FromStr<Err = crate::enums::UnknownValue>>(
        &mut self,
        name: &str,
        required: bool,
    ) -> Option<T> {
        let t = self.text(name, required)?;
        match t.parse() {
            Ok(v) => Some(v),
            Err(e) => {
                self.problems.push(e.to_string());
                None
            }
        }
    }

    fn number(&mut self, name: &str) -> Option<f64> {
        let v = match self.f.get(name) {
            Value::Null => return None,
            Value::Number(n) => *n,
            Value::Text(s) if s.trim().is_empty() => return None,
            Value::Text(s) => match parse_decimal(s) {
                Some(v) => v,
                None => {
                    self.problems.push(format!("'{name}' is not a number: '{}'", clip(s)));
                    return None;
                }
            },
            Value::Bool(_) => {
                self.problems.push(format!("'{name}' is a boolean; expected a number"));
                return None;
            }
        };
        if !v.is_finite() {
            self.problems.push(format!("'{name}' is not a finite number"));
            return None;
        }
        Some(v)
    }

    fn non_negative(&mut self, name: &str) -> Option<f64> {
        let v = self.number(name)?;
        if v < 0.0 {
            self.problems.push(format!("'{name}' is negative ({v})"));
            return None;
        }
        Some(v)
    }

    fn integer(&mut self, name: &str) -> Option<i64> {
        let v = self.number(name)?;
        if v.fract() != 0.0 || !(0.0..=1e15).contains(&v) {
            self.problems.push(format!("'{name}' must be a non-negative whole number, got {v}"));
            return None;
        }
        Some(v as i64)
    }

    fn boolean(&mut self, name: &str) -> Option<bool> {
        match self.f.get(name) {
            Value::Null => None,
            Value::Bool(b) => Some(*b),
            Value::Number(n) if *n == 0.0 || *n == 1.0 => Some(*n == 1.0),
            Value::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
                "" => None,
                "true" | "1" | "yes" | "oui" | "y" => Some(true),
                "false" | "0" | "no" | "non" | "n" => Some(false),
                other => {
                    self.problems.push(format!("'{name}' is not a boolean: '{}'", clip(other)));
                    None
                }
            },
            Value::Number(n) => {
                self.problems.push(format!("'{name}' is not a boolean: {n}"));
                None
            }
        }
    }

    /// Refuses a timestamp outside [earliest, now + horizon]: a year 9999, 1900 or a typo in the
    /// year would otherwise sit in the legal record (and overflow nanosecond arithmetic downstream).
    fn in_range(&mut self, name: &str, ts: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let earliest = Utc.from_utc_datetime(&self.v.earliest.and_time(chrono::NaiveTime::MIN));
        if ts < earliest {
            self.problems.push(format!(
                "'{name}' {} is before {}, the earliest date accepted (a placeholder or spreadsheet zero date? send the real date)",
                ts.format("%Y-%m-%d"),
                self.v.earliest
            ));
            return None;
        }
        let latest = self.now.checked_add_signed(self.v.future_horizon).unwrap_or(DateTime::<Utc>::MAX_UTC);
        if ts > latest {
            self.problems.push(format!(
                "'{name}' {} is in the future (more than {} hours after the time of ingest, {}): a typo in the date?",
                ts.format("%Y-%m-%dT%H:%M:%SZ"),
                self.v.future_horizon.num_hours(),
                self.now.format("%Y-%m-%dT%H:%M:%SZ")
            ));
            return None;
        }
        Some(ts)
    }

    fn timestamp(&mut self, name: &str, required: bool) -> Option<DateTime<Utc>> {
        let t = self.text(name, required)?;
        match parse_timestamp(&t) {
            Some(ts) => self.in_range(name, ts),
            None => {
                self.problems.push(format!("'{name}' is not an RFC 3339 timestamp or a date: '{}'", clip(&t)));
                None
            }
        }
    }

    fn date(&mut self, name: &str) -> Option<NaiveDate> {
        let t = self.text(name, false)?;
        match parse_timestamp(&t) {
            Some(ts) => self.in_range(name, ts).map(|ts| ts.date_naive()),
            None => {
                self.problems.push(format!("'{name}' is not a date: '{}'", clip(&t)));
                None
            }
        }
    }

    fn siret(&mut self) -> Option<String> {
        let s = self.text("employer_siret", true)?;
        let s: String = s.chars().filter(|c| *c != ' ').collect();
        if !siret_is_valid(&s) {
            self.problems
                .push(format!("employer_siret '{}' is not a valid SIRET (14 digits, Luhn checksum)", clip(&s)));
            return None;
        }
        Some(s)
    }

    /// The worker: `worker_id` as given, or a pseudonym of `nir`. Never both silently: when both
    /// are present the pseudonym of the NIR must equal the id, otherwise the record is ambiguous.
    fn worker(&mut self, validator: &Validator) -> Option<String> {
        let id = self.text("worker_id", false);
        let nir = match self.f.get("nir") {
            Value::Null => None,
            Value::Text(s) if s.trim().is_empty() => None,
            Value::Text(s) => Some(s.clone()),
            Value::Number(n) => Some(format!("{}", *n as i64)),
            Value::Bool(_) => {
                self.problems.push("'nir' is a boolean".to_string());
                return None;
            }
        };
        match (id, nir) {
            (None, None) => {
                self.problems.push("missing 'worker_id' (or 'nir'): one of them is required");
                None
            }
            (Some(id), None) => Some(id),
            (id, Some(nir)) => {
                let Some(p) = &validator.pseudonymizer else {
                    self.problems.push(NirError::NoKey.to_string());
                    return None;
                };
                match p.worker_id(&nir) {
                    Ok(pid) => match id {
                        Some(id) if id != pid => {
                            self.problems
                                .push("'worker_id' and 'nir' are both given and do not designate the same worker");
                            None
                        }
                        _ => Some(pid),
                    },
                    Err(e) => {
                        self.problems.push(e.to_string());
                        None
                    }
                }
            }
        }
    }

    fn finish<T>(self, value: Option<T>) -> Result<T, Problems> {
        match value {
            Some(v) if self.problems.0.is_empty() => Ok(v),
            _ => {
                let mut p = self.problems;
                if p.0.is_empty() {
                    p.push("invalid record");
                }
                Err(p)
            }
        }
    }
}

fn clip(s: &str) -> String {
    crate::pseudonym::mask_nir_like(&s.chars().take(40).collect::<String>())
}

/// Parses a decimal with `.` or `,` as separator (French exports use a comma).
pub fn parse_decimal(s: &str) -> Option<f64> {
    let t = s.trim();
    let t = if t.contains(',') && !t.contains('.') { t.replacen(',', ".", 1) } else { t.to_string() };
    let v: f64 = t.parse().ok()?;
    Some(v)
}

/// RFC 3339 timestamps; a bare date means 00:00 UTC; a date-time without offset is taken as UTC.
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let t = s.trim();
    if let Ok(ts) = DateTime::parse_from_rfc3339(t) {
        return Some(ts.with_timezone(&Utc));
    }
    if let Ok(ts) = DateTime::parse_from_rfc3339(&t.replacen(' ', "T", 1)) {
        return Some(ts.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Some(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0)?));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, fmt) {
            return Some(Utc.from_utc_datetime(&n));
        }
    }
    None
}

/// A SIRET is 14 digits passing the Luhn check (La Poste's establishments, SIREN 356000000, use a
/// digit sum divisible by 5 instead).
pub fn siret_is_valid(s: &str) -> bool {
    if s.len() != 14 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    if s.starts_with("356000000") {
        return s.bytes().map(|b| (b - b'0') as u32).sum::<u32>() % 5 == 0;
    }
    luhn(s)
}

/// The Luhn checksum over a string of digits.
pub fn luhn(s: &str) -> bool {
    let sum: u32 = s
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = (b - b'0') as u32;
            if i % 2 == 1 {
                let d2 = d * 2;
                if d2 > 9 { d2 - 9 } else { d2 }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

mod validate;

#[cfg(test)]
mod tests;
