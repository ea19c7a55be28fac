//! Whole-run tests: generate into a temporary directory, read the files back with the model's
//! own decoders and validator, and check every claim of the manifest independently of the
//! generator's internals.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use alara_model::{Fields, Kind, Monitoring, Procedure, Quantity, Reading, Record, Role, Status, Validator, Worker};
use chrono::{Datelike, NaiveDate};

use crate::{Case, Error, Expect, GenerateOptions, Manifest, generate, min_workers};

/// A directory of this test's own (tempfile: a unique name, so two runs at once never share it),
/// removed on drop. `.0` is where to generate (not yet existing, as `generate` expects nothing).
struct TempDir(PathBuf, #[allow(dead_code)] tempfile::TempDir);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let t = tempfile::Builder::new().prefix(&format!("alara-generate-test-{name}-")).tempdir().expect("tempdir");
        TempDir(t.path().join("out"), t)
    }
}

/// Everything read back from a generated directory.
struct Data {
    manifest: Manifest,
    lines: u64,
    /// Every valid line, duplicates included.
    all: Vec<Reading>,
    /// One reading per identity, highest revision.
    readings: Vec<Reading>,
    rejects: Vec<(u64, String)>,
    workers: Vec<Worker>,
    procedures: Vec<Procedure>,
    /// Positions in `readings` and `procedures` of each worker's rows.
    index: HashMap<String, (Vec<usize>, Vec<usize>)>,
}

fn csv_records(path: &Path, delimiter: u8, kind: Kind) -> Vec<Record> {
    let mut rdr = csv::ReaderBuilder::new().delimiter(delimiter).from_path(path).unwrap();
    let header: Vec<String> = rdr.headers().unwrap().iter().map(str::to_string).collect();
    rdr.records()
        .map(|rec| {
            let cells: Vec<String> = rec.unwrap().iter().map(str::to_string).collect();
            let f = Fields::from_csv(&header, &cells).unwrap();
            Validator::default().validate(kind, &f).unwrap_or_else(|p| panic!("{kind:?} row invalid: {p}: {cells:?}"))
        })
        .collect()
}

fn load(dir: &Path) -> Data {
    let manifest: Manifest = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let text = std::fs::read_to_string(dir.join("readings.jsonl")).unwrap();
    let mut all = Vec::new();
    let mut rejects = Vec::new();
    let mut lines = 0;
    for (i, line) in text.lines().enumerate() {
        lines += 1;
        let n = i as u64 + 1;
        match Fields::from_json(line.as_bytes()) {
            Err(e) => rejects.push((n, e.to_string())),
            Ok(f) => match Validator::default().reading(&f) {
                Ok(r) => all.push(r),
                Err(p) => rejects.push((n, p.to_string())),
            },
        }
    }
    let mut best: HashMap<(String, String), Reading> = HashMap::new();
    for r in &all {
        let key = (r.source.clone(), r.reading_id.clone());
        match best.get(&key) {
            Some(b) if b.revision >= r.revision => {}
            _ => {
                best.insert(key, r.clone());
            }
        }
    }
    let mut readings: Vec<Reading> = best.into_values().collect();
    readings.sort_by(|a, b| (&a.source, &a.reading_id).cmp(&(&b.source, &b.reading_id)));
    let workers = csv_records(&dir.join("workers.csv"), b';', Kind::Workers)
        .into_iter()
        .map(|r| match r {
            Record::Worker(w) => w,
            _ => unreachable!(),
        })
        .collect();
    let procedures = csv_records(&dir.join("procedures.csv"), b',', Kind::Procedures)
        .into_iter()
        .map(|r| match r {
            Record::Procedure(p) => p,
            _ => unreachable!(),
        })
        .collect();
    let procedures: Vec<Procedure> = procedures;
    let mut index: HashMap<String, (Vec<usize>, Vec<usize>)> = HashMap::new();
    for (i, r) in readings.iter().enumerate() {
        index.entry(r.worker_id.clone()).or_default().0.push(i);
    }
    for (i, p) in procedures.iter().enumerate() {
        index.entry(p.worker_id.clone()).or_default().1.push(i);
    }
    Data { manifest, lines, all, readings, rejects, workers, procedures, index }
}

