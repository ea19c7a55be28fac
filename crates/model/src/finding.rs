//! What the detections and the alert rules say about a worker, as typed values: the
//! overexposure [`Level`]s, the wearing and consistency [`Signal`]s, the [`BodySite`] a dose
//! applies to, how soon it needs someone ([`Severity`]), where an alert stands
//! ([`AlertState`]), and the [`Finding`] that carries them from `alara-detect` to the report.
//!
//! The spellings are the contract's (section 3, "Added values" included): SQL views write them,
//! [`std::str::FromStr`] reads them back case-insensitively, `Display` writes the canonical one.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::enums::{Laterality, Position, Quantity, UnknownValue};

vocabulary! {
    /// The level of an overexposure or of an alert. The order is the severity: an alert of a
    /// higher level leads a group delivered together and supersedes lower ones.
    Level, "level" {
        /// An operational dosimeter entry above the local alarm level (alerts only).
        Alarm => "alarm",
        /// The recent dose rate would cross the limit within the next 12 months.
        Projected => "projected",
        /// A 12-month Hp3 estimated from surrogate dosimeters above the investigation level or
        /// the limit, when no lens result exists; never part of the legal record.
        LensEstimate => "lens_estimate",
        /// A 12-month dose above what the worker's category allows (ASN guide 11 criterion 1a).
        Classification => "classification",
        /// A 12-month sum above the investigation level.
        Investigation => "investigation",
        /// One result at or above a quarter of the annual limit: a significant event to declare.
        Esr => "esr",
        /// More than the unborn child's limit since a declared pregnancy.
        Pregnancy => "pregnancy",
        /// A sum over 12 consecutive months above the annual limit.
        Limit => "limit",
    }
}

vocabulary! {
    /// What `missing_badge` and `unexplained_heterogeneity` report.
    Signal, "signal" {
        /// Lost, not returned or damaged badges.
        NotReturned => "not_returned",
        /// Repeated below-threshold results while exposed peers share the role and department.
        ZeroWhilePeersExposed => "zero_while_peers_exposed",
        /// Present at fluoroscopy procedures with no operational reading.
        ProcedureWithoutDosimeter => "procedure_without_dosimeter",
        /// Role, department and workload call for an eye-lens dosimeter; none is worn.
        NoLensDosimeter => "no_lens_dosimeter",
        /// Role, department and workload call for an extremity dosimeter; none is worn.
        NoExtremityDosimeter => "no_extremity_dosimeter",
        /// Dose per unit of workload far from peers with the same role and department.
        PeerOutlier => "peer_outlier",
        /// Passive badge and operational dosimeter disagree beyond tolerance over one period.
        PassiveOperationalMismatch => "passive_operational_mismatch",
    }
}

vocabulary! {
    /// Where an alert stands, as `alara alerts --state` filters it and the `alerts` view says.
    AlertState, "state" {
        /// A hook still owes it, not yet attempted to exhaustion.
        Pending => "pending",
        /// Every hook took it.
        Delivered => "delivered",
        /// A hook's last attempts failed (still owed).
        Failed => "failed",
        /// A person recorded handling it.
        Acknowledged => "acknowledged",
        /// Corrected results no longer support it (a withdrawal notice was sent).
        Withdrawn => "withdrawn",
        /// No hook wanted it.
        Raised => "raised",
    }
}

/// How soon a finding needs someone. The order is the urgency, most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// A limit is exceeded or a declaration is due: act today.
    Act,
    /// Heading for a limit or above an investigation level: act this week.
    Soon,
    /// A wearing or consistency question to check.
    Check,
}

/// Which detection view a finding comes from, with its level or signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingKind {
    /// A row of `overexposure`.
    Overexposure(Level),
    /// A row of `missing_badge`.
    MissingBadge(Signal),
    /// A row of `unexplained_heterogeneity`.
    Heterogeneity(Signal),
}

impl FindingKind {
    /// The view the finding comes from.
    pub fn view(self) -> &'static str {
        match self {
            FindingKind::Overexposure(_) => "overexposure",
            FindingKind::MissingBadge(_) => "missing_badge",
            FindingKind::Heterogeneity(_) => "unexplained_heterogeneity",
        }
    }

    /// The `level` (overexposure) or `signal` (the other views) spelling.
    pub fn level_or_signal(self) -> &'static str {
        match self {
            FindingKind::Overexposure(l) => l.as_str(),
            FindingKind::MissingBadge(s) | FindingKind::Heterogeneity(s) => s.as_str(),
        }
    }

    /// How soon it needs someone: a limit, a pregnancy or a declaration criterion today, any
    /// other overexposure this week, wearing and consistency questions when checked.
    pub fn severity(self) -> Severity {
        match self {
            FindingKind::Overexposure(Level::Limit | Level::Pregnancy | Level::Esr) => Severity::Act,
            FindingKind::Overexposure(_) => Severity::Soon,
            _ => Severity::Check,
        }
    }
}

/// The part of the body a dose applies to: the whole body for Hp10; for Hp3 and Hp007 the
/// position and side of the dosimeter, since the lens and extremity limits apply to each eye
/// and each hand. Written `whole_body` or `position/laterality` (`unspecified` for a missing
/// part), the spelling of the `body_site` columns and of alert ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BodySite {
    /// Hp10: compared with the effective-dose limit.
    WholeBody,
    /// One eye or one hand (either part may be unknown).
    Local {
        /// Where the dosimeter was worn.
        position: Option<Position>,
        /// Which side.
        laterality: Option<Laterality>,
    },
}

