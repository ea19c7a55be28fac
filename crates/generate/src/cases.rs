//! The injected known cases: who they are, where in the period they sit, and how each bends the
//! ordinary dose model month by month.
//!
//! Each case lives on its own dedicated worker, created before the ordinary workers, so even a
//! small data set holds every case. Case workers have neutral personal factors (1.0) and no
//! random leave, so their series are exactly the designed ones; the manifest reports the sums
//! actually written.

use alara_model::{Quantity, Role, Status};
use chrono::{Duration, NaiveDate};
use rand::rngs::StdRng;

use crate::calendar::Calendar;
use crate::hospital::Dept;
use crate::rng::uniform;

/// What a detection should report for a case (`expect` in the manifest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// A row of the `overexposure` view at `level_or_signal`.
    Overexposure,
    /// A row of the `missing_badge` view with that `signal`.
    MissingBadge,
    /// A row of the `unexplained_heterogeneity` view with that `signal`.
    UnexplainedHeterogeneity,
    /// A control: no row at `level_or_signal` (at `limit`, `esr` or `pregnancy` when null).
    None,
}

/// The injected cases, one dedicated worker each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum CaseKind {
    LimitHp10Rolling,
    LimitHp3Caen,
    LimitHp007Pitie,
    EsrHp10,
    InvestigationHp10,
    PregnancyHp10,
    ProjectedHp3,
    LimitHp10Apprentice,
    NotReturned,
    ZeroWhilePeersExposed,
    ProcedureWithoutDosimeter,
    PeerOutlierHp10,
    PassiveOperationalMismatch,
    ControlClean1,
    ControlClean2,
    ControlClean3,
    ControlPregnancyLow,
    DuplicateNearLimit,
    CorrectedTypo,
    ControlLensSteady,
    ControlApprenticeLow,
}

/// Hp10 badges of the rolling-window case: 21.60 mSv in 12 months; the two end months are the
/// largest so that a window shifted by one month drops below 20 (only one window exceeds).
pub(crate) const ROLLING_SERIES: [f64; 12] = [1.90, 1.75, 1.80, 1.70, 1.85, 1.80, 1.75, 1.85, 1.80, 1.70, 1.80, 1.90];
/// Lens doses of the Caen-like case, June to May: a marked rise, 20.60 mSv in 12 months.
pub(crate) const CAEN_SERIES: [f64; 12] = [0.90, 1.00, 1.10, 1.20, 1.40, 1.50, 1.70, 1.90, 2.10, 2.40, 2.60, 2.80];
/// Ring doses of the Pitié-like case: six months with hands in the primary beam, 533 mSv, every
/// month below the 125 mSv single-result ESR trigger.
pub(crate) const PITIE_SERIES: [f64; 6] = [82.0, 91.5, 88.0, 95.5, 86.0, 90.0];
/// Lens doses of the projected case over the last three months.
pub(crate) const PROJECTED_TAIL: [f64; 3] = [2.20, 2.60, 3.00];
/// The single Hp10 result of the ESR case (≥ 5 mSv, a quarter of the 20 mSv limit; < 6 so the
/// 12-month sum stays under the investigation level).
pub(crate) const ESR_DOSE: f64 = 5.60;
/// Hp10 per unit of workload of the peer-outlier case, relative to the post: ×10. With ordinary
/// workers spread by a persistent factor of sigma 0.5 (roster::PERSONAL_SIGMA), ×5 would sit at
/// 3.2 sigma, inside what a department of ordinary operators produces; ×10 (a badge worn over
/// the apron, no ceiling shield, no apron) is beyond it.
pub(crate) const PEER_OUTLIER_SCALE: f64 = 10.0;
/// The corrected lens value of the typo case; revision 0 carried 100 times this.
pub(crate) const TYPO_VALUE: f64 = 0.45;