fn run(name: &str, opts: &GenerateOptions) -> (TempDir, Data) {
    let dir = TempDir::new(name);
    let m = generate(&dir.0, opts).unwrap();
    let data = load(&dir.0);
    assert_eq!(m, data.manifest, "returned and written manifests agree");
    (dir, data)
}

impl Data {
    fn case(&self, id: &str) -> &Case {
        self.manifest.cases.iter().find(|c| c.case_id == id).unwrap_or_else(|| panic!("case {id} missing"))
    }

    /// Month index of a date relative to the manifest start.
    fn month(&self, d: NaiveDate) -> usize {
        let s = self.manifest.start;
        ((d.year() - s.year()) * 12 + d.month() as i32 - s.month() as i32) as usize
    }

    /// A worker's lab results of one kind by month (0 for below threshold, None when missing).
    fn series(&self, worker: &str, monitoring: Monitoring) -> Vec<Option<f64>> {
        let mut v = vec![None; self.manifest.months as usize];
        for r in self.of(worker).filter(|r| r.monitoring == monitoring) {
            let m = self.month(r.period_start.date_naive());
            match r.status {
                Status::Measured | Status::Estimated => v[m] = Some(v[m].unwrap_or(0.0) + r.dose_msv.unwrap()),
                Status::BelowThreshold => v[m] = Some(v[m].unwrap_or(0.0)),
                _ => {}
            }
        }
        v
    }

    /// Operational Hp10 sums by month.
    fn operational(&self, worker: &str) -> Vec<f64> {
        let mut v = vec![0.0; self.manifest.months as usize];
        for r in self.of(worker).filter(|r| r.monitoring == Monitoring::Operational) {
            v[self.month(r.period_start.date_naive())] += r.dose_msv.unwrap_or(0.0);
        }
        v
    }

    /// A worker's readings (one per identity).
    fn of<'a>(&'a self, worker: &str) -> impl Iterator<Item = &'a Reading> + 'a {
        let idx = self.index.get(worker).map(|(r, _)| r.as_slice()).unwrap_or_default();
        idx.iter().map(|i| &self.readings[*i])
    }

    /// A worker's procedure rows.
    fn procedures_of<'a>(&'a self, worker: &str) -> impl Iterator<Item = &'a Procedure> + 'a {
        let idx = self.index.get(worker).map(|(_, p)| p.as_slice()).unwrap_or_default();
        idx.iter().map(|i| &self.procedures[*i])
    }

    fn current(&self, worker: &str) -> &Worker {
        self.workers.iter().filter(|w| w.worker_id == worker).max_by_key(|w| w.valid_from).unwrap()
    }
}

fn sum(s: &[Option<f64>]) -> f64 {
    s.iter().flatten().sum()
}

fn windows(s: &[Option<f64>]) -> Vec<f64> {
    s.windows(12).map(sum).collect()
}

fn max(v: impl IntoIterator<Item = f64>) -> f64 {
    v.into_iter().fold(0.0, f64::max)
}

#[test]
fn same_options_give_the_same_bytes() {
    let opts = GenerateOptions { workers: 40, ..Default::default() };
    let (a, b) = (TempDir::new("det-a"), TempDir::new("det-b"));
    generate(&a.0, &opts).unwrap();
    generate(&b.0, &opts).unwrap();
    for f in ["readings.jsonl", "workers.csv", "procedures.csv", "manifest.json"] {
        let (x, y) = (std::fs::read(a.0.join(f)).unwrap(), std::fs::read(b.0.join(f)).unwrap());
        assert!(x == y, "{f} differs between two runs");
        assert!(!a.0.join(format!("{f}.tmp")).exists());
    }
    let c = TempDir::new("det-c");
    generate(&c.0, &GenerateOptions { seed: 7, ..opts }).unwrap();
    assert_ne!(std::fs::read(a.0.join("readings.jsonl")).unwrap(), std::fs::read(c.0.join("readings.jsonl")).unwrap());
}

