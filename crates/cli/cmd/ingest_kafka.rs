//! `alara ingest --kafka`: the Kafka source of `alara-ingest` wired to the lake of `alara-lake`.
//!
//! The lake's Delta log is the source's offset log: each flush commits its positions as Delta
//! application transactions with its data, positions on start and rebalance come from the log, and
//! the Kafka commit follows them. Signals (SIGINT, SIGTERM) finish the batch in hand, commit and exit 0.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use alara_ingest::kafka::{self, BoxError, Metrics, OffsetLog, PartitionRange, StopReason, TopicPartition};
use alara_ingest::{Core, CoreConfig};
use alara_lake::{DeltaSink, KAFKA_FLUSH_PREFIX, Lake, WriteOptions};
use alara_model::{Flush, FlushObserver, ObserverError};
use anyhow::Context;

use super::ingest::{Args, print_counts};
use crate::UsageError;
use crate::config::Config;

/// Runs `alara ingest --kafka BROKERS`.
pub fn run(lake_dir: &Path, brokers: &str, args: &Args, config: &Config) -> anyhow::Result<ExitCode> {
    let settings = &config.kafka;
    let brokers = if brokers.trim().is_empty() { settings.brokers.clone().unwrap_or_default() } else { brokers.into() };
    if brokers.trim().is_empty() {
        return Err(UsageError(
            "--kafka: give the bootstrap servers (--kafka 127.0.0.1:9092) or set [kafka] brokers in alara.toml".into(),
        )
        .into());
    }
    let group = args.group.clone().unwrap_or_else(|| settings.group.clone());
    let client = settings.client_config(&brokers, &group, &|name| std::env::var(name).ok()).map_err(usage)?;

    let lake = Lake::open(lake_dir).with_context(|| format!("opening lake {}", lake_dir.display()))?;
    lake.sweep_temporaries(std::time::Duration::from_secs(3600))?;
    let validator = config.ingest.validator(config.pseudonymizer()?);
    let sink = DeltaSink::new(lake.clone(), WriteOptions::default());
    // The source flushes on its own bounds (size, latency) and marks each flush; the core must
    // never flush by itself.
    let mut core = Core::new(validator, sink, CoreConfig { max_buffered_rows: usize::MAX }, KAFKA_FLUSH_PREFIX);
    // Alert rules on every durable flush, before its offsets are recorded (issue 5).
    let alerts = super::alerts::start_engine(&lake, config)?;
    let metrics = Arc::new(Metrics::default());
    core.observe(Box::new(ReportingSize {
        inner: alerts.observer(),
        size: alerts.state_size(),
        metrics: metrics.clone(),
    }));
    let options = kafka::Options {
        client,
        topics: settings.topics.clone(),
        group: group.clone(),
        latency: settings.latency(),
        max_batch_rows: settings.max_batch_rows,
        until_idle: args.until_idle,
        flush_prefix: KAFKA_FLUSH_PREFIX.into(),
        progress: std::io::stderr().is_terminal(),
    };
    let log = Box::new(LakeOffsets { lake });

    let runtime = super::runtime()?;
    let summary = runtime.block_on(async {
        if let Some(addr) = args.metrics {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| UsageError(format!("--metrics {addr}: cannot listen: {e}")))?;
            tokio::spawn(kafka::serve_metrics(listener, metrics.clone()));
            tracing::info!(%addr, "serving metrics");
        }
        let shutdown = shutdown_signal()?;
        kafka::run(options, core, log, metrics, shutdown).await.map_err(into_anyhow)
    })?;
    if summary.stop == StopReason::Shutdown {
        eprintln!("alara: stopped on signal after committing what was received");
    }
    print_counts(lake_dir, &summary.counts);
    super::alerts::finish_engine(alerts, config);
    Ok(ExitCode::SUCCESS)
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed before this returns, so a signal
/// arriving during start-up is not lost.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("shutdown requested: finishing the batch in hand");
    })
}

fn usage(e: kafka::Error) -> anyhow::Error {
    UsageError(e.to_string()).into()
}

fn into_anyhow(e: kafka::Error) -> anyhow::Error {
    match e {
        e if e.is_usage() => usage(e),
        // Keeps the ingest error itself in the chain (a missing pseudonymisation key exits 2).
        kafka::Error::Core(e) => e.into(),
        other => other.into(),
    }
}

/// The lake's Delta log as the Kafka source's offset log: the sink already committed the
/// positions with the data, so recording is a no-op.
struct LakeOffsets {
    lake: Lake,
}

impl OffsetLog for LakeOffsets {
    fn next_offsets(&self, tps: &[TopicPartition]) -> Result<HashMap<TopicPartition, i64>, BoxError> {
        let asked: Vec<(String, i32)> = tps.iter().map(|tp| (tp.topic.clone(), tp.partition)).collect();
        let next = self.lake.kafka_positions(&asked)?;
        Ok(next.into_iter().map(|((t, p), n)| (TopicPartition::new(t, p), n)).collect())
    }

    fn record(&mut self, _flush: &str, _ranges: &[PartitionRange], _rows: u64) -> Result<(), BoxError> {
        Ok(())
    }

    fn superseded(&self, error: &(dyn std::error::Error + 'static)) -> bool {
        matches!(error.downcast_ref::<alara_lake::Error>(), Some(alara_lake::Error::Superseded(_)))
    }
}

/// The alert engine's observer, reporting the size of its state to the metrics endpoint after
/// each flush (`alara_alert_state_results`: bounded by workers × months, not by readings).
struct ReportingSize {
    inner: Box<dyn FlushObserver + Send>,
    size: Arc<alara_alert::StateSize>,
    metrics: Arc<Metrics>,
}

impl FlushObserver for ReportingSize {
    fn flushed(&mut self, flush: &Flush) -> Result<(), ObserverError> {
        let result = self.inner.flushed(flush);
        use std::sync::atomic::Ordering::Relaxed;
        let m = &self.metrics;
        m.set_gauge(
            "alara_alert_state_results",
            "Legal results held by the alert rules (workers x months of results, not readings).",
            self.size.results.load(Relaxed) as f64,
        );
        m.set_gauge(
            "alara_alert_state_workers",
            "Workers with a version held by the alert rules.",
            self.size.workers.load(Relaxed) as f64,
        );
        m.set_gauge(
            "alara_lake_unreadable_files",
            "Lake data files skipped because they could not be decoded (see the log for which).",
            alara_alert::unreadable_files() as f64,
        );
        result
    }
}
