//! The workforce: who works where, in which crew, with which habits, over the period.
//!
//! The roster is small (one struct per worker) and sits in memory; only the readings and
//! procedures it gives rise to are streamed. Case workers come first, then one support worker
//! (a urology surgeon, so that the procedure-without-dosimeter nurse has procedures to attend),
//! then ordinary workers drawn cyclically from a composition pattern that mirrors a teaching
//! hospital's mix of posts.

use alara_model::{Category, Role};
use chrono::NaiveDate;

use crate::calendar::Calendar;
use crate::cases::{CaseKind, Placement};
use crate::hospital::Dept;
use crate::rng::{self, tag, uniform};

/// A stretch of months spent in one department (and, in fluoroscopy, one crew).
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    /// Department.
    pub dept: Dept,
    /// First month.
    pub from: u32,
    /// Month after the last.
    pub to: u32,
    /// Crew (fluoroscopy departments only).
    pub crew: Option<usize>,
}

/// One row of workers.csv.
#[derive(Debug, Clone)]
pub(crate) struct Version {
    /// Date from which it applies (midnight UTC).
    pub valid_from: NaiveDate,
    /// Department.
    pub dept: Dept,
    /// Classification.
    pub category: Category,
    /// Declared pregnancy.
    pub pregnancy_declared_on: Option<NaiveDate>,
}

/// One worker and everything fixed about them for the period.
#[derive(Debug, Clone)]
pub(crate) struct WorkerPlan {
    /// Position in the roster (seed path of the worker's draws).
    pub idx: usize,
    /// Pseudonymous id (`W0001`...).
    pub id: String,
    /// Numeric part of the id (dosimeter serials).
    pub number: usize,
    /// Job.
    pub role: Role,
    /// Apprentice (16–18, lower limits).
    pub apprentice: bool,
    /// Departments over time, contiguous, covering every month.
    pub segments: Vec<Segment>,
    /// Versions for workers.csv.
    pub versions: Vec<Version>,
    /// The injected case, if any.
    pub case: Option<CaseKind>,
    /// Personal dose factors per quantity (habits: apron fit, glasses, hand position).
    pub factor_hp10: f64,
    /// Lens factor.
    pub factor_hp3: f64,
    /// Ring factor.
    pub factor_hp007: f64,
    /// Share of the department's work (1 = ordinary).
    pub weight: f64,
}

impl WorkerPlan {
    /// The segment covering month `i`.
    pub(crate) fn segment(&self, i: u32) -> &Segment {
        self.segments.iter().find(|s| s.from <= i && i < s.to).unwrap_or(&self.segments[0])
    }

    /// The worker's workload multiplier in month `i`: share × case curve × availability. Case
    /// workers take no random leave so their designed series stay exact.
    pub(crate) fn workload(&self, seed: u64, placement: &Placement, cal: &Calendar, i: u32) -> f64 {
        match self.case {
            Some(kind) => self.weight * placement.workload(kind, i),
            None => self.weight * availability(seed, self.idx, cal, i),
        }
    }
}

/// Presence in month `i`: 3% of months are spent on leave or training, August is half staffed,
/// and the rest varies ±15%.
fn availability(seed: u64, idx: usize, cal: &Calendar, i: u32) -> f64 {
    let mut r = rng::rng(&[seed, tag::AVAILABILITY, idx as u64, u64::from(i)]);
    let u = uniform(&mut r, 0.0, 1.0);
    if u < 0.03 {
        return 0.0;
    }
    let base = uniform(&mut r, 0.85, 1.15);
    if cal.calendar_month(i) == 8 { base * 0.55 } else { base }
}

/// A crew: the staff who share one room in a fluoroscopy department.
#[derive(Debug, Clone)]
pub(crate) struct Crew {
    /// Department.
    pub dept: Dept,
    /// Room name.
    pub room: String,
    /// Code used in procedure and dosimeter ids (`IC1`).
    pub code: String,
    /// Members: (roster index, role, first month, month after last).
    pub members: Vec<(usize, Role, u32, u32)>,
}

/// The whole workforce.
#[derive(Debug, Clone)]
pub(crate) struct Roster {
    /// Workers in roster order (cases first).
    pub workers: Vec<WorkerPlan>,
    /// Crews of the fluoroscopy departments.
    pub crews: Vec<Crew>,
}

