//! Benchmarks of the detection views over a generated lake: `SELECT * FROM <view>` planned and
//! collected through an `alara_detect::Session`, as `alara sql` and the report run them.
//!
//! Setup (not timed): a small hospital from `alara-generate` (60 workers over 24 months, with
//! its injected cases), ingested into a temporary lake through the file source and the Delta
//! sink, exactly as `alara ingest` does; then one session opened on it. Each iteration runs one
//! view from its SQL text, so planning is included; the lake is read from disk (page cache).
//!
//! `cargo bench --bench detect` (release profile; not run in CI).

use std::hint::black_box;
use std::path::Path;

use alara_detect::{Session, SessionOptions};
use alara_ingest::{Core, CoreConfig, ingest_file};
use alara_lake::{DeltaSink, Lake, WriteOptions};
use alara_model::{Kind, Validator};
use criterion::{Criterion, criterion_group, criterion_main};

/// The views benchmarked: the three detections of CONTRACT.md section 3.
const VIEWS: [&str; 3] = ["overexposure", "missing_badge", "unexplained_heterogeneity"];

/// Generates the hospital into `data` and ingests it into a lake at `lake`.
fn generated_lake(data: &Path, lake: &Path) {
    let opts = alara_generate::GenerateOptions { workers: 60, months: 24, seed: 7, ..Default::default() };
    alara_generate::generate(data, &opts).expect("generate");
    let sink = DeltaSink::new(Lake::open(lake).expect("lake"), WriteOptions::default());
    let mut core = Core::new(Validator::default(), sink, CoreConfig::default(), "bench");
    for (kind, file) in [
        (Kind::Workers, alara_generate::WORKERS_FILE),
        (Kind::Procedures, alara_generate::PROCEDURES_FILE),
        (Kind::Readings, alara_generate::READINGS_FILE),
    ] {
        ingest_file(&mut core, kind, &data.join(file)).expect("ingest");
    }
    core.flush(Vec::new()).expect("flush");
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (data, lake) = (dir.path().join("data"), dir.path().join("lake"));
    generated_lake(&data, &lake);
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let session = rt.block_on(Session::open(&lake, &SessionOptions::default())).expect("session");

    let mut g = c.benchmark_group("detect");
    g.sample_size(10);
    for view in VIEWS {
        let sql = format!("SELECT * FROM {view}");
        // The generated cases must be found, or the bench would time an empty answer.
        let rows: usize = rt.block_on(session.query(&sql)).expect("query").iter().map(|b| b.num_rows()).sum();
        assert!(rows > 0, "{view}: no rows");
        g.bench_function(format!("{view} (60 workers, 24 months)"), |b| {
            b.iter(|| black_box(rt.block_on(session.query(black_box(&sql))).expect("query")))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
