//! Procedure schedules: what each crew did in its room, month by month.
//!
//! A crew-month schedule is a pure function of (seed, crew, month) and the roster, so each crew
//! member can regenerate it when their own readings are streamed: no schedule needs to outlive
//! the few workers that share it. A small cache avoids regenerating it for every member of a
//! crew when members are streamed one after another.

use std::collections::HashMap;
use std::rc::Rc;

use chrono::{DateTime, Duration, Utc};
use rand::Rng;

use crate::calendar::{Calendar, compact, midnight};
use crate::cases::Placement;
use crate::hospital::WORKLOAD_SIGMA;
use crate::rng::{self, lognormal, poisson, tag, uniform, weighted_index};
use crate::roster::Roster;

/// One procedure and the staff present.
#[derive(Debug, Clone)]
pub(crate) struct Proc {
    /// Id in the dose-archiving system, shared by the whole team.
    pub id: String,
    /// Procedure type.
    pub ptype: &'static str,
    /// Start.
    pub start: DateTime<Utc>,
    /// End.
    pub end: DateTime<Utc>,
    /// Fluoroscopy time, whole seconds.
    pub fluoro_s: f64,
    /// Dose-area product, Gy·cm², two decimals.
    pub dap: f64,
    /// Roster indices of the staff present (operator first).
    pub team: Vec<usize>,
}

/// Inputs shared by every schedule.
pub(crate) struct Schedules<'a> {
    seed: u64,
    cal: &'a Calendar,
    placement: &'a Placement,
    roster: &'a Roster,
    cache: HashMap<(usize, u32), Rc<Vec<Proc>>>,
}

/// Minutes of a room's list in one day, from the first case (about 07:30 UTC): lists run into
/// the evening when the month is busy.
const DAY_CAPACITY_MIN: i64 = 11 * 60;
/// Longest turnover between two cases (minutes, exclusive bound).
const TURNOVER_MAX_MIN: i64 = 35;

/// Cache entries kept before the cache is emptied (crews are streamed member after member, so
/// a handful of crews' months is all that is ever reused).
const CACHE_LIMIT: usize = 256;

impl<'a> Schedules<'a> {
    /// A schedule source for one generation run.
    pub(crate) fn new(seed: u64, cal: &'a Calendar, placement: &'a Placement, roster: &'a Roster) -> Self {
        Schedules { seed, cal, placement, roster, cache: HashMap::new() }
    }

    /// The procedures of `crew` in month `i`, in time order.
    pub(crate) fn month(&mut self, crew: usize, i: u32) -> Rc<Vec<Proc>> {
        if let Some(p) = self.cache.get(&(crew, i)) {
            return Rc::clone(p);
        }
        if self.cache.len() >= CACHE_LIMIT {
            self.cache.clear();
        }
        let procs = Rc::new(self.build(crew, i));
        self.cache.insert((crew, i), Rc::clone(&procs));
        procs
    }