impl CaseKind {
    /// Every case, in manifest order.
    pub(crate) const ALL: [CaseKind; 21] = [
        CaseKind::LimitHp10Rolling,
        CaseKind::LimitHp3Caen,
        CaseKind::LimitHp007Pitie,
        CaseKind::EsrHp10,
        CaseKind::InvestigationHp10,
        CaseKind::PregnancyHp10,
        CaseKind::ProjectedHp3,
        CaseKind::LimitHp10Apprentice,
        CaseKind::NotReturned,
        CaseKind::ZeroWhilePeersExposed,
        CaseKind::ProcedureWithoutDosimeter,
        CaseKind::PeerOutlierHp10,
        CaseKind::PassiveOperationalMismatch,
        CaseKind::ControlClean1,
        CaseKind::ControlClean2,
        CaseKind::ControlClean3,
        CaseKind::ControlPregnancyLow,
        CaseKind::DuplicateNearLimit,
        CaseKind::CorrectedTypo,
        CaseKind::ControlLensSteady,
        CaseKind::ControlApprenticeLow,
    ];

    /// The manifest's `case_id`.
    pub(crate) fn id(self) -> &'static str {
        use CaseKind::*;
        match self {
            LimitHp10Rolling => "limit-hp10-rolling",
            LimitHp3Caen => "limit-hp3-caen",
            LimitHp007Pitie => "limit-hp007-pitie",
            EsrHp10 => "esr-hp10",
            InvestigationHp10 => "investigation-hp10",
            PregnancyHp10 => "pregnancy-hp10",
            ProjectedHp3 => "projected-hp3",
            LimitHp10Apprentice => "limit-hp10-apprentice",
            NotReturned => "not-returned",
            ZeroWhilePeersExposed => "zero-while-peers-exposed",
            ProcedureWithoutDosimeter => "procedure-without-dosimeter",
            PeerOutlierHp10 => "peer-outlier-hp10",
            PassiveOperationalMismatch => "passive-operational-mismatch",
            ControlClean1 => "control-clean-1",
            ControlClean2 => "control-clean-2",
            ControlClean3 => "control-clean-3",
            ControlPregnancyLow => "control-pregnancy-low",
            DuplicateNearLimit => "duplicate-near-limit",
            CorrectedTypo => "corrected-typo",
            ControlLensSteady => "control-lens-steady",
            ControlApprenticeLow => "control-apprentice-low",
        }
    }

    /// Department (of the first version), role, apprentice flag.
    pub(crate) fn post(self) -> (Dept, Role, bool) {
        use CaseKind::*;
        use Dept::*;
        match self {
            LimitHp10Rolling | InvestigationHp10 | DuplicateNearLimit => (NuclearMedicine, Role::Radiographer, false),
            LimitHp10Apprentice => (NuclearMedicine, Role::Radiographer, true),
            PregnancyHp10 => (NuclearMedicine, Role::Nurse, false),
            LimitHp3Caen | LimitHp007Pitie | ControlClean2 => (InterventionalRadiology, Role::Radiologist, false),
            ControlApprenticeLow => (InterventionalRadiology, Role::Radiographer, true),
            EsrHp10 | ControlClean3 => (Radiology, Role::Radiographer, false),
            ProjectedHp3
            | ZeroWhilePeersExposed
            | PeerOutlierHp10
            | PassiveOperationalMismatch
            | ControlClean1
            | CorrectedTypo
            | ControlLensSteady => (InterventionalCardiology, Role::Cardiologist, false),
            ControlPregnancyLow => (InterventionalCardiology, Role::Nurse, false),
            NotReturned => (OrOrthopaedics, Role::Nurse, false),
            ProcedureWithoutDosimeter => (OrUrology, Role::Nurse, false),
        }
    }

    /// `expect`, `level_or_signal` and `quantity` in the manifest.
    pub(crate) fn expectation(self) -> (Expect, Option<&'static str>, Option<Quantity>) {
        use CaseKind::*;
        use Expect as E;
        use Quantity::*;
        match self {
            LimitHp10Rolling | LimitHp10Apprentice => (E::Overexposure, Some("limit"), Some(Hp10)),
            LimitHp3Caen => (E::Overexposure, Some("limit"), Some(Hp3)),
            LimitHp007Pitie => (E::Overexposure, Some("limit"), Some(Hp007)),
            EsrHp10 => (E::Overexposure, Some("esr"), Some(Hp10)),
            InvestigationHp10 => (E::Overexposure, Some("investigation"), Some(Hp10)),
            PregnancyHp10 => (E::Overexposure, Some("pregnancy"), Some(Hp10)),
            ProjectedHp3 => (E::Overexposure, Some("projected"), Some(Hp3)),
            NotReturned => (E::MissingBadge, Some("not_returned"), Some(Hp10)),
            ZeroWhilePeersExposed => (E::MissingBadge, Some("zero_while_peers_exposed"), Some(Hp10)),
            ProcedureWithoutDosimeter => (E::MissingBadge, Some("procedure_without_dosimeter"), Some(Hp10)),
            PeerOutlierHp10 => (E::UnexplainedHeterogeneity, Some("peer_outlier"), Some(Hp10)),
            PassiveOperationalMismatch => {
                (E::UnexplainedHeterogeneity, Some("passive_operational_mismatch"), Some(Hp10))
            }
            ControlClean1 | ControlClean2 | ControlClean3 | ControlApprenticeLow => (E::None, None, None),
            CorrectedTypo => (E::None, None, Some(Hp3)),
            ControlPregnancyLow => (E::None, Some("pregnancy"), Some(Hp10)),
            DuplicateNearLimit => (E::None, Some("limit"), Some(Hp10)),
            ControlLensSteady => (E::None, Some("projected"), Some(Hp3)),
        }
    }

    /// The regulatory value the case is built around (mSv), when there is one.
    pub(crate) fn threshold_msv(self) -> Option<f64> {
        use CaseKind::*;
        match self {
            LimitHp10Rolling | LimitHp3Caen | ProjectedHp3 | DuplicateNearLimit | ControlLensSteady => Some(20.0),
            LimitHp007Pitie => Some(500.0),
            EsrHp10 => Some(5.0),
            InvestigationHp10 | LimitHp10Apprentice => Some(6.0),
            PregnancyHp10 | ControlPregnancyLow => Some(1.0),
            _ => None,
        }
    }

    /// Other findings a correct detection may legitimately raise on this worker, as
    /// `view/level_or_signal`: side effects that follow from the physics of the case.
    pub(crate) fn also_expected(self) -> &'static [&'static str] {
        use CaseKind::*;
        match self {
            LimitHp10Rolling => &["overexposure/investigation", "overexposure/projected"],
            LimitHp3Caen => {
                &["overexposure/investigation", "overexposure/projected", "unexplained_heterogeneity/peer_outlier"]
            }
            LimitHp007Pitie => {
                &["overexposure/investigation", "overexposure/projected", "unexplained_heterogeneity/peer_outlier"]
            }
            EsrHp10 => &["overexposure/projected"],
            PregnancyHp10 => &["overexposure/pregnancy_warning"],
            ProjectedHp3 => &["unexplained_heterogeneity/peer_outlier"],
            LimitHp10Apprentice => &["overexposure/investigation", "overexposure/projected"],
            ZeroWhilePeersExposed => &["unexplained_heterogeneity/passive_operational_mismatch"],
            PassiveOperationalMismatch => &["unexplained_heterogeneity/peer_outlier"],
            // Ten times the dose per unit of workload crosses the investigation level even with a
            // quarter of the workload.
            PeerOutlierHp10 => &["overexposure/investigation", "overexposure/projected"],
            DuplicateNearLimit => &["overexposure/investigation"],
            _ => &[],
        }
    }
}

