//! Findings as the report shows them: the rows of the three detection views folded per
//! worker, quantity and level, with their titles, numbers and the action they call for.

use std::collections::{BTreeMap, BTreeSet};

use crate::fmt::iso_date;
use crate::i18n::Lang;
use crate::table::Table;

/// Where a finding comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A row of `overexposure`.
    Overexposure,
    /// A row of `missing_badge`.
    MissingBadge,
    /// A row of `unexplained_heterogeneity`.
    Heterogeneity,
}

impl Kind {
    /// The view name.
    pub fn view(self) -> &'static str {
        match self {
            Kind::Overexposure => "overexposure",
            Kind::MissingBadge => "missing_badge",
            Kind::Heterogeneity => "unexplained_heterogeneity",
        }
    }
}

pub use alara_model::Severity;
use alara_model::{FindingKind, Level};

/// How a [`Severity`] reads on the page.
pub trait SeverityText {
    /// Label shown on the pill.
    fn label(self, lang: Lang) -> &'static str;
    /// CSS class of the pill.
    fn class(self) -> &'static str;
}

impl SeverityText for Severity {
    fn label(self, lang: Lang) -> &'static str {
        lang.t(match self {
            Severity::Act => "sev.act",
            Severity::Soon => "sev.soon",
            Severity::Check => "sev.check",
        })
    }

    fn class(self) -> &'static str {
        match self {
            Severity::Act => "act",
            Severity::Soon => "soon",
            Severity::Check => "check",
        }
    }
}

/// One finding, as shown in the report (overexposure windows of the same worker, quantity and
/// level folded into the worst one).
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Source view.
    pub kind: Kind,
    /// `level` (overexposure) or `signal` (the other two views).
    pub level: String,
    /// The pseudonymous worker id.
    pub worker_id: String,
    /// Quantity, when the view has one.
    pub quantity: Option<String>,
    /// Body site (`whole_body`, `finger/left`…) when the view has one.
    pub body_site: Option<String>,
    /// Start of the window or period (UTC microseconds).
    pub start: Option<i64>,
    /// End of the window or period.
    pub end: Option<i64>,
    /// The dose of the finding (mSv).
    pub value_msv: Option<f64>,
    /// The threshold it is compared with, or the peers' reference.
    pub threshold_msv: Option<f64>,
    /// Robust score (heterogeneity).
    pub score: Option<f64>,
    /// Evidence text from the view.
    pub evidence: Option<String>,
    /// Population whose thresholds apply (`adult`, `apprentice`, `pregnancy`), when the view says.
    pub population: Option<String>,
    /// Highest dose of the episode, when the window stayed over for several months.
    pub peak_msv: Option<f64>,
    /// Consecutive windows over the level in the episode.
    pub exceeding_windows: Option<i64>,
    /// End of the episode's last window.
    pub episode_end: Option<i64>,
    /// How many view rows were folded into this one (overlapping 12-month windows).
    pub rows: usize,
    /// Identity across reports, used to tell what is new.
    pub key: String,
    /// Not in the baseline report.
    pub new: bool,
}

impl Finding {
    /// How soon it needs someone.
    pub fn severity(&self) -> Severity {
        match (self.kind, self.level.parse::<Level>()) {
            (Kind::Overexposure, Ok(level)) => FindingKind::Overexposure(level).severity(),
            // A level this version does not know yet is still an overexposure.
            (Kind::Overexposure, Err(_)) => Severity::Soon,
            _ => Severity::Check,
        }
    }

    /// Dose over threshold, for ordering.
    pub fn ratio(&self) -> f64 {
        match (self.value_msv, self.threshold_msv) {
            (Some(v), Some(t)) if t > 0.0 => v / t,
            _ => 0.0,
        }
    }

    /// The period as `01/06/2025 → 31/05/2026` (French) or `2025-06-01 → 2026-05-31`.
    pub fn period(&self, lang: Lang) -> String {
        lang.period(self.start, self.end)
    }