    fn build(&self, crew_idx: usize, i: u32) -> Vec<Proc> {
        let crew = &self.roster.crews[crew_idx];
        let dept = crew.dept;
        let mut r = rng::rng(&[self.seed, tag::CREW, crew_idx as u64, u64::from(i)]);
        let days = self.cal.working_days(i);
        let types = dept.procedures();
        if days.is_empty() || types.is_empty() {
            return Vec::new();
        }
        // Members present this month with their workload, by role.
        let present: Vec<(usize, alara_model::Role, f64)> = crew
            .members
            .iter()
            .filter(|(_, _, from, to)| *from <= i && i < *to)
            .map(|(w, role, _, _)| {
                (*w, *role, self.roster.workers[*w].workload(self.seed, self.placement, self.cal, i))
            })
            .collect();

        // Each operator books their own list; the rest of the team is drawn per procedure.
        struct Draft {
            day: usize,
            operator: usize,
            ptype: usize,
            dap: f64,
            fluoro_s: f64,
            minutes: i64,
        }
        let mut drafts = Vec::new();
        let mut booked = vec![0i64; days.len()];
        for (w, role, load) in &present {
            if *role != dept.operator() {
                continue;
            }
            let n = poisson(&mut r, dept.procedures_per_operator_month() * load);
            for _ in 0..n {
                let ptype = weighted_index(&mut r, types.iter().map(|t| t.weight)).unwrap_or(0);
                let t = &types[ptype];
                let minutes = lognormal(&mut r, t.duration_min, 0.3).clamp(10.0, 360.0).round() as i64;
                // A random working day with room left in the list; when the month is that busy,
                // the least loaded day. Lists therefore end in the evening, never past midnight.
                let mut day = r.random_range(0..days.len());
                for _ in 0..8 {
                    if booked[day] + minutes + TURNOVER_MAX_MIN <= DAY_CAPACITY_MIN {
                        break;
                    }
                    day = r.random_range(0..days.len());
                }
                if booked[day] + minutes + TURNOVER_MAX_MIN > DAY_CAPACITY_MIN {
                    day = (0..days.len()).min_by_key(|d| booked[*d]).unwrap_or(day);
                }
                booked[day] += minutes + TURNOVER_MAX_MIN;
                let dap = rng::round_to(lognormal(&mut r, t.dap_median, WORKLOAD_SIGMA).max(0.05), 2);
                // Fluoroscopy runs for at most 80% of the procedure.
                let fluoro_s =
                    lognormal(&mut r, t.fluoro_median_s, WORKLOAD_SIGMA).min(minutes as f64 * 48.0).round().max(1.0);
                drafts.push(Draft { day, operator: *w, ptype, dap, fluoro_s, minutes });
            }
        }
        drafts.sort_by_key(|d| d.day);

        let (p_second_nurse, p_radiographer, p_anaesthetist) = dept.team_probabilities();
        let pick = |r: &mut rand::rngs::StdRng, role: alara_model::Role, exclude: Option<usize>| {
            let candidates: Vec<&(usize, alara_model::Role, f64)> =
                present.iter().filter(|(w, ro, _)| *ro == role && Some(*w) != exclude).collect();
            weighted_index(r, candidates.iter().map(|(_, _, load)| *load)).map(|k| candidates[k].0)
        };
        let mut procs = Vec::with_capacity(drafts.len());
        let mut current_day = usize::MAX;
        let mut clock = midnight(days[0]);
        let mut seq = 0;
        for d in drafts {
            if d.day != current_day {
                current_day = d.day;
                // First case around 07:30 UTC (08:30–09:30 in Paris).
                clock = midnight(days[d.day]) + Duration::minutes(450 + r.random_range(0..20));
                seq = 0;
            }
            seq += 1;
            let start = clock;
            let end = start + Duration::minutes(d.minutes);
            clock = end + Duration::minutes(r.random_range(15..TURNOVER_MAX_MIN));
            let mut team = vec![d.operator];
            let nurse = pick(&mut r, alara_model::Role::Nurse, None);
            team.extend(nurse);
            if uniform(&mut r, 0.0, 1.0) < p_second_nurse {
                team.extend(pick(&mut r, alara_model::Role::Nurse, nurse));
            }
            if uniform(&mut r, 0.0, 1.0) < p_radiographer {
                team.extend(pick(&mut r, alara_model::Role::Radiographer, None));
            }
            if uniform(&mut r, 0.0, 1.0) < p_anaesthetist {
                team.extend(pick(&mut r, alara_model::Role::Anaesthetist, None));
            }
            procs.push(Proc {
                id: format!("{}-{}-{seq:02}", crew.code, compact(days[d.day])),
                ptype: types[d.ptype].name,
                start,
                end,
                fluoro_s: d.fluoro_s,
                dap: d.dap,
                team,
            });
        }
        procs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn schedules_are_reproducible_and_never_overlap_in_a_room() {
        let cal = Calendar::new(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(), 24).unwrap();
        let p = Placement::new(&cal);
        let roster = Roster::build(120, 42, &cal, &p, true);
        let mut a = Schedules::new(42, &cal, &p, &roster);
        let mut b = Schedules::new(42, &cal, &p, &roster);
        let mut total = 0;
        for crew in 0..roster.crews.len() {
            for i in 0..cal.len() {
                let x = a.month(crew, i);
                let y = b.month(crew, i);
                assert_eq!(x.len(), y.len());
                total += x.len();
                for (p, q) in x.iter().zip(y.iter()) {
                    assert_eq!((&p.id, p.start, &p.team), (&q.id, q.start, &q.team));
                }
                for w in x.windows(2) {
                    assert!(w[0].end <= w[1].start, "{} overlaps {}", w[0].id, w[1].id);
                }
                for p in x.iter() {
                    assert_eq!(p.start.date_naive(), p.end.date_naive(), "{} crosses midnight", p.id);
                }
                let mut ids: Vec<&str> = x.iter().map(|p| p.id.as_str()).collect();
                ids.dedup();
                assert_eq!(ids.len(), x.len(), "procedure ids are unique");
            }
        }
        assert!(total > 100, "{total}");
    }
}