/// Where each case sits in the period (month indices). Computed once from the calendar so that
/// the regulatory stories line up with calendar months (a June–May lens window, an April–
/// September ring episode, a Hp10 window that straddles a New Year).
#[derive(Debug, Clone)]
pub(crate) struct Placement {
    /// Number of months.
    pub months: u32,
    /// Start of the 12-month Hp10 window of the rolling case.
    pub rolling: u32,
    /// Start of the 12-month lens window of the Caen case.
    pub caen: u32,
    /// First of the six high ring months of the Pitié case.
    pub pitie: u32,
    /// Month of the single ESR result.
    pub esr: u32,
    /// Month in which the pregnancy case declares.
    pub pregnancy: u32,
    /// Month in which the low-dose pregnancy control declares (she moves to radiology the next month).
    pub pregnancy_low: u32,
    /// Months without a worn passive badge, zero case.
    pub zero: (u32, u32),
    /// Months without operational dosimeter, procedure case.
    pub procedure_without: (u32, u32),
    /// Months of passive/operational mismatch.
    pub mismatch: (u32, u32),
    /// Badges never read, with their status.
    pub not_returned: [(u32, Status); 4],
    /// Month of the lens typo.
    pub typo: u32,
}

/// Fewest months that hold every case.
pub(crate) const MIN_MONTHS: u32 = 18;