    /// Short name of what was found.
    pub fn title(&self, lang: Lang) -> String {
        let q = match (self.quantity.as_deref(), self.body_site.as_deref()) {
            (Some(q), Some(site)) if q != "Hp10" && site != "whole_body" && !site.is_empty() => {
                format!("{} ({})", lang.quantity(q), lang.site(site))
            }
            (Some(q), _) => lang.quantity(q).to_string(),
            (None, _) => "Dose".to_string(),
        };
        let (fr, en): (String, String) = match (self.kind, self.level.as_str()) {
            (Kind::Overexposure, "limit") => {
                (format!("{q} : au-delà de la limite annuelle"), format!("{q}: over the annual limit"))
            }
            (Kind::Overexposure, "esr") => (
                format!("{q} : un résultat ≥ ¼ de la limite annuelle"),
                format!("{q}: single result ≥ ¼ of the annual limit"),
            ),
            (Kind::Overexposure, "investigation") => {
                (format!("{q} : au-delà du niveau d'investigation"), format!("{q}: above the investigation level"))
            }
            (Kind::Overexposure, "pregnancy") => (
                "Dose depuis la déclaration de grossesse au-delà de 1 mSv".into(),
                "Dose since the declared pregnancy above 1 mSv".into(),
            ),
            (Kind::Overexposure, "projected") => (
                format!("{q} : dépassement de la limite projeté sous 12 mois"),
                format!("{q}: projected to exceed the limit within 12 months"),
            ),
            (Kind::Overexposure, "pregnancy_warning") => (
                "Dose depuis la déclaration de grossesse à la moitié de la limite (alerte précoce)".into(),
                "Dose since the declared pregnancy at half the limit (early warning)".into(),
            ),
            (Kind::Overexposure, "classification") => (
                format!("{q} : au-delà de ce que permet la catégorie du travailleur (critère de déclaration 1a)"),
                format!("{q}: above what the worker's category allows (declaration criterion 1a)"),
            ),
            (Kind::Overexposure, "lens_estimate") => (
                format!("{q} : estimé sans dosimètre cristallin, au-delà du niveau d'investigation"),
                format!("{q}: estimated without an eye-lens dosimeter, above the investigation level"),
            ),
            (Kind::Overexposure, other) => (format!("{q} : {other}"), format!("{q}: {other}")),
            (Kind::MissingBadge, "not_returned") => {
                ("Dosimètre non retourné, perdu ou endommagé".into(), "Badge not returned, lost or damaged".into())
            }
            (Kind::MissingBadge, "zero_while_peers_exposed") => (
                "Résultats nuls répétés alors que les pairs sont exposés".into(),
                "Repeated zero results while peers are exposed".into(),
            ),
            (Kind::MissingBadge, "procedure_without_dosimeter") => (
                "Présent en radioscopie sans dosimètre opérationnel".into(),
                "At fluoroscopy procedures without an operational dosimeter".into(),
            ),
            (Kind::MissingBadge, "no_lens_dosimeter") => (
                "L'activité appelle un dosimètre cristallin ; aucun n'est porté".into(),
                "Workload calls for an eye-lens dosimeter; none worn".into(),
            ),
            (Kind::MissingBadge, "no_extremity_dosimeter") => (
                "L'activité appelle un dosimètre d'extrémités (bague) ; aucun n'est porté".into(),
                "Workload calls for an extremity (ring) dosimeter; none worn".into(),
            ),
            (Kind::MissingBadge, other) => (format!("Dosimètre manquant : {other}"), format!("Missing badge: {other}")),
            (Kind::Heterogeneity, "peer_outlier") => {
                (format!("{q} : dose par acte éloignée des pairs"), format!("{q}: dose per workload far from peers"))
            }
            (Kind::Heterogeneity, "passive_operational_mismatch") => (
                format!("{q} : dosimétries passive et opérationnelle en désaccord"),
                format!("{q}: passive and operational doses disagree"),
            ),
            (Kind::Heterogeneity, other) => (format!("{q} : {other}"), format!("{q}: {other}")),
        };
        match lang {
            Lang::Fr => fr,
            Lang::En => en,
        }
    }

