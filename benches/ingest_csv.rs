//! Micro-benchmarks of the CSV file source: a readings file read, split, decoded and validated
//! by the same `ingest_reader` as `alara ingest --readings FILE.csv`, then built into one Arrow
//! batch. Two dialects: `,` with decimal points, and the spreadsheet export `;` with decimal
//! commas. Synthetic inputs, built here, in memory (no disk).
//!
//! `cargo bench --bench ingest_csv` (release profile; not run in CI). JSON decoding is in `pipeline`.

use std::hint::black_box;
use std::path::Path;

use alara_ingest::files::ingest_reader;
use alara_ingest::{Core, CoreConfig};
use alara_model::schema::readings_batch;
use alara_model::{BatchSink, Flush, Kind, Validator};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const HEADER: [&str; 14] = [
    "reading_id",
    "revision",
    "source",
    "worker_id",
    "employer_siret",
    "department",
    "dosimeter_id",
    "monitoring",
    "position",
    "quantity",
    "status",
    "dose_msv",
    "period_start",
    "period_end",
];

/// A readings file of `n` rows (the fields of `pipeline`'s JSON readings), with `delimiter`
/// between cells and `decimal` as the dose's decimal separator.
fn readings_csv(n: usize, delimiter: char, decimal: char) -> Vec<u8> {
    let d = delimiter;
    let mut out = HEADER.join(&d.to_string());
    out.push('\n');
    for i in 0..n {
        let dose = format!("{:.3}", (i % 97) as f64 / 1000.0).replace('.', &decimal.to_string());
        let day = i % 28 + 1;
        out.push_str(&format!(
            "r{i}{d}0{d}DOSILAB{d}W{:04}{d}73282932000074{d}interventional-cardiology{d}D{i}{d}operational{d}chest{d}Hp10{d}measured{d}{dose}{d}2025-03-{day:02}T08:00:00Z{d}2025-03-{day:02}T12:30:00Z\n",
            i % 500
        ));
    }
    out.into_bytes()
}

/// The sink of the bench: builds the Arrow batch of each flush's readings and drops it.
struct ArrowSink;

impl BatchSink for ArrowSink {
    type Error = arrow::error::ArrowError;

    fn write(&mut self, flush: &Flush) -> Result<(), Self::Error> {
        black_box(readings_batch(&flush.readings)?);
        Ok(())
    }
}

/// Reads the whole file through the file source and flushes once; returns the rows accepted.
fn ingest(file: &[u8]) -> u64 {
    let mut core = Core::new(Validator::default(), ArrowSink, CoreConfig { max_buffered_rows: usize::MAX }, "bench");
    ingest_reader(&mut core, Kind::Readings, Path::new("bench.csv"), file).expect("ingest");
    core.flush(Vec::new()).expect("flush");
    core.counts().accepted(Kind::Readings)
}

fn bench(c: &mut Criterion) {
    let n = 20_000;
    let mut g = c.benchmark_group("ingest csv");
    g.throughput(Throughput::Elements(n as u64));
    for (name, delimiter, decimal) in [("comma, decimal point", ',', '.'), ("semicolon, decimal comma", ';', ',')] {
        let file = readings_csv(n, delimiter, decimal);
        // Every row must be accepted, or the bench would time the rejects' path.
        assert_eq!(ingest(&file), n as u64, "{name}: rows rejected");
        g.bench_function(format!("decode+validate+arrow ({name})"), |b| b.iter(|| ingest(black_box(&file))));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
