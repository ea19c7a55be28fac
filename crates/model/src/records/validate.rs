//! The validation proper: each record kind's fields read, checked and collected into
//! [`Problems`], and the NIR screen of every field (the types and the field readers are in the
//! parent module).

use super::*;

impl Validator {
    /// Validates a record of the given kind, received now.
    pub fn validate(&self, kind: Kind, fields: &Fields) -> Result<Record, Problems> {
        self.validate_at(kind, fields, Utc::now())
    }

    /// Validates a record of the given kind received at `now` (the time of ingest, which bounds
    /// how far in the future its timestamps may lie).
    pub fn validate_at(&self, kind: Kind, fields: &Fields, now: DateTime<Utc>) -> Result<Record, Problems> {
        match kind {
            Kind::Readings => self.reading_at(fields, now).map(Record::Reading),
            Kind::Workers => self.worker_at(fields, now).map(Record::Worker),
            Kind::Procedures => self.procedure_at(fields, now).map(Record::Procedure),
        }
    }

    /// Looks for a NIR in every field but `nir`: in an identity field it is replaced by its
    /// pseudonym (or, without a key, reported as the missing-key configuration problem); in any
    /// other field, or in a field name, it is a problem that rejects the record.
    fn screen<'f>(&self, fields: &'f Fields) -> (std::borrow::Cow<'f, Fields>, Problems) {
        let mut problems = Problems::default();
        let mut out: Option<Fields> = None;
        for (name, value) in &fields.0 {
            if crate::pseudonym::contains_nir(name) {
                problems.push(
                    "a field name holds a NIR (French social-security number): remove it from the header or keys",
                );
            }
            if name == "nir" {
                continue;
            }
            // A number is searched by its whole part (`185057800608412.5` is a NIR with decimals)
            // and, in a decimal field, also as the record is stored and printed (serde_json's
            // shortest form, which Arrow shares): the whole part alone let `1850578006084.27` (a
            // NIR with its key after a point, or `1850578006084,27` with a decimal comma) and
            // `21390031212009` (printed `21390031212009.0`) be stored reading as a NIR. A value
            // whose float noise happens to print as one (`0.2448319779690169`) is refused too, to
            // be sent rounded: nothing accepted may read as a NIR (found by scripts/fuzz.sh).
            let number = match value {
                Value::Number(n) => Some(*n),
                Value::Text(s) => parse_decimal(s),
                _ => None,
            };
            let text = match (number, value) {
                (Some(n), _) if n.is_finite() && DECIMAL_FIELDS.contains(&name.as_str()) => {
                    let printed = serde_json::to_string(&n).unwrap_or_default();
                    // `|` is no separator: the two forms are searched apart.
                    std::borrow::Cow::Owned(format!("{}|{printed}", n.trunc()))
                }
                (Some(n), _) if n.is_finite() && NUMERIC_FIELDS.contains(&name.as_str()) => {
                    std::borrow::Cow::Owned(format!("{}", n.trunc()))
                }
                (_, Value::Text(s)) => std::borrow::Cow::Borrowed(s.as_str()),
                // As the reader turns a number into text for a text field.
                (_, Value::Number(n)) if n.fract() == 0.0 && n.abs() < 1e15 => {
                    std::borrow::Cow::Owned(format!("{}", *n as i64))
                }
                (_, Value::Number(n)) => std::borrow::Cow::Owned(n.to_string()),
                _ => continue,
            };
            if !crate::pseudonym::contains_nir(&text) {
                continue;
            }
            if !IDENTITY_FIELDS.contains(&name.as_str()) {
                problems.push(format!(
                    "field '{name}' holds a NIR (French social-security number), which may only be sent in 'nir' \
                     (or an id field) to be pseudonymised: remove it from '{name}'"
                ));
                continue;
            }
            match &self.pseudonymizer {
                None => {
                    if !problems.missing_key() {
                        problems.push(NirError::NoKey.to_string());
                    }
                }
                Some(p) => {
                    let replaced = p.replace_nirs(&text).expect("a NIR was found");
                    out.get_or_insert_with(|| fields.clone()).0.insert(name.clone(), Value::Text(replaced));
                }
            }
        }
        (out.map_or(std::borrow::Cow::Borrowed(fields), std::borrow::Cow::Owned), problems)
    }

    fn reader<'a>(&'a self, fields: &'a Fields, problems: Problems, now: DateTime<Utc>) -> Reader<'a> {
        Reader { f: fields, problems, v: self, now }
    }

    /// Validates a reading against every rule of the contract, received now.
    pub fn reading(&self, fields: &Fields) -> Result<Reading, Problems> {
        self.reading_at(fields, Utc::now())
    }

    /// Validates a reading received at `now`.
    pub fn reading_at(&self, fields: &Fields, now: DateTime<Utc>) -> Result<Reading, Problems> {
        let (fields, problems) = self.screen(fields);
        let mut r = self.reader(&fields, problems, now);
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

    /// Validates a worker version, received now.
    pub fn worker(&self, fields: &Fields) -> Result<Worker, Problems> {
        self.worker_at(fields, Utc::now())
    }

    /// Validates a worker version received at `now`.
    pub fn worker_at(&self, fields: &Fields, now: DateTime<Utc>) -> Result<Worker, Problems> {
        let (fields, problems) = self.screen(fields);
        let mut r = self.reader(&fields, problems, now);
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

    /// Validates a procedure attendance, received now.
    pub fn procedure(&self, fields: &Fields) -> Result<Procedure, Problems> {
        self.procedure_at(fields, Utc::now())
    }

    /// Validates a procedure attendance received at `now`.
    pub fn procedure_at(&self, fields: &Fields, now: DateTime<Utc>) -> Result<Procedure, Problems> {
        let (fields, problems) = self.screen(fields);
        let mut r = self.reader(&fields, problems, now);
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
