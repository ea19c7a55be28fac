//! The report's two languages: French, the default (the words of a conseiller en radioprotection
//! and of an ASNR inspection letter), and English. One place for the domain's words — levels,
//! signals, quantities, body sites, priorities, bands — that the report and `alara serve` both
//! show, and for the French forms of numbers and dates (`12,30`, `31/05/2026`, `31 mai 2026`).
//!
//! Prose that appears once is written where it is used, both languages side by side
//! (`lang.pick("…", "…")`), so that a sentence and its translation are read and changed together.
//! Machine outputs (CSV extracts, `summary.json`, `data-*` attributes) stay in one locale-free
//! form whatever the language.

use chrono::{Datelike, NaiveDate};

use crate::fmt::{date_of, round};

/// A language of the report and of the web pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Français (the default).
    #[default]
    Fr,
    /// English.
    En,
}

const MONTHS_FR: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];
const MONTHS_FR_SHORT: [&str; 12] =
    ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."];

impl Lang {
    /// Parses `fr` or `en`.
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "fr" => Some(Lang::Fr),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The ISO code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    /// The text in this language.
    pub fn pick<'a>(self, fr: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Fr => fr,
            Lang::En => en,
        }
    }

    /// The string of a vocabulary key; the key itself when [`VOCABULARY`] lacks it (a test checks
    /// every level and signal has one).
    pub fn t(self, key: &str) -> &str {
        match lookup(key) {
            Some((fr, en)) => self.pick(fr, en),
            None => key,
        }
    }

    /// A number with a fixed number of decimals and the language's decimal separator, rounded
    /// first so that two runs print the same digits.
    pub fn num(self, v: f64, decimals: usize) -> String {
        let s = format!("{:.decimals$}", round(v, decimals as i32));
        match self {
            Lang::Fr => s.replace('.', ","),
            Lang::En => s,
        }
    }

    /// A dose in mSv, two decimals, without the unit (`12,30`).
    pub fn msv(self, v: f64) -> String {
        self.num(v, 2)
    }

    /// A threshold as written in regulation: no trailing zeros (`20`, `0,5`).
    pub fn plain(self, v: f64) -> String {
        let s = crate::fmt::csv_float(v);
        match self {
            Lang::Fr => s.replace('.', ","),
            Lang::En => s,
        }
    }

    /// A percentage without decimals, narrow no-break space before `%`.
    pub fn pct(self, x: f64) -> String {
        crate::fmt::pct(x)
    }

    /// A date: `31/05/2026` in French, ISO `2026-05-31` in English.
    pub fn date(self, d: NaiveDate) -> String {
        match self {
            Lang::Fr => d.format("%d/%m/%Y").to_string(),
            Lang::En => d.format("%Y-%m-%d").to_string(),
        }
    }

    /// The date of an instant (UTC microseconds).
    pub fn day(self, micros: i64) -> String {
        date_of(micros).map(|d| self.date(d)).unwrap_or_default()
    }

    /// An instant: the date alone at midnight, else with the time (`31/05/2026 14:02 UTC`).
    pub fn when(self, micros: i64) -> String {
        match chrono::DateTime::from_timestamp_micros(micros) {
            Some(t) if micros % 86_400_000_000 == 0 => self.date(t.date_naive()),
            Some(t) => format!("{} {} UTC", self.date(t.date_naive()), t.format("%H:%M")),
            None => micros.to_string(),
        }
    }

    /// `31 mai 2026` / `31 May 2026`.
    pub fn long_date(self, d: NaiveDate) -> String {
        match self {
            Lang::Fr => format!("{} {} {}", d.day(), MONTHS_FR[d.month0() as usize], d.year()),
            Lang::En => d.format("%-d %B %Y").to_string(),
        }
    }

    /// A month on a chart axis or a column head: `mai 26` / `May 26`.
    pub fn month_short(self, d: NaiveDate) -> String {
        match self {
            Lang::Fr => format!("{} {:02}", MONTHS_FR_SHORT[d.month0() as usize], d.year() % 100),
            Lang::En => d.format("%b %y").to_string(),
        }
    }

    /// `mai 2026` / `May 2026`.
    pub fn month_year(self, d: NaiveDate) -> String {
        match self {
            Lang::Fr => format!("{} {}", MONTHS_FR[d.month0() as usize], d.year()),
            Lang::En => d.format("%B %Y").to_string(),
        }
    }

    /// A period between two instants: `01/06/2025 → 31/05/2026`, or one end alone.
    pub fn period(self, start: Option<i64>, end: Option<i64>) -> String {
        match (start, end) {
            (Some(s), Some(e)) => format!("{} → {}", self.day(s), self.day(e)),
            (Some(s), None) => format!("{} {}", self.pick("à partir du", "from"), self.day(s)),
            (None, Some(e)) => format!("{} {}", self.pick("jusqu'au", "to"), self.day(e)),
            (None, None) => String::new(),
        }
    }

    /// An overexposure level, in words.
    pub fn level(self, level: &str) -> &str {
        self.t_or(&format!("level.{level}"), level)
    }

    /// A short name of a level, for a pill.
    pub fn level_short(self, level: &str) -> &str {
        self.t_or(&format!("level_short.{level}"), level)
    }

    /// A signal of `missing_badge` or `unexplained_heterogeneity`, in words.
    pub fn signal(self, signal: &str) -> &str {
        self.t_or(&format!("sig.{signal}"), signal)
    }

    /// The readable name of a quantity (`Cristallin Hp(3)`).
    pub fn quantity(self, q: &str) -> &str {
        self.t_or(&format!("q.{q}"), q)
    }

    /// A population of the `thresholds` table (`adult`, `apprentice`, `pregnancy`, `category_B`…).
    pub fn population(self, p: &str) -> &str {
        self.t_or(&format!("pop.{p}"), p)
    }

    /// A result's status (`not_returned`, `lost`…).
    pub fn status(self, status: &str) -> String {
        self.t_or(&format!("status.{status}"), status).replace('_', " ")
    }

    /// A kind of monitoring (`passive`, `operational`, `extremity`, `lens`).
    pub fn monitoring(self, m: &str) -> &str {
        self.t_or(&format!("mon.{m}"), m)
    }

    /// An alert rule (`rolling_12_months`…).
    pub fn rule(self, rule: &str) -> String {
        self.t_or(&format!("rule.{rule}"), rule).replace('_', " ")
    }

    /// What kind of gap a missing result is (the `kind` column of `missing_results`).
    pub fn gap(self, kind: &str) -> &str {
        match kind {
            "gap between two results" => self.pick("trou entre deux résultats", kind),
            "next result not received" => self.pick("résultat suivant non reçu", kind),
            other => other,
        }
    }

    /// The short name of a quantity (`Hp(0,07)`).
    pub fn quantity_short(self, q: &str) -> String {
        match q {
            "Hp10" => "Hp(10)".into(),
            "Hp3" => "Hp(3)".into(),
            "Hp007" => self.pick("Hp(0,07)", "Hp(0.07)").into(),
            other => other.to_string(),
        }
    }

    /// `finger/left` → `doigt gauche` / `left finger`; `unspecified` parts dropped.
    pub fn site(self, site: &str) -> String {
        let parts: Vec<&str> = site.split('/').filter(|p| !p.is_empty() && *p != "unspecified").collect();
        let word = |p: &str| self.t_or(&format!("site.{p}"), p).replace('_', " ");
        match parts.as_slice() {
            [] => self.pick("localisation non précisée", "site not given").to_string(),
            [one] => word(one),
            [pos, side] => match self {
                // The positions that take a side (œil, doigt, poignet) are masculine: « droit ».
                Lang::Fr => format!("{} {}", word(pos), word(side)),
                Lang::En => format!("{side} {}", word(pos)),
            },
            _ => parts.iter().map(|p| word(p)).collect::<Vec<_>>().join(" "),
        }
    }

    /// The quantity with its body site where it has one (`Extrémités Hp(0,07), doigt gauche`).
    pub fn quantity_site(self, q: &str, site: &str) -> String {
        if q == "Hp10" || site == "whole_body" || site.is_empty() {
            self.quantity(q).to_string()
        } else {
            format!("{}, {}", self.quantity(q), self.site(site))
        }
    }

    /// An alert's summary. The alert engine writes its own sentence, in English, into the outbox
    /// and the hooks' payloads; in French the same facts are said from the alert's typed columns.
    pub fn alert_summary(
        self,
        level: &str,
        quantity: &str,
        dose: Option<f64>,
        threshold: Option<f64>,
        engine_summary: &str,
    ) -> String {
        if self == Lang::En {
            return engine_summary.to_string();
        }
        let mut s = format!("{} : {}", self.quantity(quantity), self.level(level));
        if let (Some(d), Some(t)) = (dose, threshold) {
            s.push_str(&format!(" ; {} mSv pour un seuil de {} mSv", self.msv(d), self.msv(t)));
        }
        if engine_summary.starts_with("WITHDRAWN") {
            s.insert_str(0, "RETIRÉE (résultats corrigés) : ");
        }
        s
    }

    fn t_or<'a>(self, key: &str, fallback: &'a str) -> &'a str {
        match lookup(key) {
            Some((fr, en)) => self.pick(fr, en),
            None => fallback,
        }
    }
}