    /// One line with the numbers that justify the finding.
    pub fn numbers(&self, lang: Lang) -> String {
        let v = self.value_msv.map(|v| lang.msv(v));
        let t = self.threshold_msv.map(|t| lang.msv(t));
        let pct = if self.ratio() > 0.0 {
            format!(" ({} {})", lang.pct(self.ratio()), lang.pick("de ce seuil", "of it"))
        } else {
            String::new()
        };
        let l = |fr: String, en: String| if lang == Lang::Fr { fr } else { en };
        match (self.kind, self.level.as_str(), v, t) {
            (Kind::Overexposure, "limit" | "investigation", Some(v), Some(t)) => {
                let apprentice = self.population.as_deref() == Some("apprentice");
                let what = match (self.level.as_str(), apprentice) {
                    ("limit", false) => lang.pick("limite", "limit"),
                    ("limit", true) => lang.pick("limite apprenti", "apprentice limit"),
                    (_, false) => lang.pick("niveau d'investigation", "investigation level"),
                    (_, true) => lang.pick("niveau d'investigation apprenti", "apprentice investigation level"),
                };
                let mut s = l(
                    format!("{v} mSv sur 12 mois, {what} {t} mSv{pct}"),
                    format!("{v} mSv over 12 months, {what} {t} mSv{pct}"),
                );
                if let (Some(n), Some(peak)) = (self.exceeding_windows.filter(|n| *n > 1), self.peak_msv) {
                    let until = self.episode_end.map(|e| lang.day(e));
                    let peak = lang.msv(peak);
                    s.push_str(&match (lang, until) {
                        (Lang::Fr, Some(u)) => format!(" ; dépassé {n} mois consécutifs jusqu'au {u}, maximum {peak}"),
                        (Lang::Fr, None) => format!(" ; dépassé {n} mois consécutifs, maximum {peak}"),
                        (Lang::En, Some(u)) => format!("; over for {n} consecutive months until {u}, peak {peak}"),
                        (Lang::En, None) => format!("; over for {n} consecutive months, peak {peak}"),
                    });
                }
                s
            }
            (Kind::Overexposure, "esr", Some(v), Some(t)) => l(
                format!("{v} mSv en un seul résultat ; critère de déclaration {t} mSv"),
                format!("{v} mSv in one result; declaration criterion {t} mSv"),
            ),
            (Kind::Overexposure, "pregnancy", Some(v), Some(t)) => l(
                format!("{v} mSv depuis la déclaration ; limite pour l'enfant à naître {t} mSv"),
                format!("{v} mSv since the declaration; limit for the unborn child {t} mSv"),
            ),
            (Kind::Overexposure, "projected", Some(v), Some(t)) => l(
                format!("{v} mSv sur 12 mois au rythme récent ; limite {t} mSv"),
                format!("{v} mSv over 12 months at the recent rate; limit {t} mSv"),
            ),
            (Kind::Heterogeneity, _, Some(v), Some(t)) => {
                let score = self.score.map(|s| format!(", score {}", lang.num(s, 1))).unwrap_or_default();
                l(
                    format!("{v} mSv pour une référence de {t} mSv{score}"),
                    format!("{v} mSv against a reference of {t} mSv{score}"),
                )
            }
            (_, _, Some(v), Some(t)) => l(format!("{v} mSv ; seuil {t} mSv"), format!("{v} mSv; threshold {t} mSv")),
            (_, _, Some(v), None) => format!("{v} mSv"),
            _ => String::new(),
        }
    }

