//! Micro-benchmarks of the ingest hot path: decoding and validating raw JSON readings, building
//! Arrow batches, and writing them as an atomic zstd Parquet file. Synthetic inputs, built here.
//!
//! `cargo bench --bench pipeline` (release profile; not run in CI). For end-to-end ratios against
//! reference tools (kcat, DuckDB) on the same machine, see `scripts/bench.sh`.

use std::hint::black_box;

use alara_lake::{Lake, ParquetSink, WriteOptions};
use alara_model::schema::readings_batch;
use alara_model::{BatchSink, Fields, Flush, Origin, Reading, Stamped, Validator};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn raw_readings(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            format!(
                r#"{{"reading_id":"r{i}","revision":0,"source":"DOSILAB","worker_id":"W{:04}","employer_siret":"73282932000074","department":"interventional-cardiology","dosimeter_id":"D{i}","monitoring":"operational","position":"chest","quantity":"Hp10","status":"measured","dose_msv":{:.3},"period_start":"2025-03-{:02}T08:00:00Z","period_end":"2025-03-{:02}T12:30:00Z","radiation":"X"}}"#,
                i % 500,
                (i % 97) as f64 / 1000.0,
                i % 28 + 1,
                i % 28 + 1
            )
            .into_bytes()
        })
        .collect()
}

fn validated(raw: &[Vec<u8>]) -> Vec<Stamped<Reading>> {
    let v = Validator::default();
    let now = chrono::Utc::now();
    raw.iter()
        .enumerate()
        .map(|(i, r)| {
            let f = Fields::from_json(r).expect("bench input is valid JSON");
            Stamped {
                row: v.reading(&f).expect("bench input is valid"),
                ingested_at: now,
                origin: Origin::Kafka { topic: "bench".into(), partition: 0, offset: i as i64 },
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let n = 20_000;
    let raw = raw_readings(n);
    let rows = validated(&raw);

    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("decode+validate json", |b| b.iter(|| black_box(validated(black_box(&raw)))));
    g.bench_function("arrow batch", |b| b.iter(|| black_box(readings_batch(black_box(&rows)).expect("batch"))));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut sink = ParquetSink::new(Lake::open(dir.path()).expect("lake"), WriteOptions::default());
    let flush = Flush { name: "bench".into(), readings: rows.clone(), ..Flush::default() };
    g.bench_function("parquet write (zstd, fsync, rename)", |b| {
        b.iter(|| sink.write(black_box(&flush)).expect("write"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