/// Looks a key up in [`VOCABULARY`]: (français, English).
pub fn lookup(key: &str) -> Option<(&'static str, &'static str)> {
    VOCABULARY.iter().find(|(k, _, _)| *k == key).map(|(_, fr, en)| (*fr, *en))
}

/// The domain's words, shared by the report and the web pages: key → (français, English).
pub const VOCABULARY: &[(&str, &str, &str)] = &[
    ("sev.act", "Agir aujourd'hui", "Act today"),
    ("sev.soon", "Cette semaine", "This week"),
    ("sev.check", "À vérifier", "Check"),
    ("level.limit", "au-delà de la limite annuelle", "over the annual limit"),
    ("level.esr", "résultat ≥ ¼ de la limite (critère ESR)", "single result ≥ ¼ of the limit (ESR criterion)"),
    ("level.investigation", "au-delà du niveau d'investigation", "above the investigation level"),
    ("level.pregnancy", "dose depuis la déclaration de grossesse > 1 mSv", "dose since the declared pregnancy > 1 mSv"),
    (
        "level.pregnancy_warning",
        "dose depuis la déclaration de grossesse à la moitié de la limite (alerte précoce)",
        "dose since the declared pregnancy at half the limit (early warning)",
    ),
    (
        "level.projected",
        "dépassement de la limite projeté sous 12 mois",
        "projected to exceed the limit within 12 months",
    ),
    ("level.classification", "dose au-delà de ce que permet la catégorie", "dose above what the category allows"),
    ("level.lens_estimate", "cristallin estimé au-delà du niveau", "estimated eye-lens dose above the level"),
    ("level.alarm", "alarme du dosimètre opérationnel", "operational dosimeter alarm"),
    ("level_short.limit", "limite dépassée", "limit exceeded"),
    ("level_short.esr", "ESR à instruire", "ESR candidate"),
    ("level_short.investigation", "niveau d'investigation", "investigation level"),
    ("level_short.pregnancy", "grossesse", "pregnancy"),
    ("level_short.pregnancy_warning", "grossesse (alerte)", "pregnancy warning"),
    ("level_short.projected", "projection", "projected"),
    ("level_short.classification", "catégorie", "classification"),
    ("level_short.lens_estimate", "cristallin estimé", "lens estimate"),
    ("level_short.alarm", "alarme", "alarm"),
    ("sig.not_returned", "dosimètre non retourné, perdu ou endommagé", "badge not returned, lost or damaged"),
    (
        "sig.zero_while_peers_exposed",
        "résultats nuls répétés alors que les pairs sont exposés",
        "repeated zero results while peers are exposed",
    ),
    (
        "sig.procedure_without_dosimeter",
        "présent en procédure sans dosimètre opérationnel",
        "at procedures without an operational dosimeter",
    ),
    ("sig.no_lens_dosimeter", "pas de dosimètre cristallin", "no eye-lens dosimeter"),
    ("sig.no_extremity_dosimeter", "pas de dosimètre d'extrémités", "no extremity dosimeter"),
    ("sig.peer_outlier", "dose par acte éloignée des pairs", "dose per workload far from peers"),
    (
        "sig.passive_operational_mismatch",
        "dosimètres passif et opérationnel en désaccord",
        "passive and operational dosimeters disagree",
    ),
    ("q.Hp10", "Dose efficace, corps entier Hp(10)", "Whole body Hp(10)"),
    ("q.Hp3", "Cristallin Hp(3)", "Eye lens Hp(3)"),
    ("q.Hp007", "Extrémités Hp(0,07)", "Extremities/skin Hp(0.07)"),
    ("site.eye", "œil", "eye"),
    ("site.head", "bandeau (yeux)", "headband (eyes)"),
    ("site.collar", "col (thyroïde)", "collar"),
    ("site.finger", "doigt", "finger"),
    ("site.wrist", "poignet", "wrist"),
    ("site.chest", "poitrine", "chest"),
    ("site.under_apron", "sous le tablier", "under the apron"),
    ("site.over_apron", "sur le tablier", "over the apron"),
    ("site.whole_body", "corps entier", "whole body"),
    ("site.left", "gauche", "left"),
    ("site.right", "droit", "right"),
    ("pop.adult", "travailleur adulte", "adult worker"),
    ("pop.apprentice", "apprenti ou élève (16–18 ans)", "apprentice (16–18)"),
    ("pop.pregnancy", "grossesse déclarée", "declared pregnancy"),
    ("pop.category_none", "travailleur non classé", "non-classified worker"),
    ("pop.category_B", "travailleur de catégorie B", "category B worker"),
    ("status.measured", "mesuré", "measured"),
    ("status.below_threshold", "sous le seuil", "below threshold"),
    ("status.not_returned", "non retourné", "not returned"),
    ("status.lost", "perdu", "lost"),
    ("status.damaged", "endommagé", "damaged"),
    ("status.no_result", "sans résultat", "no result"),
    ("status.estimated", "dose attribuée (médecin du travail)", "assigned dose (physician)"),
    ("mon.passive", "passif", "passive"),
    ("mon.operational", "opérationnel", "operational"),
    ("mon.extremity", "extrémités", "extremity"),
    ("mon.lens", "cristallin", "lens"),
    ("rule.single_result", "résultat isolé", "single result"),
    ("rule.rolling_12_months", "12 mois glissants", "rolling 12 months"),
    ("rule.pregnancy", "grossesse", "pregnancy"),
    ("rule.operational_alarm", "alarme opérationnelle", "operational alarm"),
    ("rule.withdrawal", "retrait", "withdrawal"),
    ("band.satisfactory", "satisfaisant", "satisfactory"),
    ("band.progress", "à améliorer", "room for progress"),
    ("band.priority", "prioritaire", "priority"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_both_languages_filled() {
        let mut seen = std::collections::BTreeSet::new();
        for (k, fr, en) in VOCABULARY {
            assert!(seen.insert(*k), "duplicate key {k}");
            assert!(!fr.is_empty() && !en.is_empty(), "{k} lacks a translation");
        }
    }

    #[test]
    fn every_level_and_signal_of_the_model_has_words_in_both_languages() {
        let levels = alara_model::Level::ALL.iter().map(|l| l.as_str()).chain(["pregnancy_warning"]);
        for l in levels {
            assert!(lookup(&format!("level.{l}")).is_some(), "level {l} has no words");
            assert!(lookup(&format!("level_short.{l}")).is_some(), "level {l} has no short name");
            // The French pill never shows the code.
            assert_ne!(Lang::Fr.level_short(l), l, "level {l} shown as its code in French");
        }
        for s in alara_model::Signal::ALL {
            assert!(lookup(&format!("sig.{}", s.as_str())).is_some(), "signal {s:?} has no words");
        }
        for q in alara_model::Quantity::ALL {
            assert!(lookup(&format!("q.{}", q.as_str())).is_some(), "quantity {q:?} has no name");
        }
    }

    #[test]
    fn french_numbers_dates_and_sites() {
        let d = NaiveDate::from_ymd_opt(2026, 5, 31).unwrap();
        assert_eq!(Lang::Fr.msv(20.599999999999998), "20,60");
        assert_eq!(Lang::En.msv(20.599999999999998), "20.60");
        assert_eq!(Lang::Fr.plain(0.5), "0,5");
        assert_eq!(Lang::Fr.date(d), "31/05/2026");
        assert_eq!(Lang::En.date(d), "2026-05-31");
        assert_eq!(Lang::Fr.long_date(d), "31 mai 2026");
        assert_eq!(Lang::Fr.month_short(NaiveDate::from_ymd_opt(2026, 2, 1).unwrap()), "févr. 26");
        assert_eq!(Lang::Fr.site("eye/right"), "œil droit");
        assert_eq!(Lang::En.site("finger/left"), "left finger");
        assert_eq!(Lang::Fr.site("finger/unspecified"), "doigt");
        assert_eq!(Lang::Fr.when(crate::fmt::midnight(d) + 3_600_000_000), "31/05/2026 01:00 UTC");
    }
}