    /// What the advisor should do about it.
    pub fn action(&self, lang: Lang) -> &'static str {
        let (fr, en) = match (self.kind, self.level.as_str()) {
            (Kind::Overexposure, "limit") => (
                "Déclarer l'ESR (guide n° 11, critère 1) ; informer le médecin du travail ; suspendre l'exposition en attendant l'analyse.",
                "Declare an ESR (guide 11, criterion 1); inform the occupational physician; stop exposed work pending review.",
            ),
            (Kind::Overexposure, "pregnancy") => (
                "Informer le médecin du travail aujourd'hui ; adapter le poste (enfant à naître : 1 mSv).",
                "Inform the occupational physician today; adapt the workstation (unborn child: 1 mSv).",
            ),
            (Kind::Overexposure, "esr") => (
                "Analyser ce résultat avec le travailleur ; déclarer l'ESR (critère 1b) s'il est confirmé.",
                "Investigate this result with the worker; declare the ESR (criterion 1b) if confirmed.",
            ),
            (Kind::Overexposure, "projected") => (
                "Revoir la charge de travail et les protections (lunettes plombées, écran plafonnier, bagues) avant d'atteindre la limite.",
                "Review workload and protection (lead glasses, ceiling screen, rings) before the limit is reached.",
            ),
            (Kind::Overexposure, "investigation") => {
                ("Analyser l'exposition et consigner l'analyse.", "Investigate the exposure and record the analysis.")
            }
            (Kind::Overexposure, "pregnancy_warning") => (
                "Informer le médecin du travail ; adapter le poste avant d'atteindre la limite de 1 mSv.",
                "Inform the occupational physician; adapt the workstation before the 1 mSv limit is reached.",
            ),
            (Kind::Overexposure, "classification") => (
                "Analyser comme un possible événement significatif (guide n° 11, critère 1a) ; revoir le classement du travailleur.",
                "Investigate as a possible significant event (guide 11, criterion 1a); review the worker's classification.",
            ),
            (Kind::Overexposure, "lens_estimate") => (
                "Doter le travailleur d'un dosimètre cristallin ; revoir la protection des yeux (lunettes plombées, écran plafonnier).",
                "Give the worker an eye-lens dosimeter; review eye protection (lead glasses, ceiling screen).",
            ),
            (Kind::Overexposure, _) => ("Analyser l'exposition.", "Review the exposure."),
            (Kind::MissingBadge, "not_returned") => (
                "Récupérer le dosimètre ; s'il est perdu, le médecin du travail attribue une dose.",
                "Get the badge back; if lost, the physician assigns a dose.",
            ),
            (Kind::MissingBadge, "no_lens_dosimeter" | "no_extremity_dosimeter") => (
                "Fournir le dosimètre que l'activité appelle, ou consigner pourquoi il n'est pas nécessaire.",
                "Provide the dosimeter the workload calls for, or record why it is not needed.",
            ),
            (Kind::MissingBadge, _) => (
                "Vérifier avec le travailleur le port des dosimètres.",
                "Check with the worker that the dosimeters are worn.",
            ),
            (Kind::Heterogeneity, _) => (
                "Analyser l'écart ; consigner une explication (alara explain).",
                "Analyse the difference; record an explanation (alara explain).",
            ),
        };
        lang.pick(fr, en)
    }
}

fn key_date(t: Option<i64>) -> String {
    t.map(iso_date).unwrap_or_default()
}

/// Folds the rows of the three detection views into findings (without `new`, which needs the
/// baseline). Overexposure windows of one worker, quantity and level become one finding, the
/// worst window; `esr` results stay one per result, since each may be its own declaration.
pub fn findings(tables: &BTreeMap<String, Table>) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(t) = tables.get("overexposure") {
        let mut folded: BTreeMap<String, Finding> = BTreeMap::new();
        for r in t.iter() {
            let level = r.str("level");
            let worker_id = r.str("worker_id");
            let quantity = r.text("quantity");
            let body_site = r.text("body_site");
            let start = r.time("window_start");
            let what = [quantity.clone().unwrap_or_default(), body_site.clone().unwrap_or_default()].join("|");
            let key = if level == "esr" {
                format!("overexposure|esr|{worker_id}|{what}|{}", key_date(start))
            } else {
                format!("overexposure|{level}|{worker_id}|{what}")
            };
            let f = Finding {
                kind: Kind::Overexposure,
                level,
                worker_id,
                quantity,
                body_site,
                start,
                end: r.time("window_end"),
                value_msv: r.float("dose_msv"),
                threshold_msv: r.float("threshold_msv"),
                score: None,
                evidence: r.text("evidence"),
                population: r.text("population"),
                peak_msv: r.float("peak_dose_msv"),
                exceeding_windows: r.int("exceeding_windows"),
                episode_end: r.time("episode_end"),
                rows: 1,
                key: key.clone(),
                new: false,
            };
            match folded.get_mut(&key) {
                None => {
                    folded.insert(key, f);
                }
                Some(cur) => {
                    let rows = cur.rows + 1;
                    let better = f.value_msv.unwrap_or(0.0) > cur.value_msv.unwrap_or(0.0)
                        || (f.value_msv == cur.value_msv && f.end > cur.end);
                    if better {
                        *cur = f;
                    }
                    cur.rows = rows;
                }
            }
        }
        out.extend(folded.into_values());
    }
    if let Some(t) = tables.get("missing_badge") {
        for r in t.iter() {
            let worker_id = r.str("worker_id");
            let level = r.str("signal");
            let start = r.time("period_start");
            out.push(Finding {
                kind: Kind::MissingBadge,
                key: format!("missing_badge|{level}|{worker_id}|{}", key_date(start)),
                level,
                worker_id,
                quantity: r.text("quantity"),
                body_site: None,
                start,
                end: r.time("period_end"),
                value_msv: r.float("value_msv").or(r.float("dose_msv")),
                threshold_msv: r.float("reference_msv"),
                score: r.float("p_value").or(r.float("score")),
                evidence: r.text("evidence"),
                population: None,
                peak_msv: None,
                exceeding_windows: None,
                episode_end: None,
                rows: 1,
                new: false,
            });
        }
    }
    if let Some(t) = tables.get("unexplained_heterogeneity") {
        for r in t.iter() {
            let worker_id = r.str("worker_id");
            let level = r.str("signal");
            let quantity = r.text("quantity");
            let start = r.time("period_start");
            out.push(Finding {
                kind: Kind::Heterogeneity,
                key: format!(
                    "unexplained_heterogeneity|{level}|{worker_id}|{}|{}",
                    quantity.clone().unwrap_or_default(),
                    key_date(start)
                ),
                level,
                worker_id,
                quantity,
                body_site: None,
                start,
                end: r.time("period_end"),
                value_msv: r.float("dose_msv"),
                threshold_msv: r.float("reference_msv"),
                score: r.float("score"),
                evidence: r.text("evidence"),
                population: None,
                peak_msv: None,
                exceeding_windows: None,
                episode_end: None,
                rows: 1,
                new: false,
            });
        }
    }
    // Same key twice (two rows of a view for the same period): keep one, deterministically.
    out.sort_by(|a, b| a.key.cmp(&b.key).then(b.ratio().total_cmp(&a.ratio())));
    out.dedup_by(|b, a| a.key == b.key);
    out
}

