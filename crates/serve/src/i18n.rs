//! French (the default) and English: one catalog of every string the pages show, so a page in
//! one language never leaks words of the other. Data (worker ids, evidence written by the
//! detection views, departments) are shown as they are.

use alara_report::model::{Finding, Kind, Severity, SeverityText as _};

/// The languages, shared with the report (`alara report --lang`).
pub use alara_report::i18n::Lang;

/// Translations for one language, as the templates use them (`tr.t("key")`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tr(pub Lang);

impl Tr {
    /// The ISO code of the language.
    pub fn code(&self) -> &'static str {
        self.0.code()
    }

    /// The string of `key`, from the pages' catalog or the domain's vocabulary shared with the
    /// report; the key itself when neither has it (a test checks it never happens for the keys
    /// the code uses).
    pub fn t<'a>(&self, key: &'a str) -> &'a str {
        match lookup(key) {
            Some((fr, en)) => self.0.pick(fr, en),
            None => key,
        }
    }

    /// A number with the language's decimal separator.
    pub fn num(&self, v: f64, decimals: usize) -> String {
        self.0.num(v, decimals)
    }

    /// A dose in mSv, 2 decimals.
    pub fn msv(&self, v: f64) -> String {
        format!("{} mSv", self.0.msv(v))
    }

    /// The severity label.
    pub fn severity(&self, s: Severity) -> &'static str {
        s.label(self.0)
    }

    /// What a finding is, in words.
    pub fn finding_title(&self, f: &Finding) -> String {
        let what = match (f.kind, f.level.as_str()) {
            (Kind::Overexposure, l) => self.level(l).to_string(),
            (_, s) => self.signal(s).to_string(),
        };
        let colon = self.0.pick(" : ", ": ");
        match (&f.quantity, &f.body_site) {
            (Some(q), Some(site)) if q != "Hp10" && !site.is_empty() && site != "whole_body" => {
                format!("{} ({}){colon}{what}", self.quantity(q), self.0.site(site))
            }
            (Some(q), _) => format!("{}{colon}{what}", self.quantity(q)),
            (None, _) => what,
        }
    }

    /// The numbers of a finding: dose, against what.
    pub fn finding_numbers(&self, f: &Finding) -> String {
        let against = if f.kind == Kind::Heterogeneity { "col.reference" } else { "col.threshold" };
        match (f.value_msv, f.threshold_msv) {
            (Some(v), Some(t)) => format!("{} · {} {}", self.msv(v), self.t(against), self.msv(t)),
            (Some(v), None) => self.msv(v),
            _ => String::new(),
        }
    }

    /// An overexposure level.
    pub fn level<'a>(&self, level: &'a str) -> &'a str {
        self.0.level(level)
    }

    /// A missing-badge or heterogeneity signal.
    pub fn signal<'a>(&self, signal: &'a str) -> &'a str {
        self.0.signal(signal)
    }

    /// A quantity's name.
    pub fn quantity<'a>(&self, q: &'a str) -> &'a str {
        self.0.quantity(q)
    }
}

/// The pages' catalog, then the domain's vocabulary: key → (français, English).
fn lookup(key: &str) -> Option<(&'static str, &'static str)> {
    CATALOG.iter().find(|(k, _, _)| *k == key).map(|(_, fr, en)| (*fr, *en)).or_else(|| alara_report::i18n::lookup(key))
}