impl Placement {
    /// Places every case; the calendar must hold at least [`MIN_MONTHS`] months.
    pub(crate) fn new(cal: &Calendar) -> Placement {
        let m = cal.len();
        debug_assert!(m >= MIN_MONTHS);
        // Rolling Hp10: a window with k months before the New Year, 3 ≤ k ≤ 9, as balanced as
        // possible (latest on ties). With 18+ months, 7+ candidate starts cover every residue, so
        // one always qualifies; each calendar year then holds at most 9 high months (≤ 17.1 mSv).
        let mut rolling = m - 12;
        let mut best = u32::MAX;
        for w in 0..=m - 12 {
            let c = cal.calendar_month(w);
            if c == 1 {
                continue;
            }
            let k = 13 - c;
            if (3..=9).contains(&k) && k.abs_diff(6) <= best {
                best = k.abs_diff(6);
                rolling = w;
            }
        }
        let caen = cal.latest_start_in(6, 12).unwrap_or(m - 12);
        let pitie = cal.latest_start_in(4, 6).unwrap_or(m - 6);
        Placement {
            months: m,
            rolling,
            caen,
            pitie,
            esr: m - 6,
            pregnancy: m - 8,
            pregnancy_low: m - 6,
            zero: (m - 14, m - 6),
            procedure_without: (m - 9, m - 3),
            mismatch: (m - 11, m - 7),
            not_returned: [
                (m - 10, Status::NotReturned),
                (m - 8, Status::Lost),
                (m - 7, Status::NotReturned),
                (m - 4, Status::Damaged),
            ],
            typo: m - 9,
        }
    }

    /// The declaration date and the valid_from of the second worker version, for the two
    /// pregnancy cases.
    pub(crate) fn pregnancy_dates(&self, cal: &Calendar, kind: CaseKind) -> Option<(NaiveDate, NaiveDate)> {
        match kind {
            // Declared on the 10th; HR records it three days later.
            CaseKind::PregnancyHp10 => {
                let d = cal.month_start(self.pregnancy) + Duration::days(9);
                Some((d, d + Duration::days(3)))
            }
            // Declared on the 18th; reassigned to diagnostic radiology from the next month.
            CaseKind::ControlPregnancyLow => Some((
                cal.month_start(self.pregnancy_low) + Duration::days(17),
                cal.month_start(self.pregnancy_low + 1),
            )),
            _ => None,
        }
    }