/// The identities of the findings of a set of tables: what a later report compares with.
pub fn finding_keys(tables: &BTreeMap<String, Table>) -> Vec<String> {
    let keys: BTreeSet<String> = findings(tables).into_iter().map(|f| f.key).collect();
    keys.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alara_model::Signal;

    fn finding(kind: Kind, level: &str, quantity: &str) -> Finding {
        Finding {
            kind,
            level: level.to_string(),
            worker_id: "W1".into(),
            quantity: Some(quantity.into()),
            body_site: Some("whole_body".into()),
            start: None,
            end: None,
            value_msv: Some(7.0),
            threshold_msv: Some(6.0),
            score: None,
            evidence: None,
            population: None,
            peak_msv: None,
            exceeding_windows: None,
            episode_end: None,
            rows: 1,
            key: String::new(),
            new: false,
        }
    }

    #[test]
    fn every_level_and_signal_has_words_not_its_code() {
        // Every level a detection view reports (alarm is an alert's level only) and the pregnancy
        // warning, which the thresholds table adds; every signal of the two other views.
        let levels = Level::ALL.iter().filter(|l| **l != Level::Alarm).map(|l| l.as_str()).chain(["pregnancy_warning"]);
        let mut cases: Vec<Finding> = levels.map(|l| finding(Kind::Overexposure, l, "Hp3")).collect();
        for s in Signal::ALL {
            let kind = match s {
                Signal::PeerOutlier | Signal::PassiveOperationalMismatch => Kind::Heterogeneity,
                _ => Kind::MissingBadge,
            };
            cases.push(finding(kind, s.as_str(), "Hp10"));
        }
        for f in cases {
            for lang in [Lang::Fr, Lang::En] {
                let (title, action) = (f.title(lang), f.action(lang));
                // The fallbacks print the code after a colon (`Eye lens Hp(3): classification`).
                assert!(!title.ends_with(&format!(": {}", f.level)), "`{}` shown as its code: {title}", f.level);
                assert!(!title.ends_with(&format!(" : {}", f.level)), "`{}` shown as its code: {title}", f.level);
                assert!(!title.contains('_'), "{title}");
                let fallback = lang.pick("Analyser l'exposition.", "Review the exposure.");
                assert_ne!(action, fallback, "`{}` has no action of its own in {lang:?}", f.level);
            }
        }
    }
}