#[test]
fn counts_and_rejections_match_a_recount() {
    let (dir, d) = run("counts", &GenerateOptions { workers: 60, ..Default::default() });
    let c = d.manifest.counts;
    assert_eq!(c.readings_lines, d.lines);
    assert_eq!(c.readings_valid, d.all.len() as u64);
    assert_eq!(c.readings_invalid, d.rejects.len() as u64);
    assert_eq!(c.readings_valid + c.readings_invalid, c.readings_lines);
    assert_eq!(c.readings_distinct_identities, d.readings.len() as u64);
    assert_eq!(c.readings_valid - c.readings_distinct_identities, 25, "24 re-sent duplicates and 1 correction");
    assert_eq!(c.workers_lines, d.workers.len() as u64);
    assert_eq!(c.procedures_lines, d.procedures.len() as u64);
    // Every rejected line is listed, with its reason.
    assert_eq!(d.manifest.invalid.len(), 16);
    for (inv, (line, reason)) in d.manifest.invalid.iter().zip(&d.rejects) {
        assert_eq!(inv.line, *line);
        assert!(reason.contains(&inv.reason_contains), "line {line}: '{reason}' lacks '{}'", inv.reason_contains);
    }
    let kinds: HashSet<&str> = d.manifest.invalid.iter().map(|i| i.reason_contains.as_str()).collect();
    assert!(kinds.len() >= 8, "{kinds:?}");
    // Every worker id in readings and procedures exists in workers.csv; sites have two SIRETs.
    let ids: HashSet<&str> = d.workers.iter().map(|w| w.worker_id.as_str()).collect();
    assert_eq!(ids.len(), 60);
    assert!(d.all.iter().all(|r| ids.contains(r.worker_id.as_str())));
    assert!(d.procedures.iter().all(|p| ids.contains(p.worker_id.as_str())));
    let sirets: HashSet<&str> = d.all.iter().map(|r| r.employer_siret.as_str()).collect();
    assert_eq!(sirets.len(), 2);
    // The CSV files use the announced delimiters.
    let workers = std::fs::read_to_string(dir.0.join("workers.csv")).unwrap();
    assert!(workers.starts_with("worker_id;employer_siret;department;role;category;"), "{workers:.80}");
    let procs = std::fs::read_to_string(dir.0.join("procedures.csv")).unwrap();
    assert!(procs.starts_with("procedure_id,worker_id,department,room,procedure_type,started_at,"));
    // Passive badges are monthly: first to last day of the month.
    for r in d.all.iter().filter(|r| r.monitoring == Monitoring::Passive) {
        let (s, e) = (r.period_start.date_naive(), r.period_end.date_naive());
        assert_eq!((s.day(), s.month(), e.succ_opt().unwrap().day()), (1, e.month(), 1), "{r:?}");
    }
    // Operational readings sit on procedure days.
    let days: HashSet<(&str, NaiveDate)> =
        d.procedures.iter().map(|p| (p.worker_id.as_str(), p.started_at.date_naive())).collect();
    for r in d.all.iter().filter(|r| r.monitoring == Monitoring::Operational) {
        assert!(days.contains(&(r.worker_id.as_str(), r.period_start.date_naive())), "{r:?}");
    }
    // Procedure ids are shared by the team present.
    let mut team: HashMap<&str, usize> = HashMap::new();
    for p in &d.procedures {
        *team.entry(p.procedure_id.as_str()).or_default() += 1;
    }
    assert!(team.values().filter(|n| **n >= 2).count() * 2 > team.len(), "most procedures have a team");
}