    /// Months `[from, to)` the manifest reports for a case (its window or episode).
    pub(crate) fn window(&self, kind: CaseKind) -> (u32, u32) {
        use CaseKind::*;
        let m = self.months;
        match kind {
            LimitHp10Rolling => (self.rolling, self.rolling + 12),
            LimitHp3Caen => (self.caen, self.caen + 12),
            LimitHp007Pitie => {
                let end = self.pitie + 6;
                (end.saturating_sub(12), end.max(12))
            }
            EsrHp10 => (self.esr, self.esr + 1),
            InvestigationHp10 | LimitHp10Apprentice | DuplicateNearLimit | ControlLensSteady => (m - 12, m),
            PregnancyHp10 => (self.pregnancy, m),
            ControlPregnancyLow => (self.pregnancy_low, m),
            ProjectedHp3 => (m - 12, m),
            NotReturned => (self.not_returned[0].0, self.not_returned[3].0 + 1),
            ZeroWhilePeersExposed => self.zero,
            ProcedureWithoutDosimeter => self.procedure_without,
            PassiveOperationalMismatch => self.mismatch,
            CorrectedTypo => (self.typo, self.typo + 1),
            PeerOutlierHp10 | ControlClean1 | ControlClean2 | ControlClean3 | ControlApprenticeLow => (0, m),
        }
    }

    /// Multiplier of the worker's share of procedures in month `i` (1 = an ordinary operator).
    pub(crate) fn workload(&self, kind: CaseKind, i: u32) -> f64 {
        use CaseKind::*;
        match kind {
            // Caen: "the number of radioguided procedures rose markedly", then all lens-exposing
            // work stopped once the exceedance was known.
            LimitHp3Caen if i < self.caen => 1.0,
            // Procedures rise 2.5-fold with the lens dose, so the lens dose per procedure stays
            // within 1.8× of the peers' (a workload story, not a peer outlier).
            LimitHp3Caen if i < self.caen + 12 => {
                let k = (i - self.caen) as usize;
                1.0 + 1.5 * (CAEN_SERIES[k] - CAEN_SERIES[0]) / (CAEN_SERIES[11] - CAEN_SERIES[0])
            }
            LimitHp3Caen => 0.0,
            ProjectedHp3 if i + 3 >= self.months => 1.6,
            PeerOutlierHp10 => 0.25,
            ControlLensSteady => 1.9,
            _ => 1.0,
        }
    }

    /// How the case bends month `i` of its worker.
    pub(crate) fn month(&self, kind: CaseKind, i: u32, r: &mut StdRng) -> Override {
        use CaseKind::*;
        let m = self.months;
        let mut o = Override::default();
        let within = |(a, b): (u32, u32)| a <= i && i < b;
        match kind {
            LimitHp10Rolling => {
                o.hp10 = Some(if within((self.rolling, self.rolling + 12)) {
                    ROLLING_SERIES[(i - self.rolling) as usize]
                } else {
                    uniform(r, 0.06, 0.10)
                });
            }
            LimitHp3Caen => {
                o.lens = Some(if i < self.caen {
                    // A steady rise towards the window: 0.60 → 0.85 mSv/month.
                    0.60 + 0.25 * f64::from(i) / f64::from(self.caen.max(1))
                } else if i < self.caen + 12 {
                    CAEN_SERIES[(i - self.caen) as usize]
                } else {
                    0.02 // stopped: below the recording threshold
                });
            }
            LimitHp007Pitie if within((self.pitie, self.pitie + 6)) => {
                o.ring = Some(PITIE_SERIES[(i - self.pitie) as usize]);
            }
            EsrHp10 => o.hp10 = Some(if i == self.esr { ESR_DOSE } else { 0.02 }),
            InvestigationHp10 => o.hp10 = Some(uniform(r, 0.74, 0.86)),
            PregnancyHp10 => {
                if i == self.pregnancy {
                    o.hp10 = Some(0.03);
                } else if i > self.pregnancy {
                    o.hp10 = Some(uniform(r, 0.19, 0.24));
                }
            }
            ProjectedHp3 => {
                o.lens = Some(if i + 3 >= m { PROJECTED_TAIL[(i + 3 - m) as usize] } else { uniform(r, 0.42, 0.55) });
            }
            LimitHp10Apprentice => {
                o.hp10 = Some(if i + 12 >= m { uniform(r, 0.54, 0.62) } else { uniform(r, 0.15, 0.25) });
            }
            NotReturned => o.passive_status = self.not_returned.iter().find(|(mm, _)| *mm == i).map(|(_, s)| *s),
            ZeroWhilePeersExposed => o.not_worn = within(self.zero),
            ProcedureWithoutDosimeter => o.no_operational = within(self.procedure_without),
            PeerOutlierHp10 => o.hp10_scale = PEER_OUTLIER_SCALE,
            PassiveOperationalMismatch if within(self.mismatch) => o.passive_extra = uniform(r, 0.55, 0.70),
            ControlPregnancyLow if i >= self.pregnancy_low => o.hp10 = Some(0.02),
            DuplicateNearLimit => {
                o.hp10 = Some(if i + 12 >= m { uniform(r, 1.20, 1.30) } else { uniform(r, 0.15, 0.30) });
                o.resend = i + 12 >= m;
            }
            CorrectedTypo if i == self.typo => {
                o.lens = Some(TYPO_VALUE);
                o.typo = true;
            }
            _ => {}
        }
        o
    }
}