/// Every string of the pages but the domain's words (`alara_report::i18n::VOCABULARY`).
pub const CATALOG: &[(&str, &str, &str)] = &[
    ("nav.today", "Aujourd'hui", "Today"),
    ("nav.alerts", "Alertes", "Alerts"),
    ("nav.findings", "Constats", "Findings"),
    ("nav.departments", "Services", "Departments"),
    ("nav.quality", "Qualité des données", "Data quality"),
    ("nav.reports", "Rapports", "Reports"),
    ("nav.users", "Utilisateurs", "Users"),
    ("logout", "Se déconnecter", "Log out"),
    ("footer", "alara · données de la dosimétrie au", "alara · dosimetry data as of"),
    ("back", "Retour à l'accueil", "Back to the start page"),
    ("role.viewer", "lecture", "viewer"),
    ("role.advisor", "conseiller en radioprotection", "radiation protection advisor"),
    ("role.admin", "administrateur", "administrator"),
    ("login.title", "Connexion", "Log in"),
    (
        "login.lead",
        "Données de santé : accès réservé aux personnes habilitées.",
        "Health data: authorised people only.",
    ),
    ("login.name", "Identifiant", "User name"),
    ("login.password", "Mot de passe", "Password"),
    ("login.submit", "Se connecter", "Log in"),
    ("login.failed", "Identifiant ou mot de passe incorrect.", "Wrong user name or password."),
    (
        "login.limited",
        "Trop de tentatives : réessayez dans quelques minutes.",
        "Too many attempts: try again in a few minutes.",
    ),
    (
        "login.no_users",
        "Aucun utilisateur : créez-en un avec « alara user add NOM --role admin ».",
        "No user yet: create one with `alara user add NAME --role admin`.",
    ),
    (
        "csrf",
        "Formulaire expiré ou invalide (jeton CSRF) : rechargez la page.",
        "Expired or invalid form (CSRF token): reload the page.",
    ),
    ("forbidden", "Votre rôle ne permet pas cette action.", "Your role does not allow this."),
    ("not_found", "Page introuvable.", "Page not found."),
    ("error", "Erreur", "Error"),
    ("failed", "L'opération a échoué : ", "It failed: "),
    ("none", "Aucun.", "None."),
    ("unavailable", "Sections indisponibles", "Unavailable sections"),
    ("today.title", "Aujourd'hui", "Today"),
    (
        "today.lead",
        "Ce qui demande votre attention, calculé à l'instant à partir du lac de données.",
        "What needs you, computed just now from the lake.",
    ),
    ("today.attention", "À traiter", "Needs attention"),
    ("today.nothing", "Rien à signaler : aucun constat ouvert.", "Nothing to report: no open finding."),
    ("today.workers", "travailleurs suivis", "workers monitored"),
    ("today.attention_count", "travailleurs à voir", "workers needing attention"),
    ("today.open_alerts", "alertes ouvertes", "open alerts"),
    ("today.findings", "constats ouverts", "open findings"),
    ("alerts.title", "Alertes", "Alerts"),
    (
        "alerts.lead",
        "Alertes levées par les règles en continu. Acquitter enregistre votre nom, l'heure et votre note.",
        "Alerts raised by the streaming rules. Acknowledging records your name, the time and your note.",
    ),
    ("alerts.open", "Ouvertes", "Open"),
    ("alerts.failed", "Non distribuées (échec d'envoi)", "Not delivered (sending failed)"),
    ("alerts.acknowledged", "Acquittées", "Acknowledged"),
    ("alerts.acked_by", "acquittée par", "acknowledged by"),
    ("alerts.note", "note (facultative)", "note (optional)"),
    ("alerts.ack", "Acquitter", "Acknowledge"),
    ("alerts.done", "Alerte acquittée : ", "Alert acknowledged: "),
    ("col.raised", "Levée le", "Raised"),
    ("col.level", "Niveau", "Level"),
    ("col.worker", "Travailleur", "Worker"),
    ("col.department", "Service", "Department"),
    ("col.dose", "Dose", "Dose"),
    ("col.threshold", "seuil", "threshold"),
    ("col.reference", "référence", "reference"),
    ("col.summary", "Résumé", "Summary"),
    ("col.state", "État", "State"),
    ("col.finding", "Constat", "Finding"),
    ("col.period", "Période", "Period"),
    ("col.evidence", "Éléments", "Evidence"),
    ("col.quantity", "Grandeur", "Quantity"),
    ("col.site", "Localisation", "Body site"),
    ("col.last_period", "Dernière période", "Last period"),
    ("col.ytd", "Année en cours", "Year to date"),
    ("col.rolling", "12 mois glissants", "Rolling 12 months"),
    ("col.career", "Carrière", "Career"),
    ("col.limit", "Limite", "Limit"),
    ("col.missing", "Résultats manquants (12 mois)", "Missing results (12 months)"),
    ("col.status", "Statut", "Status"),
    ("col.start", "Début", "Start"),
    ("col.end", "Fin", "End"),
    ("col.reason", "Motif", "Reason"),
    ("col.by", "Par", "By"),
    ("col.at", "Le", "At"),
    ("col.role", "Profession", "Role"),
    ("col.workers", "Travailleurs", "Workers"),
    ("col.mean", "Moyenne 12 mois", "12-month mean"),
    ("col.max", "Maximum 12 mois", "12-month maximum"),
    ("col.total", "Total 12 mois", "12-month total"),
    ("col.issued", "Dosimètres émis", "Badges issued"),
    ("col.read", "Lus", "Read"),
    ("col.not_returned", "Non retournés", "Not returned"),
    ("col.return_rate", "Taux de retour", "Return rate"),
    ("col.wearing_rate", "Port en procédure", "Worn at procedures"),
    ("col.band", "Appréciation", "Band"),
    ("col.date", "Date", "Date"),
    ("col.files", "Fichiers", "Files"),
    ("findings.title", "Constats", "Findings"),
    (
        "findings.lead",
        "Chaque dépassement, dosimètre manquant et hétérogénéité, avec ses éléments. Une explication retire un constat de dosimètre manquant ou d'hétérogénéité des constats ouverts ; un dépassement reste un fait.",
        "Every overexposure, missing badge and heterogeneity with its evidence. An explanation moves a missing-badge or heterogeneity finding out of the open ones; an overexposure stays a fact.",
    ),
    ("findings.overexposure", "Dépassements", "Overexposures"),
    ("findings.missing_badge", "Dosimètres manquants", "Missing badges"),
    ("findings.heterogeneity", "Hétérogénéités inexpliquées", "Unexplained heterogeneity"),
    ("findings.explain", "Expliquer", "Explain"),
    ("findings.reason", "Pourquoi ce constat est compris", "Why this finding is understood"),
    ("findings.record", "Enregistrer l'explication", "Record the explanation"),
    ("findings.not_explainable", "un dépassement ne s'explique pas", "an overexposure cannot be explained away"),
    ("findings.explained", "Expliqués", "Explained"),
    ("findings.done", "Explication enregistrée : ", "Explanation recorded: "),
    ("worker.title", "Travailleur", "Worker"),
    ("worker.statement", "Relevé de dose", "Dose statement"),
    (
        "worker.statement_text",
        "Dose légale (dosimétrie passive) : un résultat sous le seuil compte 0 ; un résultat manquant n'est jamais compté 0.",
        "Legal dose (passive dosimetry): a result below the threshold counts 0; a missing result never counts 0.",
    ),
    (
        "worker.chart",
        "12 mois glissants face à la limite et au niveau d'investigation",
        "Rolling 12 months against the limit and the investigation level",
    ),
    ("worker.findings", "Constats", "Findings"),
    ("worker.alerts", "Alertes", "Alerts"),
    ("worker.readings", "Résultats (dossier légal)", "Results (legal record)"),
    ("worker.unknown", "Aucune donnée pour ce travailleur.", "No data for this worker."),
    ("worker.limit", "limite", "limit"),
    ("worker.investigation", "niveau d'investigation", "investigation level"),
    ("departments.title", "Services", "Departments"),
    (
        "departments.lead",
        "Conformité du port des dosimètres et dose par profession, 12 derniers mois.",
        "Badge-wearing compliance and dose by role, last 12 months.",
    ),
    ("departments.compliance", "Conformité", "Compliance"),
    ("departments.by_role", "Dose corps entier par profession", "Whole-body dose by role"),
    ("quality.title", "Qualité des données", "Data quality"),
    ("quality.lead", "Ce qui manque ou a été refusé à l'entrée.", "What is missing or was refused at the door."),
    ("quality.rejects", "Enregistrements refusés, par motif", "Rejected records by reason"),
    ("quality.late", "Résultats en retard", "Late results"),
    ("quality.missing", "Résultats manquants", "Missing results"),
    ("quality.lag", "Délai d'ingestion", "Ingest lag"),
    ("reports.title", "Rapports", "Reports"),
    ("reports.lead", "Les rapports quotidiens conservés, par date.", "The nightly reports kept, by date."),
    ("reports.none", "Aucun rapport dans ce répertoire.", "No report in this directory."),
    (
        "reports.no_dir",
        "Aucun répertoire de rapports configuré (--reports DIR).",
        "No reports directory configured (--reports DIR).",
    ),
    ("reports.page", "rapport", "report"),
    ("sql.title", "SQL", "SQL"),
    (
        "sql.lead",
        "Requêtes en lecture seule sur les tables et vues du lac (comme « alara sql »). Les 1000 premières lignes s'affichent ; le CSV contient tout.",
        "Read-only queries over the lake's tables and views (like `alara sql`). The first 1000 rows are shown; the CSV has them all.",
    ),
    ("sql.run", "Exécuter", "Run"),
    ("sql.csv", "Télécharger en CSV", "Download as CSV"),
    ("sql.tables", "Tables et vues", "Tables and views"),
    ("sql.rows", "lignes", "rows"),
    ("sql.capped", "lignes affichées sur", "rows shown of"),
    ("users.title", "Utilisateurs", "Users"),
    (
        "users.lead",
        "Les comptes, leur rôle ; mots de passe hachés (Argon2id) dans",
        "Accounts and their role; passwords hashed (Argon2id) in",
    ),
    ("users.role", "Rôle", "Role"),
    ("users.remove", "Supprimer", "Remove"),
    ("users.add", "Ajouter ou modifier", "Add or change"),
    ("users.save", "Enregistrer", "Save"),
    ("users.saved", "Utilisateur enregistré : ", "User saved: "),
    ("users.removed", "Utilisateur supprimé : ", "User removed: "),
    ("users.self", "Vous ne pouvez pas supprimer votre propre compte.", "You cannot remove your own account."),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_both_languages_filled() {
        // With the shared vocabulary: a page key equal to a vocabulary key would shadow it.
        let mut seen = std::collections::BTreeSet::new();
        for (k, fr, en) in CATALOG.iter().chain(alara_report::i18n::VOCABULARY) {
            assert!(seen.insert(*k), "duplicate key {k}");
            assert!(!fr.is_empty() && !en.is_empty(), "{k} lacks a translation");
        }
    }

    #[test]
    fn every_key_used_in_templates_and_code_is_in_the_catalog() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/");
        let mut used = Vec::new();
        for sub in ["templates", "src", "src/pages"] {
            for entry in std::fs::read_dir(format!("{dir}{sub}")).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() || path.ends_with("i18n.rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for part in text.split(".t(\"").skip(1) {
                    if let Some(key) = part.split('"').next() {
                        used.push((key.to_string(), path.display().to_string()));
                    }
                }
                // Column heads given to `Grid::new` (`"col.x"`, `"#col.x"` for numbers).
                for part in text.split("\"col.").skip(1).chain(text.split("\"#col.").skip(1)) {
                    if let Some(key) = part.split('"').next() {
                        used.push((format!("col.{key}"), path.display().to_string()));
                    }
                }
            }
        }
        assert!(used.len() > 30, "the scan found too few keys: {}", used.len());
        for (key, file) in used {
            assert!(lookup(&key).is_some(), "{file} uses `{key}`, missing from the catalog");
        }
    }

    #[test]
    fn every_level_of_the_thresholds_table_has_a_name_in_both_languages() {
        use arrow::array::{Array, StringArray};
        let batch = alara_detect::DetectConfig::default().thresholds_batch();
        let col = batch.column_by_name("level").expect("a level column");
        let levels = col.as_any().downcast_ref::<StringArray>().expect("levels are strings");
        assert!(levels.len() > 5);
        // The views also derive these two from the thresholds (estimated lens, one result).
        let derived = ["lens_estimate", "esr"];
        for level in levels.iter().flatten().chain(derived) {
            for lang in [Lang::Fr, Lang::En] {
                assert_ne!(Tr(lang).level(level), level, "level `{level}` shown raw in {lang:?}");
            }
        }
    }

    #[test]
    fn numbers_follow_the_language() {
        assert_eq!(Tr(Lang::Fr).msv(1.5), "1,50 mSv");
        assert_eq!(Tr(Lang::En).msv(1.5), "1.50 mSv");
    }
}