/// Ordinary posts, cycled through to fill the roster: a teaching hospital's mix, with the posts
/// that complete the case workers' teams first.
const PATTERN: &[(Dept, Role)] = {
    use Dept::*;
    use Role::*;
    &[
        (InterventionalCardiology, Nurse),
        (InterventionalCardiology, Radiographer),
        (InterventionalRadiology, Nurse),
        (InterventionalRadiology, Radiographer),
        (OrOrthopaedics, Surgeon),
        (Radiology, Radiologist),
        (NuclearMedicine, Radiographer),
        (OrUrology, Anaesthetist),
        (VascularSurgery, Surgeon),
        (VascularSurgery, Nurse),
        (InterventionalCardiology, Cardiologist),
        (InterventionalRadiology, Radiologist),
        (Radiology, Radiographer),
        (OrOrthopaedics, Anaesthetist),
        (NuclearMedicine, Other),
        (InterventionalCardiology, Nurse),
        (OrUrology, Nurse),
        (OrOrthopaedics, Nurse),
        (InterventionalCardiology, Anaesthetist),
        (Radiology, Radiographer),
        (NuclearMedicine, Nurse),
        (InterventionalCardiology, Cardiologist),
        (InterventionalRadiology, Radiographer),
        (OrUrology, Surgeon),
        (OrOrthopaedics, Surgeon),
        (Radiology, Radiographer),
        (NuclearMedicine, Radiographer),
        (InterventionalCardiology, Nurse),
        (InterventionalCardiology, Radiographer),
        (InterventionalRadiology, Nurse),
        (VascularSurgery, Surgeon),
        (VascularSurgery, Anaesthetist),
        (Radiology, Radiologist),
        (InterventionalCardiology, Cardiologist),
        (InterventionalRadiology, Radiologist),
        (OrOrthopaedics, Nurse),
        (OrUrology, Nurse),
        (Radiology, Radiographer),
        (NuclearMedicine, Radiographer),
        (InterventionalCardiology, Nurse),
        (OrOrthopaedics, Surgeon),
        (Radiology, Radiographer),
    ]
};

/// Spread (sigma of the logarithm) of a worker's persistent dose per unit of workload around
/// the post's coefficient: 0.5, a 95 % range of ×0.37 to ×2.7. Published operator studies show
/// spreads at least this wide (DOMAIN.md 7.2): annual lens doses of cardiologists of three
/// Polish departments from 3.2 to 31.4 mSv (R62, ×10 with workload); ceiling shield and table
/// curtain cut normalised doses by up to ×4 in practice (ORAMED, R54); lead glasses by 60 %
/// (R60); the dose-area product predicts staff dose poorly (R55, R57).
pub(crate) const PERSONAL_SIGMA: f64 = 0.5;
/// Largest personal lens factor: keeps an ordinary busy cardiologist under the 20 mSv lens
/// limit (the injected cases are the only limit exceedances).
pub(crate) const LENS_FACTOR_MAX: f64 = 1.8;
/// Share of ordinary workers who work part-time (half their post's workload).
pub(crate) const PART_TIME_SHARE: f64 = 0.15;

/// Support posts that must exist whatever the size.
const SUPPORT: &[(Dept, Role)] = &[(Dept::OrUrology, Role::Surgeon)];

/// Fewest workers that hold every case and its support.
pub(crate) fn min_workers() -> usize {
    CaseKind::ALL.len() + SUPPORT.len()
}

/// Classification of a post (R4451-57): interventional operators and nuclear-medicine
/// radiographers are likely above 6 mSv/yr or 15 mSv lens in a bad year; apprentices and
/// declared pregnancies cannot be category A.
fn category(dept: Dept, role: Role, apprentice: bool, pregnant: bool) -> Category {
    if apprentice || pregnant {
        return Category::B;
    }
    match (dept, role) {
        (Dept::InterventionalCardiology, Role::Cardiologist)
        | (Dept::InterventionalRadiology, Role::Radiologist)
        | (Dept::VascularSurgery, Role::Surgeon)
        | (Dept::NuclearMedicine, Role::Radiographer) => Category::A,
        _ => Category::B,
    }
}

