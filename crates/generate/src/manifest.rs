//! The manifest: what was generated, exact counts, and the known cases a detection must find
//! (or must not flag), with the doses actually written.

use std::path::Path;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::cases::{CAEN_SERIES, CaseKind, ESR_DOSE, Expect, PITIE_SERIES, Placement, ROLLING_SERIES, TYPO_VALUE};
use crate::roster::WorkerPlan;
use crate::simulate::Track;
use crate::{Error, MANIFEST_FILE, PROCEDURES_FILE, READINGS_FILE, WORKERS_FILE};

/// Everything a test needs to check a pipeline run against the generated data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Seed used.
    pub seed: u64,
    /// Workers generated.
    pub workers: usize,
    /// Months generated.
    pub months: u32,
    /// First day of the first month.
    pub start: NaiveDate,
    /// First day after the last month.
    pub end: NaiveDate,
    /// The file names.
    #[serde(default)]
    pub files: Files,
    /// Exact line counts.
    pub counts: Counts,
    /// Injected cases and controls.
    pub cases: Vec<Case>,
    /// The deliberately invalid lines of readings.jsonl.
    pub invalid: Vec<InvalidLine>,
}

/// Names of the generated files, relative to the output directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Files {
    /// JSON Lines readings.
    pub readings: String,
    /// `;`-separated workers.
    pub workers: String,
    /// `,`-separated procedures.
    pub procedures: String,
}

impl Default for Files {
    fn default() -> Self {
        Files {
            readings: READINGS_FILE.to_string(),
            workers: WORKERS_FILE.to_string(),
            procedures: PROCEDURES_FILE.to_string(),
        }
    }
}

/// Exact counts, computed while writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Lines of readings.jsonl (all non-blank).
    pub readings_lines: u64,
    /// Lines that pass validation.
    pub readings_valid: u64,
    /// Lines that must be rejected (= `invalid.len()`).
    pub readings_invalid: u64,
    /// Distinct `(source, reading_id)` among valid lines: re-sent duplicates and corrected
    /// revisions count once.
    pub readings_distinct_identities: u64,
    /// Data rows of workers.csv (header excluded), one per worker version.
    pub workers_lines: u64,
    /// Data rows of procedures.csv (header excluded), one per worker present at a procedure.
    pub procedures_lines: u64,
}

/// One injected case or control, on its own worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// Stable name (`limit-hp3-caen`).
    pub case_id: String,
    /// Which view must (or, for `none`, must not) report it.
    pub expect: Expect,
    /// `level` (overexposure) or `signal` (other views); for `none`, the level that must stay
    /// silent (null: limit, esr and pregnancy).
    pub level_or_signal: Option<String>,
    /// The worker.
    pub worker_id: String,
    /// Quantity concerned (`Hp10`, `Hp3`, `Hp007`).
    pub quantity: Option<String>,
    /// First day of the case's window or episode.
    pub period_start: NaiveDate,
    /// Last day (inclusive) of the window or episode.
    pub period_end: NaiveDate,
    /// Dose over the window as written, each identity counted once at its highest revision:
    /// the 12-month sum, the single result, the dose since declaration, or the passive sum.
    pub dose_msv: Option<f64>,
    /// For a mismatch: the operational sum over the same months.
    pub reference_msv: Option<f64>,
    /// The regulatory value the case is built around.
    pub threshold_msv: Option<f64>,
    /// Count of the evidence: missing badges, below-threshold months, procedures without an
    /// operational reading, procedures attended.
    pub evidence_count: Option<u64>,
    /// Other findings a correct detection may raise on this worker (`view/level_or_signal`).
    pub also_expected: Vec<String>,
    /// What happened, with the numbers.
    pub description: String,
}

/// A line of readings.jsonl that must be rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidLine {
    /// 1-based line number.
    pub line: u64,
    /// A fragment of the rejection reason.
    pub reason_contains: String,
}

fn ym(cal: &Calendar, i: u32) -> String {
    cal.month_start(i).format("%Y-%m").to_string()
}

/// The largest sum over `len` consecutive months.
pub(crate) fn max_window(series: &[Option<f64>], len: usize) -> f64 {
    let len = len.min(series.len());
    (0..=series.len() - len)
        .map(|a| crate::rng::round_to(series[a..a + len].iter().flatten().sum(), 2))
        .fold(0.0, f64::max)
}