#[test]
fn every_case_holds_on_the_written_data() {
    let (_dir, d) = run("cases", &GenerateOptions::default());
    assert_eq!(d.manifest.cases.len(), 21);
    let workers: HashSet<&str> = d.manifest.cases.iter().map(|c| c.worker_id.as_str()).collect();
    assert_eq!(workers.len(), 21, "each case on its own worker");
    for c in &d.manifest.cases {
        assert!(c.period_start <= c.period_end, "{}", c.case_id);
        if c.expect != Expect::None {
            assert!(c.level_or_signal.is_some(), "{}", c.case_id);
        }
    }
    let idx = |c: &Case| (d.month(c.period_start), d.month(c.period_end) + 1);

    // Cases outside `overexposure` stay below the Hp10 levels unless their side effects say so.
    for c in d.manifest.cases.iter().filter(|c| c.expect != Expect::Overexposure) {
        let s = d.series(&c.worker_id, Monitoring::Passive);
        let quiet = !c.also_expected.iter().any(|a| a.starts_with("overexposure/"));
        let limit = if quiet && c.case_id != "duplicate-near-limit" { 6.0 } else { 20.0 };
        assert!(max(windows(&s)) < limit, "{}: {}", c.case_id, max(windows(&s)));
        assert!(max(s.iter().flatten().copied()) < 5.0, "{}", c.case_id);
        let lens = d.series(&c.worker_id, Monitoring::Lens);
        assert!(max(windows(&lens)) < 15.0, "{}", c.case_id);
    }

    // Rolling Hp10: no calendar year above 20, but a 12-month window is.
    let c = d.case("limit-hp10-rolling");
    let s = d.series(&c.worker_id, Monitoring::Passive);
    let mut years: BTreeMap<i32, f64> = BTreeMap::new();
    for (m, v) in s.iter().enumerate() {
        let y = d.manifest.start.checked_add_months(chrono::Months::new(m as u32)).unwrap().year();
        *years.entry(y).or_default() += v.unwrap_or(0.0);
    }
    assert!(years.values().all(|s| *s <= 20.0), "{years:?}");
    let w = windows(&s);
    assert!(max(w.iter().copied()) > 20.0);
    assert_eq!(w.iter().filter(|x| **x > 20.0).count(), 1, "one window exceeds: {w:?}");
    let (a, b) = idx(c);
    assert!((sum(&s[a..b]) - c.dose_msv.unwrap()).abs() < 1e-6 && b - a == 12);

    // Caen: the June–May lens window is just above 20, and it is the only one.
    let c = d.case("limit-hp3-caen");
    let s = d.series(&c.worker_id, Monitoring::Lens);
    let (a, b) = idx(c);
    assert_eq!(c.period_start.month(), 6);
    let caen = sum(&s[a..b]);
    assert!(caen > 20.0 && caen <= 21.0, "{caen}");
    assert_eq!(windows(&s).iter().filter(|x| **x > 20.0).count(), 1);
    assert!(s[a..b].windows(2).all(|p| p[1] > p[0]), "rising: {s:?}");

    // Pitié: hands above 500 in 12 months, never 125 in one result.
    let c = d.case("limit-hp007-pitie");
    let s = d.series(&c.worker_id, Monitoring::Extremity);
    assert!(max(windows(&s)) > 500.0 && max(s.iter().flatten().copied()) < 125.0);

    // ESR: one result ≥ 5, yet no 12-month sum reaches 6.
    let c = d.case("esr-hp10");
    let s = d.series(&c.worker_id, Monitoring::Passive);
    assert_eq!(s.iter().flatten().filter(|v| **v >= 5.0).count(), 1);
    assert!(max(windows(&s)) < 6.0);

    // Investigation: every 12-month window between 6 and 20.
    let s = d.series(&d.case("investigation-hp10").worker_id, Monitoring::Passive);
    assert!(windows(&s).iter().all(|x| *x > 6.0 && *x < 20.0), "{:?}", windows(&s));

    // Pregnancy: > 1 mSv since the declaration (read from workers.csv), the control < 1.
    for (id, above) in [("pregnancy-hp10", true), ("control-pregnancy-low", false)] {
        let c = d.case(id);
        let w = d.current(&c.worker_id);
        let declared = w.pregnancy_declared_on.unwrap();
        assert_eq!(declared, c.period_start);
        let since: f64 = d
            .readings
            .iter()
            .filter(|r| r.worker_id == c.worker_id && r.monitoring == Monitoring::Passive)
            .filter(|r| r.period_end.date_naive() >= declared)
            .filter_map(|r| r.dose_msv)
            .sum();
        assert_eq!(since > 1.0, above, "{id}: {since}");
    }
    let low = d.current(&d.case("control-pregnancy-low").worker_id);
    assert_eq!(low.department, "radiology", "reassigned");

    // Projected: under 20 over the last 12 months, but the last 3 months' rate crosses 20.
    let s = d.series(&d.case("projected-hp3").worker_id, Monitoring::Lens);
    let n = s.len();
    assert!(sum(&s[n - 12..]) < 20.0 && sum(&s[n - 3..]) / 3.0 * 12.0 > 20.0);
    assert!(max(s.iter().flatten().copied()) < 5.0);

    // Apprentice above his 6 mSv limit, no single result at his 1.5 mSv ESR trigger.
    let c = d.case("limit-hp10-apprentice");
    assert!(d.current(&c.worker_id).apprentice);
    let s = d.series(&c.worker_id, Monitoring::Passive);
    assert!(max(windows(&s)) > 6.0 && max(windows(&s)) < 20.0 && max(s.iter().flatten().copied()) < 1.5);

    // Not returned: several passive badges without result.
    let c = d.case("not-returned");
    let missing = d
        .readings
        .iter()
        .filter(|r| r.worker_id == c.worker_id && r.monitoring == Monitoring::Passive && r.dose_msv.is_none())
        .filter(|r| matches!(r.status, Status::NotReturned | Status::Lost | Status::Damaged))
        .count() as u64;
    assert_eq!(Some(missing), c.evidence_count);
    assert!(missing >= 3);

    // Zero while peers exposed: ≥ 6 consecutive below-threshold badges; peers clearly above.
    let c = d.case("zero-while-peers-exposed");
    let (a, b) = idx(c);
    let s = d.series(&c.worker_id, Monitoring::Passive);
    assert!(b - a >= 6 && s[a..b].iter().all(|v| *v == Some(0.0)), "{s:?}");
    assert!(d.operational(&c.worker_id)[a..b].iter().all(|op| *op > 0.05), "he was at work");
    let me = d.current(&c.worker_id);
    let peers: Vec<&str> = d
        .workers
        .iter()
        .filter(|w| w.worker_id != c.worker_id && w.role == me.role && w.department == me.department)
        .map(|w| w.worker_id.as_str())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    assert!(peers.len() >= 3);
    for m in a..b {
        let mut v: Vec<f64> = peers.iter().filter_map(|p| d.series(p, Monitoring::Passive)[m]).collect();
        v.sort_by(f64::total_cmp);
        assert!(v[v.len() / 2] > 0.1, "peers' median in month {m}: {v:?}");
    }

    // Procedure without dosimeter: many procedures on days without any operational reading.
    let c = d.case("procedure-without-dosimeter");
    let op_days: HashSet<NaiveDate> = d
        .readings
        .iter()
        .filter(|r| r.worker_id == c.worker_id && r.monitoring == Monitoring::Operational)
        .map(|r| r.period_start.date_naive())
        .collect();
    let uncovered = d
        .procedures
        .iter()
        .filter(|p| p.worker_id == c.worker_id && !op_days.contains(&p.started_at.date_naive()))
        .count() as u64;
    assert_eq!(Some(uncovered), c.evidence_count);
    assert!(uncovered >= 20, "{uncovered}");

    // Peer outlier: Hp10 per Gy·cm² of DAP far above the peers'.
    let c = d.case("peer-outlier-hp10");
    let me = d.current(&c.worker_id);
    let rate = |w: &str| {
        let dap: f64 = d.procedures_of(w).filter_map(|p| p.dap_gycm2).sum();
        sum(&d.series(w, Monitoring::Passive)) / dap
    };
    let mut peer_rates: Vec<f64> = d
        .workers
        .iter()
        .filter(|w| w.worker_id != c.worker_id && w.role == me.role && w.department == me.department)
        .map(|w| rate(&w.worker_id))
        .collect();
    peer_rates.sort_by(f64::total_cmp);
    let ratio = rate(&c.worker_id) / peer_rates[peer_rates.len() / 2];
    assert!(ratio > 3.0, "{ratio} vs {peer_rates:?}");

    // Passive/operational mismatch: badge well above the operational sum, month after month.
    let c = d.case("passive-operational-mismatch");
    let (a, b) = idx(c);
    let (s, op) = (d.series(&c.worker_id, Monitoring::Passive), d.operational(&c.worker_id));
    assert!(b - a >= 3);
    for m in a..b {
        assert!(s[m].unwrap() - op[m] > 0.4, "month {m}: {:?} vs {}", s[m], op[m]);
    }

    // Duplicates: below 20 once, above 20 if copies were summed.
    let c = d.case("duplicate-near-limit");
    let once = max(windows(&d.series(&c.worker_id, Monitoring::Passive)));
    let copies: f64 = d
        .all
        .iter()
        .filter(|r| r.worker_id == c.worker_id && r.monitoring == Monitoring::Passive)
        .filter(|r| r.period_start.date_naive() >= c.period_start)
        .filter_map(|r| r.dose_msv)
        .sum();
    assert!(once > 12.0 && once < 20.0 && copies > 20.0, "{once} {copies}");

    // Corrected typo: one identity, revision 0 at 45, revision 1 at 0.45.
    let c = d.case("corrected-typo");
    let mut versions: Vec<&Reading> =
        d.all.iter().filter(|r| r.worker_id == c.worker_id && r.quantity == Quantity::Hp3 && r.revision == 1).collect();
    assert_eq!(versions.len(), 1);
    let id = versions[0].reading_id.clone();
    versions.extend(d.all.iter().filter(|r| r.reading_id == id && r.revision == 0));
    assert_eq!(versions.len(), 2);
    assert_eq!((versions[0].dose_msv, versions[1].dose_msv), (Some(0.45), Some(45.0)));
    assert_eq!(d.series(&c.worker_id, Monitoring::Lens)[idx(c).0], Some(0.45));

    // Steady lens control: high but flat.
    let s = d.series(&d.case("control-lens-steady").worker_id, Monitoring::Lens);
    assert!(max(windows(&s)) > 11.0 && sum(&s[n - 3..]) / 3.0 * 12.0 < 20.0, "{s:?}");
}