impl Roster {
    /// Builds the roster of `n` workers (`n >= min_workers()`, checked by the caller); with
    /// `inject` false no worker carries an injected case (every post is ordinary).
    pub(crate) fn build(n: usize, seed: u64, cal: &Calendar, placement: &Placement, inject: bool) -> Roster {
        let months = cal.len();
        let start = cal.month_start(0);
        let mut posts: Vec<(Option<CaseKind>, Dept, Role, bool)> = Vec::with_capacity(n);
        for kind in CaseKind::ALL {
            let (dept, role, apprentice) = kind.post();
            posts.push((inject.then_some(kind), dept, role, apprentice));
        }
        posts.extend(SUPPORT.iter().map(|(d, r)| (None, *d, *r, false)));
        let mut k = 0;
        let mut students = 0;
        while posts.len() < n {
            let (dept, role) = PATTERN[k % PATTERN.len()];
            k += 1;
            // A few student radiographers (apprentices) in imaging: one in fifteen.
            let student_post =
                role == Role::Radiographer && matches!(dept, Dept::Radiology | Dept::InterventionalRadiology);
            if student_post {
                students += 1;
            }
            posts.push((None, dept, role, student_post && students % 15 == 8));
        }

        // Pseudonymous ids: a seeded shuffle, so ids say nothing about case or department.
        let width = n.to_string().len().max(4);
        let mut numbers: Vec<usize> = (1..=n).collect();
        let mut shuffle = rng::rng(&[seed, tag::ROSTER]);
        for i in (1..numbers.len()).rev() {
            let j = (uniform(&mut shuffle, 0.0, 1.0) * (i + 1) as f64) as usize;
            numbers.swap(i, j.min(i));
        }

        let mut workers = Vec::with_capacity(n);
        for (idx, (case, dept, role, apprentice)) in posts.into_iter().enumerate() {
            let number = numbers[idx];
            let mut r = rng::rng(&[seed, tag::WORKER, idx as u64]);
            let mut factor = |sigma: f64, hi: f64| (crate::rng::lognormal(&mut r, 1.0, sigma)).clamp(0.3, hi);
            // Persistent habits (apron fit, shields, glasses, hand position): see PERSONAL_SIGMA.
            let (f10, f3, f007) =
                (factor(PERSONAL_SIGMA, 3.0), factor(PERSONAL_SIGMA, LENS_FACTOR_MAX), factor(PERSONAL_SIGMA, 2.5));
            let mut weight = uniform(&mut r, 0.75, 1.25);
            if uniform(&mut r, 0.0, 1.0) < PART_TIME_SHARE {
                // Part-time (50–60 %) or shared between two posts.
                weight *= uniform(&mut r, 0.5, 0.6);
            }
            let mut segments = vec![Segment { dept, from: 0, to: months, crew: None }];
            let mut versions = vec![Version {
                valid_from: start,
                dept,
                category: category(dept, role, apprentice, false),
                pregnancy_declared_on: None,
            }];
            if let Some(kind) = case {
                if let Some((declared, valid_from)) = placement.pregnancy_dates(cal, kind) {
                    let new_dept = if kind == CaseKind::ControlPregnancyLow { Dept::Radiology } else { dept };
                    if new_dept != dept {
                        let at = placement.pregnancy_low + 1;
                        segments = vec![
                            Segment { dept, from: 0, to: at, crew: None },
                            Segment { dept: new_dept, from: at, to: months, crew: None },
                        ];
                    }
                    versions.push(Version {
                        valid_from,
                        dept: new_dept,
                        category: category(new_dept, role, apprentice, true),
                        pregnancy_declared_on: Some(declared),
                    });
                }
            } else if matches!(role, Role::Radiographer | Role::Nurse) && uniform(&mut r, 0.0, 1.0) < 0.06 {
                // An ordinary department change between imaging posts or between theatres.
                let to = match (dept, role) {
                    (Dept::Radiology, _) => Dept::InterventionalRadiology,
                    (Dept::InterventionalRadiology, _) => Dept::Radiology,
                    (Dept::OrUrology, _) => Dept::OrOrthopaedics,
                    (Dept::OrOrthopaedics, _) => Dept::OrUrology,
                    (Dept::NuclearMedicine, _) => Dept::Radiology,
                    (_, Role::Nurse) => Dept::VascularSurgery,
                    _ => Dept::Radiology,
                };
                let at = 3 + (uniform(&mut r, 0.0, 1.0) * f64::from(months.saturating_sub(6).max(1))) as u32;
                if to != dept && at < months {
                    segments = vec![
                        Segment { dept, from: 0, to: at, crew: None },
                        Segment { dept: to, from: at, to: months, crew: None },
                    ];
                    versions.push(Version {
                        valid_from: cal.month_start(at),
                        dept: to,
                        category: category(to, role, apprentice, false),
                        pregnancy_declared_on: None,
                    });
                }
            }
            let neutral = case.is_some();
            workers.push(WorkerPlan {
                idx,
                id: format!("W{number:0width$}"),
                number,
                role,
                apprentice,
                segments,
                versions,
                case,
                factor_hp10: if neutral { 1.0 } else { f10 },
                factor_hp3: if neutral { 1.0 } else { f3 },
                factor_hp007: if neutral { 1.0 } else { f007 },
                weight: if neutral { 1.0 } else { weight },
            });
        }
        let crews = form_crews(&mut workers);
        Roster { workers, crews }
    }
}