fn list(v: &[f64]) -> String {
    v.iter().map(|x| format!("{x:.2}")).collect::<Vec<_>>().join(", ")
}

/// Builds the manifest entry of a case from what was written for its worker.
pub(crate) fn case(kind: CaseKind, w: &WorkerPlan, t: &Track, cal: &Calendar, p: &Placement) -> Case {
    use CaseKind::*;
    let (expect, level, quantity) = kind.expectation();
    let (from, to) = p.window(kind);
    let mut period_start = cal.month_start(from);
    let period_end = cal.month_last_day(to - 1);
    let m = cal.len();
    let op_sum = |a: u32, b: u32| crate::rng::round_to(t.op[a as usize..b as usize].iter().sum(), 3);
    let procs = |a: u32, b: u32| t.procs[a as usize..b as usize].iter().map(|n| u64::from(*n)).sum::<u64>();
    let mut dose = None;
    let mut reference = None;
    let mut evidence = None;
    let description = match kind {
        LimitHp10Rolling => {
            let sum = Track::sum(&t.hp10, from, to);
            dose = Some(sum);
            let mut years: Vec<(i32, f64)> = Vec::new();
            for i in 0..m {
                let y = cal.month_start(i).year();
                let d = t.hp10[i as usize].unwrap_or(0.0);
                match years.iter_mut().find(|(yy, _)| *yy == y) {
                    Some((_, s)) => *s += d,
                    None => years.push((y, d)),
                }
            }
            let years: Vec<String> = years.iter().map(|(y, s)| format!("{y}: {s:.2}")).collect();
            format!(
                "Nuclear-medicine radiographer (PET hot lab). Passive Hp10 {} mSv/month from {} to {} \
                 = {sum:.2} mSv over those 12 consecutive months, the only 12-month window above 20 \
                 (the windows shifted by one month hold ≤ 19.82); 0.06–0.10 mSv/month otherwise. \
                 Calendar-year sums [{}]: no calendar year exceeds 20, only the rolling window does.",
                list(&ROLLING_SERIES),
                ym(cal, from),
                ym(cal, to - 1),
                years.join(", ")
            )
        }
        LimitHp3Caen => {
            let sum = Track::sum(&t.lens, from, to);
            dose = Some(sum);
            let before = if from > 0 { Track::sum(&t.lens, from - 1, to - 1) } else { 0.0 };
            let after = if to < m { Track::sum(&t.lens, from + 1, to + 1) } else { 0.0 };
            format!(
                "Caen-like: interventional radiologist whose fluoroscopy-guided workload rose markedly \
                 (×1.0 → ×2.5 procedures; lens dose per procedure up to 1.8× the peers'). Lens Hp3 {} mSv/month from {} to {} = {sum:.2} mSv, slightly \
                 above 20 over 12 consecutive months; the windows ending one month earlier and later \
                 hold {before:.2} and {after:.2}. Lens-exposing work stopped afterwards (below threshold, \
                 no procedures).",
                list(&CAEN_SERIES),
                ym(cal, from),
                ym(cal, to - 1)
            )
        }
        LimitHp007Pitie => {
            let sum = Track::sum(&t.ring, from, to);
            dose = Some(sum);
            format!(
                "Pitié-like: interventional (neuro)radiologist doing fluoroscopy-guided punctures with \
                 the hands in the primary beam. Ring Hp007 {} mSv/month from {} to {} (533.00 mSv in 6 \
                 months, every result below the 125 mSv single-result ESR trigger); 12-month sum \
                 {sum:.2} mSv over {}–{}.",
                list(&PITIE_SERIES),
                ym(cal, p.pitie),
                ym(cal, p.pitie + 5),
                ym(cal, from),
                ym(cal, to - 1)
            )
        }
        EsrHp10 => {
            dose = Some(ESR_DOSE);
            format!(
                "Radiology radiographer whose badge was left in the CT room: one passive Hp10 result of \
                 {ESR_DOSE:.2} mSv for {} (≥ 5, a quarter of the annual limit); every other month below \
                 threshold, so no 12-month sum exceeds {:.2} (< 6).",
                ym(cal, from),
                max_window(&t.hp10, 12)
            )
        }
        InvestigationHp10 => {
            let sum = Track::sum(&t.hp10, from, to);
            dose = Some(sum);
            format!(
                "Nuclear-medicine radiographer with a heavy PET load: Hp10 0.74–0.86 mSv/month every \
                 month; {sum:.2} mSv over {}–{} (every 12-month window lies between 6 and 20; no single \
                 result ≥ 5).",
                ym(cal, from),
                ym(cal, to - 1)
            )
        }
        PregnancyHp10 | ControlPregnancyLow => {
            let (declared, valid_from) = p.pregnancy_dates(cal, kind).unwrap_or_default();
            period_start = declared;
            let sum = Track::sum(&t.hp10, from, to);
            dose = Some(sum);
            if kind == PregnancyHp10 {
                format!(
                    "Nuclear-medicine nurse who declared her pregnancy on {declared} (second worker version \
                     valid_from {valid_from}, category B) and kept injecting: the badge of the declaration \
                     month is below threshold, then 0.19–0.24 mSv/month; Hp10 since the declaration = \
                     {sum:.2} mSv (> 1)."
                )
            } else {
                format!(
                    "Interventional-cardiology nurse who declared her pregnancy on {declared} and was \
                     reassigned to radiology from {valid_from} (second worker version: department change \
                     and pregnancy); every badge from the declaration month on is below threshold: Hp10 \
                     since the declaration = {sum:.2} mSv (< 1). Must not be flagged at pregnancy."
                )
            }
        }
        ProjectedHp3 => {
            let sum = Track::sum(&t.lens, from, to);
            dose = Some(sum);
            format!(
                "Interventional cardiologist who stopped wearing lead glasses while taking 1.6× more cases \
                 in the last 3 months: lens 0.42–0.55 mSv/month, then {} mSv for {}–{}. 12-month sum at \
                 the end of the data {sum:.2} mSv (< 20), but the last-3-month rate (2.60 mSv/month) \
                 crosses 20 within 12 months. No single result ≥ 5.",
                list(&crate::cases::PROJECTED_TAIL),
                ym(cal, m - 3),
                ym(cal, m - 1)
            )
        }
        LimitHp10Apprentice => {
            let sum = Track::sum(&t.hp10, from, to);
            dose = Some(sum);
            format!(
                "Student radiographer (apprentice, limits 6 mSv Hp10 / 15 lens / 150 extremities) in \
                 nuclear medicine: Hp10 0.54–0.62 mSv/month over {}–{} = {sum:.2} mSv (> 6; each result \
                 < 1.5, the apprentice ESR trigger), 0.15–0.25 mSv/month before. Adult limits are not \
                 exceeded.",
                ym(cal, from),
                ym(cal, to - 1)
            )
        }
        NotReturned => {
            let items: Vec<String> = p.not_returned.iter().map(|(i, s)| format!("{} {}", ym(cal, *i), s)).collect();
            evidence = Some(t.missing.iter().flatten().count() as u64);
            format!("Orthopaedic theatre nurse whose passive badges came back without result: {}.", items.join(", "))
        }
        ZeroWhilePeersExposed => {
            let below = t.hp10[from as usize..to as usize].iter().filter(|d| **d == Some(0.0)).count();
            evidence = Some(below as u64);
            reference = Some(op_sum(from, to));
            format!(
                "Interventional cardiologist who leaves the passive badge (and ring and lens dosimeter) in \
                 the locker for {below} consecutive months {}–{}: every passive result below threshold, \
                 while the IC cardiologist peers read ~0.1–0.4 mSv/month. The operational dosimeter, \
                 still worn, shows {:.3} mSv over those months (reference_msv), and {} procedures were \
                 attended.",
                ym(cal, from),
                ym(cal, to - 1),
                op_sum(from, to),
                procs(from, to)
            )
        }
        ProcedureWithoutDosimeter => {
            evidence = Some(procs(from, to));
            format!(
                "Urology theatre nurse present at {} fluoroscopy procedures from {} to {} with no \
                 operational reading at all in those months (one reading per entry before and after). Her \
                 passive badges stay below threshold, as for her peers.",
                procs(from, to),
                ym(cal, from),
                ym(cal, to - 1)
            )
        }
        PeerOutlierHp10 => {
            let sum = Track::sum(&t.hp10, from, to);
            dose = Some(sum);
            evidence = Some(procs(from, to));
            format!(
                "Interventional cardiologist with a quarter of an ordinary workload ({} procedures over the \
                 period) but 10× the Hp10 per unit of workload (per Gy·cm² of DAP) of IC cardiologist \
                 peers: ill-fitting apron, no ceiling shield. Passive and operational agree; passive \
                 Hp10 total {sum:.2} mSv, operational {:.3} mSv. Lens and ring are ordinary.",
                procs(from, to),
                op_sum(from, to)
            )
        }
        PassiveOperationalMismatch => {
            let sum = Track::sum(&t.hp10, from, to);
            dose = Some(sum);
            reference = Some(op_sum(from, to));
            format!(
                "Interventional cardiologist whose passive badge hung on the apron rack in the cath lab for \
                 {} months {}–{}: passive Hp10 {sum:.2} mSv against {:.3} mSv of operational readings over \
                 the same months (the badge reads 0.55–0.70 mSv/month above the operational sum); \
                 ordinary agreement in the other months.",
                to - from,
                ym(cal, from),
                ym(cal, to - 1),
                op_sum(from, to)
            )
        }
        ControlClean1 | ControlClean2 | ControlClean3 => {
            let post = match kind {
                ControlClean1 => "interventional cardiologist",
                ControlClean2 => "interventional radiologist",
                _ => "radiology radiographer (results almost all below threshold)",
            };
            format!("Ordinary {post} with neutral habits: must raise no limit, esr or pregnancy finding.")
        }
        DuplicateNearLimit => {
            let sum = Track::sum(&t.hp10, from, to);
            dose = Some(sum);
            format!(
                "Nuclear-medicine radiographer at 1.20–1.30 mSv/month over {}–{}: {sum:.2} mSv counted \
                 once (< 20). Those 12 passive results are re-sent twice, unchanged (same source, \
                 reading_id and revision), at the end of readings.jsonl: summing every copy gives \
                 {:.2}. Must not be flagged at limit.",
                ym(cal, from),
                ym(cal, to - 1),
                sum * 3.0
            )
        }
        CorrectedTypo => {
            dose = Some(TYPO_VALUE);
            format!(
                "Interventional cardiologist whose lens result for {} was first sent as {:.2} mSv (revision \
                 0, a decimal slip) and re-sent corrected as {TYPO_VALUE:.2} mSv (revision 1, same source \
                 and reading_id, near the end of readings.jsonl). With the highest revision nothing is \
                 flagged; revision 0 would look like a lens limit and an ESR.",
                ym(cal, from),
                TYPO_VALUE * 100.0
            )
        }
        ControlLensSteady => {
            let sum = Track::sum(&t.lens, from, to);
            dose = Some(sum);
            let months: Vec<f64> = t.lens[from as usize..to as usize].iter().flatten().copied().collect();
            let (lo, hi) =
                (months.iter().copied().fold(f64::MAX, f64::min), months.iter().copied().fold(0.0, f64::max));
            format!(
                "High-volume interventional cardiologist (1.9× the ordinary workload, ordinary lens dose per \
                 procedure): lens {lo:.2}–{hi:.2} mSv/month, 12-month sum {sum:.2} over {}–{}, high but flat; \
                 the last-3-month rate × 12 stays under 20. Must not be flagged as projected (nor at limit).",
                ym(cal, from),
                ym(cal, to - 1)
            )
        }
        ControlApprenticeLow => "Student radiographer (apprentice) in interventional radiology with ordinary, \
             mostly below-threshold doses: must not be flagged at the apprentice limits."
            .to_string(),
    };
    Case {
        case_id: kind.id().to_string(),
        expect,
        level_or_signal: level.map(str::to_string),
        worker_id: w.id.clone(),
        quantity: quantity.map(|q| q.as_str().to_string()),
        period_start,
        period_end,
        dose_msv: dose,
        reference_msv: reference,
        threshold_msv: kind.threshold_msv(),
        evidence_count: evidence,
        also_expected: kind.also_expected().iter().map(|s| s.to_string()).collect(),
        description,
    }
}

/// Writes manifest.json (pretty-printed, then renamed into place).
pub(crate) fn write(dir: &Path, manifest: &Manifest) -> Result<(), Error> {
    let path = dir.join(MANIFEST_FILE);
    let tmp = dir.join(format!("{MANIFEST_FILE}.tmp"));
    let mut text = serde_json::to_string_pretty(manifest)
        .map_err(|e| Error::Write { path: path.clone(), source: std::io::Error::other(e) })?;
    text.push('\n');
    std::fs::write(&tmp, text).map_err(|source| Error::Write { path: tmp.clone(), source })?;
    std::fs::rename(&tmp, &path).map_err(|source| Error::Write { path, source })
}