/// The background stays below the limits and the single-result ESR triggers, so that those
/// findings come from the injected cases. Investigation levels are not part of this promise:
/// with persistent person-to-person variation as wide as published studies (PERSONAL_SIGMA) a
/// busy operator can cross one, as in a real hospital.
#[test]
fn ordinary_workers_stay_below_every_level() {
    for seed in [1, 42] {
        let (_dir, d) = run(&format!("quiet-{seed}"), &GenerateOptions { workers: 300, seed, ..Default::default() });
        let loud: HashSet<&str> =
            d.manifest.cases.iter().filter(|c| c.expect != Expect::None).map(|c| c.worker_id.as_str()).collect();
        let ids: Vec<String> =
            d.workers.iter().map(|w| w.worker_id.clone()).collect::<HashSet<_>>().into_iter().collect();
        let mut checked_consistency = 0;
        for w in ids.iter().filter(|w| !loud.contains(w.as_str())) {
            let apprentice = d.current(w).apprentice;
            for (monitoring, limit12, single) in [
                (Monitoring::Passive, if apprentice { 6.0 } else { 20.0 }, if apprentice { 1.5 } else { 5.0 }),
                (Monitoring::Lens, if apprentice { 15.0 } else { 20.0 }, 5.0),
                (Monitoring::Extremity, if apprentice { 150.0 } else { 500.0 }, 37.5),
            ] {
                let s = d.series(w, monitoring);
                let n = s.len();
                assert!(max(windows(&s)) < limit12, "{w} {monitoring:?} 12-month {}", max(windows(&s)));
                assert!(max(s.iter().flatten().copied()) < single, "{w} {monitoring:?} single result");
                if monitoring != Monitoring::Extremity {
                    let rate = sum(&s[n - 3..]) / 3.0 * 12.0;
                    assert!(rate < if apprentice { 6.0 } else { 20.0 }, "{w} {monitoring:?} projected {rate}");
                }
            }
            // Passive and operational agree within the usual tolerance.
            // Compared over the months the worker attended procedures (a department change can
            // take them out of fluoroscopy for part of the period).
            let (s, op) = (d.series(w, Monitoring::Passive), d.operational(w));
            let busy: HashSet<usize> = d.procedures_of(w).map(|p| d.month(p.started_at.date_naive())).collect();
            for (m, (p, o)) in s.iter().zip(&op).enumerate() {
                if let (Some(p), true) = (p, busy.contains(&m)) {
                    assert!((p - o).abs() <= 0.05 + 0.25 * p.max(*o), "{w} month {m}: passive {p} vs operational {o}");
                    checked_consistency += 1;
                }
            }
        }
        assert!(checked_consistency > 1000, "{checked_consistency}");
        // Ordinary missing badges are rare.
        let missing = d
            .readings
            .iter()
            .filter(|r| r.monitoring == Monitoring::Passive && r.dose_msv.is_none())
            .filter(|r| r.status != Status::BelowThreshold)
            .count();
        assert!(missing < 300 * 24 / 50, "{missing}");
    }
}

