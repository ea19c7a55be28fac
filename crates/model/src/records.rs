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

/// Validation settings.
#[derive(Debug, Clone, Default)]
pub struct Validator {
    /// Pseudonymiser for records that carry a NIR; `None` refuses such records.
    pub pseudonymizer: Option<Pseudonymizer>,
}

/// Reads fields one by one, recording problems instead of stopping at the first.
struct Reader<'a> {
    f: &'a Fields,
    problems: Problems,
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

    fn timestamp(&mut self, name: &str, required: bool) -> Option<DateTime<Utc>> {
        let t = self.text(name, required)?;
        match parse_timestamp(&t) {
            Some(ts) => Some(ts),
            None => {
                self.problems.push(format!("'{name}' is not an RFC 3339 timestamp or a date: '{}'", clip(&t)));
                None
            }
        }
    }

    fn date(&mut self, name: &str) -> Option<NaiveDate> {
        let t = self.text(name, false)?;
        match parse_timestamp(&t) {
            Some(ts) => Some(ts.date_naive()),
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

impl Validator {
    /// Validates a record of the given kind.
    pub fn validate(&self, kind: Kind, fields: &Fields) -> Result<Record, Problems> {
        match kind {
            Kind::Readings => self.reading(fields).map(Record::Reading),
            Kind::Workers => self.worker(fields).map(Record::Worker),
            Kind::Procedures => self.procedure(fields).map(Record::Procedure),
        }
    }

    /// Validates a reading against every rule of the contract.
    pub fn reading(&self, fields: &Fields) -> Result<Reading, Problems> {
        let mut r = Reader { f: fields, problems: Problems::default() };
        let reading_id = r.text("reading_id", true);
        let revision = r.integer("revision").unwrap_or(0);
        let source = r.text("source", true);
        let worker_id = r.worker(self);
        let employer_siret = r.siret();
        let site = r.text("site", false);
        let department = r.text("department", true);
        let dosimeter_id = r.text("dosimeter_id", true);
        let monitoring = r.parse_enum::<Monitoring>("monitoring", true);
        let position = r.parse_enum::<Position>("position", false);
        let laterality = r.parse_enum::<Laterality>("laterality", false);
        let quantity = r.parse_enum::<Quantity>("quantity", true);
        let status = r.parse_enum::<Status>("status", true);
        let dose_msv = r.number("dose_msv");
        let recording_threshold_msv = r.number("recording_threshold_msv");
        let period_start = r.timestamp("period_start", true);
        let period_end = r.timestamp("period_end", true);
        let radiation = r.parse_enum::<Radiation>("radiation", false);

        if let Some(d) = dose_msv
            && d < 0.0
        {
            r.problems.push(format!("dose_msv is negative ({d})"));
        }
        if let Some(t) = recording_threshold_msv
            && t < 0.0
        {
            r.problems.push(format!("recording_threshold_msv is negative ({t})"));
        }
        if let Some(status) = status {
            match (status.carries_dose(), dose_msv) {
                (true, None) => r.problems.push(format!("status '{status}' requires dose_msv")),
                (false, Some(_)) => r.problems.push(format!(
                    "dose_msv given on status '{status}': only measured or estimated results carry a dose"
                )),
                _ => {}
            }
        }
        if let (Some(s), Some(e)) = (period_start, period_end) {
            if e < s {
                r.problems.push("period_end is before period_start");
            } else if (e - s).num_seconds() > MAX_PERIOD_DAYS * 86_400 {
                r.problems.push(format!(
                    "wearing period of {} days exceeds the {MAX_PERIOD_DAYS}-day maximum (3 months, arrêté 23 June 2023)",
                    (e - s).num_days()
                ));
            }
        }
        let value = (|| {
            Some(Reading {
                reading_id: reading_id?,
                revision,
                source: source?,
                worker_id: worker_id?,
                employer_siret: employer_siret?,
                site,
                department: department?,
                dosimeter_id: dosimeter_id?,
                monitoring: monitoring?,
                position,
                laterality,
                quantity: quantity?,
                status: status?,
                dose_msv,
                recording_threshold_msv: recording_threshold_msv.unwrap_or(DEFAULT_RECORDING_THRESHOLD_MSV),
                period_start: period_start?,
                period_end: period_end?,
                radiation,
            })
        })();
        r.finish(value)
    }

    /// Validates a worker version.
    pub fn worker(&self, fields: &Fields) -> Result<Worker, Problems> {
        let mut r = Reader { f: fields, problems: Problems::default() };
        let worker_id = r.worker(self);
        let employer_siret = r.siret();
        let department = r.text("department", true);
        let role = r.parse_enum::<Role>("role", true);
        let category = r.parse_enum::<Category>("category", true);
        let pregnancy_declared_on = r.date("pregnancy_declared_on");
        let apprentice = r.boolean("apprentice").unwrap_or(false);
        let valid_from = r.timestamp("valid_from", true);
        let value = (|| {
            Some(Worker {
                worker_id: worker_id?,
                employer_siret: employer_siret?,
                department: department?,
                role: role?,
                category: category?,
                pregnancy_declared_on,
                apprentice,
                valid_from: valid_from?,
            })
        })();
        r.finish(value)
    }

    /// Validates a procedure attendance.
    pub fn procedure(&self, fields: &Fields) -> Result<Procedure, Problems> {
        let mut r = Reader { f: fields, problems: Problems::default() };
        let procedure_id = r.text("procedure_id", true);
        let worker_id = r.worker(self);
        let department = r.text("department", true);
        let room = r.text("room", false);
        let procedure_type = r.text("procedure_type", false);
        let started_at = r.timestamp("started_at", true);
        let ended_at = r.timestamp("ended_at", true);
        let fluoroscopy_s = r.non_negative("fluoroscopy_s");
        let dap_gycm2 = r.non_negative("dap_gycm2");
        if let (Some(s), Some(e)) = (started_at, ended_at) {
            if e < s {
                r.problems.push("ended_at is before started_at");
            } else if (e - s).num_hours() > 24 {
                r.problems
                    .push(format!("procedure lasts {} hours; more than 24 is not plausible", (e - s).num_hours()));
            }
        }
        let value = (|| {
            Some(Procedure {
                procedure_id: procedure_id?,
                worker_id: worker_id?,
                department: department?,
                room,
                procedure_type,
                started_at: started_at?,
                ended_at: ended_at?,
                fluoroscopy_s,
                dap_gycm2,
            })
        })();
        r.finish(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(json: &str) -> Fields {
        Fields::from_json(json.as_bytes()).unwrap()
    }

    const GOOD: &str = r#"{"reading_id":"r1","source":"LAB","worker_id":"w1","employer_siret":"73282932000074",
        "department":"cardio","dosimeter_id":"d1","monitoring":"passive","quantity":"Hp10","status":"measured",
        "dose_msv":0.4,"period_start":"2025-01-01","period_end":"2025-01-31T23:59:59Z"}"#;

    #[test]
    fn a_good_reading_passes_with_defaults() {
        let r = Validator::default().reading(&fields(GOOD)).unwrap();
        assert_eq!(r.revision, 0);
        assert_eq!(r.recording_threshold_msv, DEFAULT_RECORDING_THRESHOLD_MSV);
        assert_eq!(r.period_start.to_rfc3339(), "2025-01-01T00:00:00+00:00");
    }

    #[test]
    fn every_problem_is_reported() {
        let bad = GOOD
            .replace("\"Hp10\"", "\"Sv\"")
            .replace("73282932000074", "73282932000075")
            .replace("\"measured\"", "\"below_threshold\"")
            .replace("2025-01-31T23:59:59Z", "2026-01-31");
        let p = Validator::default().reading(&fields(&bad)).unwrap_err();
        let s = p.to_string();
        assert!(s.contains("unknown quantity 'Sv'"), "{s}");
        assert!(s.contains("not a valid SIRET"), "{s}");
        assert!(s.contains("dose_msv given on status 'below_threshold'"), "{s}");
        assert!(s.contains("exceeds the 92-day maximum"), "{s}");
    }

    #[test]
    fn negative_and_non_finite_doses_are_refused() {
        let p = Validator::default().reading(&fields(&GOOD.replace("0.4", "-0.1"))).unwrap_err();
        assert!(p.to_string().contains("negative"), "{p}");
        let mut f = fields(GOOD);
        f.0.insert("dose_msv".into(), Value::Text("NaN".into()));
        assert!(Validator::default().reading(&f).unwrap_err().to_string().contains("finite"));
    }

    #[test]
    fn decimal_comma_is_accepted() {
        assert_eq!(parse_decimal("1,25"), Some(1.25));
        assert_eq!(parse_decimal("0.5"), Some(0.5));
        assert_eq!(parse_decimal("abc"), None);
    }

    #[test]
    fn nir_without_key_is_a_configuration_problem() {
        let n: u64 = 1850578006084;
        let nir = format!("{n}{:02}", 97 - n % 97);
        let json = GOOD.replace("\"worker_id\":\"w1\"", &format!("\"nir\":\"{nir}\""));
        let p = Validator::default().reading(&fields(&json)).unwrap_err();
        assert!(p.missing_key());
        assert!(!p.to_string().contains(&nir));
        let v = Validator { pseudonymizer: Some(Pseudonymizer::new(vec![7u8; 32]).unwrap()) };
        let r = v.reading(&fields(&json)).unwrap();
        assert!(r.worker_id.starts_with('P'));
    }

    #[test]
    fn siret_luhn() {
        assert!(siret_is_valid("73282932000074"));
        assert!(!siret_is_valid("73282932000075"));
        assert!(!siret_is_valid("7328293200007"));
    }
}