impl BodySite {
    /// The site a result of `quantity` applies to.
    pub fn of(quantity: Quantity, position: Option<Position>, laterality: Option<Laterality>) -> BodySite {
        match quantity {
            Quantity::Hp10 => BodySite::WholeBody,
            Quantity::Hp3 | Quantity::Hp007 => BodySite::Local { position, laterality },
        }
    }
}

impl fmt::Display for BodySite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodySite::WholeBody => f.write_str("whole_body"),
            BodySite::Local { position, laterality } => write!(
                f,
                "{}/{}",
                position.map_or("unspecified", Position::as_str),
                laterality.map_or("unspecified", Laterality::as_str)
            ),
        }
    }
}

impl FromStr for BodySite {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("whole_body") {
            return Ok(BodySite::WholeBody);
        }
        let unknown = || UnknownValue {
            what: "body_site",
            value: t.chars().take(40).collect(),
            allowed: "whole_body, position/laterality".into(),
        };
        let (p, l) = t.split_once('/').ok_or_else(unknown)?;
        fn part(x: &str) -> Option<&str> {
            (!x.eq_ignore_ascii_case("unspecified")).then_some(x)
        }
        Ok(BodySite::Local {
            position: part(p).map(str::parse).transpose().map_err(|_| unknown())?,
            laterality: part(l).map(str::parse).transpose().map_err(|_| unknown())?,
        })
    }
}

/// A period: a wearing period, 12 calendar months (end exclusive: the first instant of the
/// next month), or a pregnancy (open end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Window {
    /// First instant.
    pub start: DateTime<Utc>,
    /// End of the period; `None` while it is open (and for alerts of earlier versions).
    pub end: Option<DateTime<Utc>>,
}

/// What a finding's dose is compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum Reference {
    /// A regulatory or configured level of a population (`adult`, `apprentice`, `pregnancy`).
    Threshold {
        /// The level, mSv.
        msv: f64,
        /// Whose level it is, when the view says.
        population: Option<String>,
    },
    /// What comparable evidence predicts: the peers' median, the operational dosimeter's sum.
    Expected {
        /// The expectation, mSv.
        msv: f64,
    },
}

impl Reference {
    /// The number compared with, mSv.
    pub fn msv(&self) -> f64 {
        match self {
            Reference::Threshold { msv, .. } | Reference::Expected { msv } => *msv,
        }
    }
}

/// The numbers behind a finding, as the views compute them; the sentences a person reads are
/// rendered from these, never parsed back from text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evidence {
    /// How many results, periods or procedures support it.
    pub count: Option<i64>,
    /// Robust z score or log2 ratio (heterogeneity).
    pub score: Option<f64>,
    /// Probability of what was seen under the peers' distribution.
    pub p_value: Option<f64>,
    /// Highest dose of the episode, when a 12-month window stayed over for several months.
    pub peak_msv: Option<f64>,
    /// Consecutive 12-month windows over the level in the episode.
    pub exceeding_windows: Option<i64>,
    /// End of the episode's last window.
    pub episode_end: Option<DateTime<Utc>>,
}

/// One finding of a detection view about one worker.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Pseudonymous worker id.
    pub worker_id: String,
    /// The view, with its level or signal.
    pub kind: FindingKind,
    /// The quantity, when the view has one.
    pub quantity: Option<Quantity>,
    /// The body site, when the view has one.
    pub body_site: Option<BodySite>,
    /// The window or period concerned.
    pub window: Window,
    /// The dose concerned (a 12-month sum, one result, the dose since a declaration…), mSv.
    pub dose_msv: Option<f64>,
    /// What the dose is compared with.
    pub reference: Option<Reference>,
    /// The numbers that justify it.
    pub evidence: Evidence,
}

impl Finding {
    /// How soon it needs someone.
    pub fn severity(&self) -> Severity {
        self.kind.severity()
    }

    /// Dose over reference, for ordering (0 when either is missing).
    pub fn ratio(&self) -> f64 {
        match (self.dose_msv, self.reference.as_ref().map(Reference::msv)) {
            (Some(v), Some(t)) if t > 0.0 => v / t,
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ordered_by_severity_and_keep_their_spelling() {
        assert!(
            Level::Limit > Level::Pregnancy && Level::Esr > Level::Investigation && Level::Investigation > Level::Alarm
        );
        assert_eq!("LENS_ESTIMATE".parse::<Level>().unwrap(), Level::LensEstimate);
        assert_eq!(serde_json::to_value(Level::Classification).unwrap(), "classification");
        assert_eq!(Signal::NoExtremityDosimeter.to_string(), "no_extremity_dosimeter");
    }

    #[test]
    fn body_sites_read_back_what_they_write() {
        for site in [
            BodySite::WholeBody,
            BodySite::of(Quantity::Hp3, Some(Position::Eye), Some(Laterality::Left)),
            BodySite::of(Quantity::Hp007, None, Some(Laterality::Right)),
            BodySite::of(Quantity::Hp007, None, None),
        ] {
            assert_eq!(site.to_string().parse::<BodySite>().unwrap(), site);
        }
        assert_eq!(BodySite::of(Quantity::Hp007, Some(Position::Finger), None).to_string(), "finger/unspecified");
        assert!("elbow/left".parse::<BodySite>().is_err());
    }
}
