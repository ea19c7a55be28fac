//! One worker's period, month by month: procedures attended, operational entries, and the
//! lab's passive, lens and ring results.
//!
//! The dose model is physical rather than statistical: every procedure a worker attends gives
//! them a dose proportional to its DAP (times a role coefficient, a personal habit factor and
//! per-procedure noise). The operational dosimeter records those doses entry by entry; the
//! passive badge records their sum with a lab's ±8% response and the 0.05 mSv recording
//! threshold. Passive and operational therefore agree within the usual tolerance unless a case
//! says otherwise. Outside fluoroscopy (radiology, nuclear medicine) a monthly log-normal dose
//! stands in for the unscheduled work.

use alara_model::{Monitoring, Position, Quantity, Status};
use chrono::Duration;
use rand::Rng;

use crate::Error;
use crate::calendar::{Calendar, compact, rfc3339};
use crate::cases::{Override, Placement};
use crate::hospital::{Site, coefficient_usv_per_gycm2, monitored, monthly_median_msv, monthly_sigma};
use crate::output::{CsvOut, ReadingLine, ReadingsOut};
use crate::rng::{self, lognormal, round_to, tag};
use crate::roster::{Roster, WorkerPlan};
use crate::schedule::Schedules;

/// Source name of the operational (active) dosimetry system.
pub(crate) const OPERATIONAL_SOURCE: &str = "DOSIMETRE-OP";
/// Recording threshold of lab results for badges and lens dosimeters (mSv).
pub(crate) const PASSIVE_THRESHOLD: f64 = 0.05;
/// Recording threshold of rings, less sensitive than badges (mSv).
pub(crate) const RING_THRESHOLD: f64 = 0.1;
/// Resolution of the electronic dosimeters: 1 µSv.
pub(crate) const OPERATIONAL_THRESHOLD: f64 = 0.001;

/// What was written for one worker, month by month, counting each reading identity once (at its
/// highest revision). Kept for case workers so the manifest can state the exact doses.
#[derive(Debug, Clone)]
pub(crate) struct Track {
    /// Passive Hp10: `Some(dose)` (0 for below threshold) or `None` when no result.
    pub hp10: Vec<Option<f64>>,
    /// Lens Hp3 results.
    pub lens: Vec<Option<f64>>,
    /// Ring Hp007 results.
    pub ring: Vec<Option<f64>>,
    /// Sum of operational Hp10 readings.
    pub op: Vec<f64>,
    /// Procedures attended.
    pub procs: Vec<u32>,
    /// Status of a passive badge that gave no result.
    pub missing: Vec<Option<Status>>,
}

impl Track {
    fn new(months: u32) -> Track {
        let m = months as usize;
        Track {
            hp10: vec![None; m],
            lens: vec![None; m],
            ring: vec![None; m],
            op: vec![0.0; m],
            procs: vec![0; m],
            missing: vec![None; m],
        }
    }

    /// Sum of a monthly series over months `[from, to)`.
    pub(crate) fn sum(series: &[Option<f64>], from: u32, to: u32) -> f64 {
        round_to(series[from as usize..to as usize].iter().flatten().sum(), 2)
    }
}

/// The streaming simulator.
pub(crate) struct Sim<'a> {
    seed: u64,
    cal: &'a Calendar,
    placement: &'a Placement,
    roster: &'a Roster,
    sirets: &'a [String; 2],
    schedules: Schedules<'a>,
    /// Passive results to re-send unchanged at the end of the file (duplicate case).
    pub resend: Vec<ReadingLine>,
    /// Corrected results (revision 1) to send at the end of the file (typo case).
    pub corrections: Vec<ReadingLine>,
}

impl<'a> Sim<'a> {
    /// A simulator over one roster.
    pub(crate) fn new(
        seed: u64,
        cal: &'a Calendar,
        placement: &'a Placement,
        roster: &'a Roster,
        sirets: &'a [String; 2],
    ) -> Self {
        Sim {
            seed,
            cal,
            placement,
            roster,
            sirets,
            schedules: Schedules::new(seed, cal, placement, roster),
            resend: Vec::new(),
            corrections: Vec::new(),
        }
    }