/// A case's deviation from the ordinary model for one month.
#[derive(Debug, Clone)]
pub(crate) struct Override {
    /// Exact Hp10 of the month (before rounding; no lab noise).
    pub hp10: Option<f64>,
    /// Exact lens Hp3 of the month.
    pub lens: Option<f64>,
    /// Exact ring Hp007 of the month.
    pub ring: Option<f64>,
    /// The passive badge came back without a result.
    pub passive_status: Option<Status>,
    /// Passive dosimeters (badge, ring, lens) left in the locker: all read below threshold.
    pub not_worn: bool,
    /// The operational dosimeter was not worn at any entry.
    pub no_operational: bool,
    /// Dose the passive badge received while not worn (left on the apron in the room).
    pub passive_extra: f64,
    /// Multiplier of the worker's Hp10 per unit of workload (poor apron, no ceiling shield).
    pub hp10_scale: f64,
    /// The lens result is first sent with a decimal slip (×100) at revision 0.
    pub typo: bool,
    /// The passive Hp10 result is re-sent twice, unchanged, at the end of the file.
    pub resend: bool,
}

impl Default for Override {
    fn default() -> Self {
        Override {
            hp10: None,
            lens: None,
            ring: None,
            passive_status: None,
            not_worn: false,
            no_operational: false,
            passive_extra: 0.0,
            hp10_scale: 1.0,
            typo: false,
            resend: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_placement_matches_the_reference_stories() {
        let cal = Calendar::new(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(), 24).unwrap();
        let p = Placement::new(&cal);
        assert_eq!(cal.month_start(p.rolling).to_string(), "2025-07-01");
        assert_eq!(cal.month_start(p.caen).to_string(), "2025-06-01");
        assert_eq!(cal.month_start(p.pitie).to_string(), "2026-04-01");
        assert!((ROLLING_SERIES.iter().sum::<f64>() - 21.6).abs() < 1e-9);
        assert!((CAEN_SERIES.iter().sum::<f64>() - 20.6).abs() < 1e-9);
        assert!(PITIE_SERIES.iter().sum::<f64>() > 500.0);
        let (d, v) = p.pregnancy_dates(&cal, CaseKind::PregnancyHp10).unwrap();
        assert_eq!((d.to_string(), v.to_string()), ("2026-03-10".into(), "2026-03-13".into()));
    }

    #[test]
    fn every_calendar_start_admits_a_rolling_window() {
        for start_month in 1..=12 {
            for months in [MIN_MONTHS, 19, 24, 36] {
                let start = NaiveDate::from_ymd_opt(2024, start_month, 1).unwrap();
                let end = start.checked_add_months(chrono::Months::new(months)).unwrap();
                let cal = Calendar::new(end, months).unwrap();
                let p = Placement::new(&cal);
                let k = 13 - cal.calendar_month(p.rolling);
                assert!(cal.calendar_month(p.rolling) != 1 && (3..=9).contains(&k), "{start_month} {months}");
            }
        }
    }
}