#[test]
fn too_small_requests_say_what_is_needed() {
    let dir = TempDir::new("small");
    let e = generate(&dir.0, &GenerateOptions { workers: min_workers() - 1, ..Default::default() }).unwrap_err();
    assert!(matches!(e, Error::TooFewWorkers { needed, .. } if needed == min_workers()));
    assert!(e.is_usage());
    assert!(e.to_string().contains(&format!("at least {}", min_workers())), "{e}");
    let e = generate(&dir.0, &GenerateOptions { months: 12, ..Default::default() }).unwrap_err();
    assert!(e.to_string().contains("at least 18 months"), "{e}");
    let end = NaiveDate::from_ymd_opt(2026, 11, 15).unwrap();
    assert!(matches!(generate(&dir.0, &GenerateOptions { end, ..Default::default() }), Err(Error::BadEnd { .. })));
}

#[test]
fn the_smallest_data_set_holds_every_case() {
    let (_dir, d) =
        run("smallest", &GenerateOptions { workers: min_workers(), months: 18, seed: 3, ..Default::default() });
    assert_eq!(d.manifest.cases.len(), 21);
    let c = d.case("limit-hp10-rolling");
    let s = d.series(&c.worker_id, Monitoring::Passive);
    assert!(max(windows(&s)) > 20.0);
    let c = d.case("procedure-without-dosimeter");
    assert!(c.evidence_count.unwrap() > 0, "the urology nurse has procedures to attend");
    assert_eq!(d.workers.iter().filter(|w| w.role == Role::Surgeon).count(), 1);
}

#[test]
fn scales_to_two_thousand_workers() {
    let dir = TempDir::new("scale");
    let started = std::time::Instant::now();
    let m = generate(&dir.0, &GenerateOptions { workers: 2000, ..Default::default() }).unwrap();
    eprintln!("2000 workers × 24 months: {:?}, {:?}", started.elapsed(), m.counts);
    assert!(m.counts.readings_lines > 200_000, "{:?}", m.counts);
    assert_eq!(m.counts.readings_invalid, 16);
}