/// Splits each fluoroscopy department into crews of about three operators with their nurses,
/// radiographers and anaesthetists, dealing each role round-robin in roster order.
fn form_crews(workers: &mut [WorkerPlan]) -> Vec<Crew> {
    let mut crews = Vec::new();
    for dept in Dept::ALL.into_iter().filter(|d| d.fluoroscopy()) {
        let stints: Vec<(usize, usize)> = workers
            .iter()
            .flat_map(|w| w.segments.iter().enumerate().filter(|(_, s)| s.dept == dept).map(move |(k, _)| (w.idx, k)))
            .collect();
        let operators = stints.iter().filter(|(w, _)| workers[*w].role == dept.operator()).count();
        let n_crews = operators.div_ceil(3).max(1);
        let first = crews.len();
        for c in 0..n_crews {
            crews.push(Crew {
                dept,
                room: format!("{}-{}", dept.room_prefix(), c + 1),
                code: format!("{}{}", dept.code(), c + 1),
                members: Vec::new(),
            });
        }
        let mut dealt: Vec<(Role, usize)> = Vec::new();
        for (w, k) in stints {
            let role = workers[w].role;
            let slot = match dealt.iter_mut().find(|(r, _)| *r == role) {
                Some((_, n)) => {
                    *n += 1;
                    *n - 1
                }
                None => {
                    dealt.push((role, 1));
                    0
                }
            };
            let crew = first + slot % n_crews;
            let seg = &mut workers[w].segments[k];
            seg.crew = Some(crew);
            crews[crew].members.push((w, role, seg.from, seg.to));
        }
    }
    crews
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roster(n: usize) -> (Roster, Calendar) {
        let cal = Calendar::new(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(), 24).unwrap();
        let p = Placement::new(&cal);
        (Roster::build(n, 42, &cal, &p, true), cal)
    }

    #[test]
    fn ids_are_unique_and_every_fluoroscopy_stint_has_a_crew() {
        let (r, _) = roster(300);
        let mut ids: Vec<&str> = r.workers.iter().map(|w| w.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 300);
        assert!(ids.contains(&"W0001") && ids.contains(&"W0300"));
        for w in &r.workers {
            for s in &w.segments {
                assert_eq!(s.crew.is_some(), s.dept.fluoroscopy(), "{}", w.id);
            }
        }
        for c in &r.crews {
            assert!(c.members.iter().any(|(_, role, _, _)| *role == c.dept.operator()), "{} has no operator", c.code);
        }
        assert!(r.workers.iter().any(|w| w.case.is_none() && w.versions.len() == 2), "some department changes");
        assert!(r.workers.iter().any(|w| w.case.is_none() && w.apprentice), "some ordinary apprentices");
    }

    #[test]
    fn the_smallest_roster_holds_every_case() {
        let (r, _) = roster(min_workers());
        for kind in CaseKind::ALL {
            assert_eq!(r.workers.iter().filter(|w| w.case == Some(kind)).count(), 1);
        }
        let uro = r.crews.iter().find(|c| c.dept == Dept::OrUrology).unwrap();
        assert!(uro.members.iter().any(|(_, role, _, _)| *role == Role::Surgeon));
    }
}