    /// The SIRET of a site.
    pub(crate) fn siret(&self, site: Site) -> &'a str {
        match site {
            Site::North => &self.sirets[0],
            Site::South => &self.sirets[1],
        }
    }

    /// A lab (passive, lens or ring) result line for worker `w`, month `i`.
    pub(crate) fn lab_line(
        &self,
        w: &WorkerPlan,
        i: u32,
        monitoring: Monitoring,
        status: Status,
        dose: Option<f64>,
    ) -> ReadingLine {
        let dept = w.segment(i).dept;
        let site = dept.site();
        let (lab, pfx) = site.lab();
        let yyyymm = self.cal.yyyymm(i);
        let (suffix, quantity, position, laterality, threshold) = match monitoring {
            Monitoring::Lens => ("LENS", Quantity::Hp3, Position::Eye, Some("left"), PASSIVE_THRESHOLD),
            Monitoring::Extremity => {
                // Interventionalists' left hand is nearest the tube; nuclear-medicine staff
                // inject with the right.
                let side = if dept.fluoroscopy() { "left" } else { "right" };
                ("RING", Quantity::Hp007, Position::Finger, Some(side), RING_THRESHOLD)
            }
            _ => {
                let pos = if dept.fluoroscopy() { Position::UnderApron } else { Position::Chest };
                ("WB", Quantity::Hp10, pos, None, PASSIVE_THRESHOLD)
            }
        };
        ReadingLine {
            reading_id: format!("{pfx}-{yyyymm}-{}-{suffix}", w.id),
            revision: 0,
            source: lab,
            worker_id: w.id.clone(),
            employer_siret: self.siret(site).to_string(),
            site: site.name(),
            department: dept.name(),
            dosimeter_id: format!("{pfx}-{suffix}-{:06}-{yyyymm}", w.number),
            monitoring: monitoring.as_str(),
            position: Some(position.as_str()),
            laterality,
            quantity: quantity.as_str(),
            status: status.as_str(),
            dose_msv: dose,
            recording_threshold_msv: threshold,
            period_start: self.cal.month_start(i).to_string(),
            period_end: self.cal.month_last_day(i).to_string(),
            radiation: dept.radiation().as_str(),
        }
    }

    /// Streams every month of worker `w`.
    pub(crate) fn worker(
        &mut self,
        w: &WorkerPlan,
        readings: &mut ReadingsOut,
        procedures: &mut CsvOut,
    ) -> Result<Track, Error> {
        let mut track = Track::new(self.cal.len());
        for i in 0..self.cal.len() {
            self.month(w, i, readings, procedures, &mut track)?;
        }
        Ok(track)
    }

    fn month(
        &mut self,
        w: &WorkerPlan,
        i: u32,
        readings: &mut ReadingsOut,
        procedures: &mut CsvOut,
        track: &mut Track,
    ) -> Result<(), Error> {
        let seg = w.segment(i).clone();
        let dept = seg.dept;
        let mut r = rng::rng(&[self.seed, tag::WORKER_MONTH, w.idx as u64, u64::from(i)]);
        let ov = match w.case {
            Some(kind) => self.placement.month(kind, i, &mut r),
            None => Override::default(),
        };
        let schedule = seg.crew.map(|c| self.schedules.month(c, i));
        let mine: Vec<&crate::schedule::Proc> =
            schedule.iter().flat_map(|v| v.iter()).filter(|p| p.team.contains(&w.idx)).collect();

        // True doses of the month.
        let coef = |q| coefficient_usv_per_gycm2(dept, w.role, q);
        // Hp10 per procedure (the operational dosimeter needs it entry by entry); lens and ring
        // only as monthly sums, whose per-procedure noise (σ 0.4) averages to σ 0.4/√n.
        let c10: Vec<f64> = mine
            .iter()
            .map(|p| {
                coef(Quantity::Hp10) * p.dap * w.factor_hp10 * ov.hp10_scale * lognormal(&mut r, 1.0, 0.4) / 1000.0
            })
            .collect();
        let dap: f64 = mine.iter().map(|p| p.dap).sum();
        let spread = 0.4 / (mine.len().max(1) as f64).sqrt();
        let mut lens = coef(Quantity::Hp3) * dap * w.factor_hp3 * lognormal(&mut r, 1.0, spread) / 1000.0;
        let mut ring = coef(Quantity::Hp007) * dap * w.factor_hp007 * lognormal(&mut r, 1.0, spread) / 1000.0;
        let mut hp10: f64 = c10.iter().sum();
        let mut c10 = c10;
        if !dept.fluoroscopy() {
            let load = w.workload(self.seed, self.placement, self.cal, i);
            let median = |q| monthly_median_msv(dept, w.role, q);
            if load > 0.0 {
                hp10 = lognormal(&mut r, median(Quantity::Hp10) * w.factor_hp10 * load, monthly_sigma(dept));
                ring = lognormal(&mut r, median(Quantity::Hp007) * w.factor_hp007 * load, monthly_sigma(dept));
            }
        }
        if let Some(t) = ov.hp10 {
            if hp10 > 0.0 && !c10.is_empty() {
                c10.iter_mut().for_each(|c| *c *= t / hp10);
            }
            hp10 = t;
        }
        lens = ov.lens.unwrap_or(lens);
        ring = ov.ring.unwrap_or(ring);

        // Operational dosimeter: one reading per entry into the room. Staff often stay in the
        // room between consecutive cases of the day, so an entry covers one or more procedures.
        if dept.fluoroscopy() && !ov.no_operational && !mine.is_empty() {
            let crew = &self.roster.crews[seg.crew.unwrap_or_default()];
            let (mut k, mut a) = (0, 0);
            while a < mine.len() {
                let day = mine[a].start.date_naive();
                let mut b = a + 1;
                while b < mine.len()
                    && mine[b].start.date_naive() == day
                    && mine[b].start - mine[b - 1].end < Duration::minutes(45)
                    && r.random::<f64>() < 0.6
                {
                    b += 1;
                }
                k = if a > 0 && mine[a - 1].start.date_naive() == day { k + 1 } else { 1 };
                let dose = round_to(c10[a..b].iter().sum::<f64>() * lognormal(&mut r, 1.0, 0.1), 3);
                let entry = mine[a].start - Duration::minutes(r.random_range(2..7));
                let last_end = mine[a..b].iter().map(|p| p.end).max().unwrap_or(mine[a].end);
                let exit = last_end + Duration::minutes(r.random_range(1..5));
                let measured = dose >= OPERATIONAL_THRESHOLD;
                let line = ReadingLine {
                    reading_id: format!("EPD-{}-{}-{k:02}", compact(day), w.id),
                    revision: 0,
                    source: OPERATIONAL_SOURCE,
                    worker_id: w.id.clone(),
                    employer_siret: self.siret(dept.site()).to_string(),
                    site: dept.site().name(),
                    department: dept.name(),
                    dosimeter_id: format!("EPD-{}-{:02}", crew.code, r.random_range(1..=12)),
                    monitoring: Monitoring::Operational.as_str(),
                    position: Some(Position::UnderApron.as_str()),
                    laterality: None,
                    quantity: Quantity::Hp10.as_str(),
                    status: if measured { Status::Measured } else { Status::BelowThreshold }.as_str(),
                    dose_msv: measured.then_some(dose),
                    recording_threshold_msv: OPERATIONAL_THRESHOLD,
                    period_start: rfc3339(entry),
                    period_end: rfc3339(exit),
                    radiation: dept.radiation().as_str(),
                };
                readings.valid(&line, true)?;
                if measured {
                    track.op[i as usize] += dose;
                }
                a = b;
            }
        }

        // Passive badge (the legal record).
        let u: f64 = r.random();
        let missing = ov.passive_status.or(match w.case {
            None if u < 0.004 => Some(Status::NotReturned),
            None if u < 0.005 => Some(Status::Lost),
            None if u < 0.006 => Some(Status::NoResult),
            _ => None,
        });
        let line = match missing {
            Some(status) => {
                track.missing[i as usize] = Some(status);
                self.lab_line(w, i, Monitoring::Passive, status, None)
            }
            None => {
                let v = if ov.not_worn {
                    0.0
                } else if ov.hp10.is_some() {
                    hp10 + ov.passive_extra
                } else {
                    hp10 * lognormal(&mut r, 1.0, 0.08) + ov.passive_extra
                };
                let (status, dose) = lab_result(v, PASSIVE_THRESHOLD);
                track.hp10[i as usize] = Some(dose.unwrap_or(0.0));
                self.lab_line(w, i, Monitoring::Passive, status, dose)
            }
        };
        readings.valid(&line, true)?;
        if ov.resend {
            self.resend.push(line);
        }

        // Eye-lens dosimeter.
        if monitored(dept, w.role, Quantity::Hp3) {
            let v = if ov.not_worn {
                0.0
            } else if ov.lens.is_some() {
                lens
            } else {
                lens * lognormal(&mut r, 1.0, 0.08)
            };
            let (status, dose) = lab_result(v, PASSIVE_THRESHOLD);
            track.lens[i as usize] = Some(dose.unwrap_or(0.0));
            let line = self.lab_line(w, i, Monitoring::Lens, status, dose);
            if ov.typo {
                // The lab first keys 45.0 for 0.45, then re-sends the corrected result.
                let slip = ReadingLine { dose_msv: dose.map(|d| round_to(d * 100.0, 2)), ..line.clone() };
                readings.valid(&slip, true)?;
                self.corrections.push(ReadingLine { revision: 1, ..line });
            } else {
                readings.valid(&line, true)?;
            }
        }

        // Ring.
        if monitored(dept, w.role, Quantity::Hp007) {
            let v = if ov.not_worn {
                0.0
            } else if ov.ring.is_some() {
                ring
            } else {
                ring * lognormal(&mut r, 1.0, 0.08)
            };
            let (status, dose) = lab_result(v, RING_THRESHOLD);
            track.ring[i as usize] = Some(dose.unwrap_or(0.0));
            readings.valid(&self.lab_line(w, i, Monitoring::Extremity, status, dose), true)?;
        }

        // Workload rows from the dose-archiving system, one per procedure attended.
        let room = seg.crew.map(|c| self.roster.crews[c].room.as_str()).unwrap_or_default();
        for p in &mine {
            procedures.row(&[
                &p.id,
                &w.id,
                dept.name(),
                room,
                p.ptype,
                &rfc3339(p.start),
                &rfc3339(p.end),
                &format!("{:.0}", p.fluoro_s),
                &format!("{:.2}", p.dap),
            ])?;
        }
        track.procs[i as usize] = mine.len() as u32;
        Ok(())
    }
}

/// A lab's result for a true dose: two decimals, below the threshold reported as such (no dose).
fn lab_result(v: f64, threshold: f64) -> (Status, Option<f64>) {
    let v = round_to(v.max(0.0), 2);
    if v < threshold { (Status::BelowThreshold, None) } else { (Status::Measured, Some(v)) }
}
