//! Micro-benchmarks of the streaming alert rules' update per reading: what the alert engine does
//! with every durable flush (`alara_alert::rules::Rules`: take each reading into the rolling state,
//! evaluate the conditions it touches, prune when the state has doubled), without the lake and
//! the hooks around it.
//!
//! Input: a generated hospital (`alara-generate`, 300 workers over 24 months: passive monthly
//! badges, lens and ring dosimeters, operational entries, re-sends and corrections), decoded and
//! validated once in the setup, then streamed in the order results end, in flushes of 5,000.
//! Each iteration starts from an empty state holding the worker versions.
//!
//! `cargo bench --bench alert_rules` (release profile; not run in CI).

use std::hint::black_box;

use alara_alert::RuleConfig;
use alara_alert::rules::Rules;
use alara_ingest::{Core, CoreConfig, ingest_file};
use alara_model::{BatchSink, Flush, Kind, Reading, Stamped, Validator, Worker};
use chrono::Utc;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Rows per flush, as the engine sees them.
const FLUSH_ROWS: usize = 5_000;
/// Months of results the engine keeps (`[alerts] state_months`'s default).
const STATE_MONTHS: u32 = 24;

/// Keeps every flush written.
#[derive(Default)]
struct Keep(Vec<Flush>);

impl BatchSink for Keep {
    type Error = std::convert::Infallible;

    fn write(&mut self, flush: &Flush) -> Result<(), Self::Error> {
        self.0.push(flush.clone());
        Ok(())
    }
}

/// The generated hospital's worker versions and valid readings (in the order they end).
fn hospital() -> (Vec<Stamped<Worker>>, Vec<Stamped<Reading>>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = alara_generate::GenerateOptions { workers: 300, months: 24, seed: 7, ..Default::default() };
    alara_generate::generate(dir.path(), &opts).expect("generate");
    let mut core = Core::new(Validator::default(), Keep::default(), CoreConfig::default(), "bench");
    for (kind, file) in [(Kind::Workers, alara_generate::WORKERS_FILE), (Kind::Readings, alara_generate::READINGS_FILE)]
    {
        ingest_file(&mut core, kind, &dir.path().join(file)).expect("ingest");
    }
    core.flush(Vec::new()).expect("flush");
    let flushes = std::mem::take(&mut core.sink_mut().0);
    let workers = flushes.iter().flat_map(|f| f.workers.iter().cloned()).collect();
    let mut readings: Vec<_> = flushes.into_iter().flat_map(|f| f.readings).collect();
    readings.sort_by_key(|r| r.row.period_end);
    (workers, readings)
}

/// The engine's work on a stream of flushes, from an empty state; returns the alerts raised.
fn stream(workers: &[Stamped<Worker>], flushes: &[(&[Stamped<Reading>], Vec<String>)], evaluate: bool) -> usize {
    let now = Utc::now();
    let mut rules = Rules::new(RuleConfig::default());
    for w in workers {
        rules.apply_worker(&w.row, w.ingested_at);
    }
    let mut alerts = 0;
    for (readings, origins) in flushes {
        for (r, origin) in readings.iter().zip(origins) {
            black_box(rules.apply_reading(&r.row, r.ingested_at, origin));
        }
        if evaluate {
            for (r, origin) in readings.iter().zip(origins) {
                alerts += rules.evaluate_reading(&r.row, origin, now).len();
            }
        }
        rules.prune_when_grown(STATE_MONTHS);
    }
    alerts
}

fn bench(c: &mut Criterion) {
    let (workers, readings) = hospital();
    let flushes: Vec<_> = readings
        .chunks(FLUSH_ROWS)
        .map(|chunk| (chunk, chunk.iter().map(|r| r.origin.to_string()).collect::<Vec<_>>()))
        .collect();
    // The generated cases must raise alerts, or the bench would miss the raising path.
    assert!(stream(&workers, &flushes, true) > 0, "no alert raised");

    let mut g = c.benchmark_group("alert rules");
    g.sample_size(10);
    g.throughput(Throughput::Elements(readings.len() as u64));
    g.bench_function(format!("apply ({} readings, {} workers)", readings.len(), workers.len()), |b| {
        b.iter(|| stream(&workers, &flushes, false))
    });
    g.bench_function(format!("apply+evaluate ({} readings, {} workers)", readings.len(), workers.len()), |b| {
        b.iter(|| stream(&workers, &flushes, true))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
