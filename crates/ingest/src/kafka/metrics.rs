//! Counters of the Kafka source, named by event, kept in a `prometheus-client` registry and served
//! over HTTP by axum (`--metrics 127.0.0.1:PORT`).
//!
//! The exposition is the Prometheus text format 0.0.4 (`prometheus_client::encoding::prometheus_text`),
//! not OpenMetrics: the series, `# HELP`/`# TYPE` lines and content type stay those the endpoint
//! served before the crate took over, so scrapers and tests see the same names. The crate appends
//! `_total` to counters and a full stop to help texts itself; names and helps here leave them out.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use alara_model::Kind;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::prometheus_text::{CONTENT_TYPE, encode};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

use crate::Counts;

use super::TopicPartition;

/// Upper bounds (seconds) of the arrival-to-durable histogram buckets.
const BUCKETS: [f64; 10] = [0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 5.0, 10.0, 30.0, 60.0];

/// `kind="readings"`, …
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

/// `topic="…",partition="…"`, in that order.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartitionLabels {
    topic: String,
    partition: i32,
}

impl From<&TopicPartition> for PartitionLabels {
    fn from(tp: &TopicPartition) -> Self {
        PartitionLabels { topic: tp.topic.clone(), partition: tp.partition }
    }
}

/// A gauge holding an `f64` (the default `Gauge` holds an `i64`).
type FloatGauge = Gauge<f64, std::sync::atomic::AtomicU64>;

/// The source's metrics. Updates are atomic operations; the registry is locked only to render and
/// to register a gauge the first time another part of the process sets it.
#[derive(Debug)]
pub struct Metrics {
    received: Family<KindLabel, Counter>,
    ingested: Family<KindLabel, Counter>,
    rejected: Family<KindLabel, Counter>,
    flushes: Counter,
    flushed_rows: Counter,
    arrival_to_durable: Histogram,
    commit_failures: Counter,
    consumer_errors: Counter,
    consumer_lag: Family<PartitionLabels, Gauge>,
    offsets_lost: Family<PartitionLabels, Counter>,
    /// Every partition together, for [`Metrics::offsets_lost_total`] (a family cannot be summed).
    offsets_lost_sum: AtomicU64,
    /// The lag series by partition: the progress line reads it, and [`Metrics::assigned`] needs
    /// to know which series to drop (a family cannot be listed).
    lag: Mutex<BTreeMap<TopicPartition, i64>>,
    /// Gauges other parts of the process report through this endpoint (the alert engine's state
    /// size), registered on first use.
    gauges: Mutex<HashMap<&'static str, FloatGauge>>,
    registry: Mutex<Registry>,
}

/// A copy of the counters, for the progress line.
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    pub received: u64,
    pub durable_accepted: u64,
    pub durable_rejected: u64,
    pub lag: BTreeMap<TopicPartition, i64>,
    pub consumer_errors: u64,
}

impl Default for Metrics {
    fn default() -> Self {
        let m = Metrics {
            received: Family::default(),
            ingested: Family::default(),
            rejected: Family::default(),
            flushes: Counter::default(),
            flushed_rows: Counter::default(),
            arrival_to_durable: Histogram::new(BUCKETS),
            commit_failures: Counter::default(),
            consumer_errors: Counter::default(),
            consumer_lag: Family::default(),
            offsets_lost: Family::default(),
            offsets_lost_sum: AtomicU64::new(0),
            lag: Mutex::default(),
            gauges: Mutex::default(),
            registry: Mutex::default(),
        };
        // Every kind is shown from the start, at 0, as a scraper expects of a counter.
        for k in Kind::ALL {
            for family in [&m.received, &m.ingested, &m.rejected] {
                let _ = family.get_or_create(&KindLabel { kind: k.table() });
            }
        }
        {
            let mut r = lock(&m.registry);
            r.register("alara_ingest_received", "Messages taken from Kafka, per record kind", m.received.clone());
            r.register("alara_ingest_ingested", "Records durable in the lake as rows, per kind", m.ingested.clone());
            r.register("alara_ingest_rejected", "Records durable in the lake as rejects, per kind", m.rejected.clone());
            r.register("alara_ingest_flushes", "Flushes written and marked in the lake", m.flushes.clone());
            r.register(
                "alara_ingest_flushed_rows",
                "Rows (rejects included) written by flushes",
                m.flushed_rows.clone(),
            );
            r.register(
                "alara_ingest_arrival_to_durable_seconds",
                "Per flush, time from the arrival of its oldest record to the flush being durable and marked",
                m.arrival_to_durable.clone(),
            );
            r.register(
                "alara_ingest_commit_failures",
                "Kafka offset commits that failed (positions stay in the lake)",
                m.commit_failures.clone(),
            );
            r.register(
                "alara_ingest_consumer_errors",
                "Errors reported by the Kafka client",
                m.consumer_errors.clone(),
            );
            r.register(
                "alara_ingest_consumer_lag",
                "Messages between the position and the end of each assigned partition",
                m.consumer_lag.clone(),
            );
            r.register(
                "alara_ingest_offsets_lost",
                "Offsets deleted by the topic's retention before alara read them (forward gaps), per partition",
                m.offsets_lost.clone(),
            );
        }
        m
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Only map updates and the encoding run under these locks; a panic there is a bug worth surfacing.
    m.lock().expect("metrics lock poisoned")
}

/// Adds to `counter` what brings it to `total` (the core keeps totals, a counter only goes up).
fn raise_to(counter: &Counter, total: u64) {
    counter.inc_by(total.saturating_sub(counter.get()));
}

impl Metrics {
    /// A message was taken from Kafka.
    pub fn message_received(&self, kind: Kind) {
        self.received.get_or_create(&KindLabel { kind: kind.table() }).inc();
    }

    /// A flush is durable: `counts` are the totals so far (all durable now), `waited` the time the
    /// oldest of its records spent between arrival and durability.
    pub fn flushed(&self, counts: Counts, rows: u64, waited: Duration) {
        for k in Kind::ALL {
            let label = KindLabel { kind: k.table() };
            raise_to(&self.ingested.get_or_create(&label), counts.accepted(k));
            raise_to(&self.rejected.get_or_create(&label), counts.rejected(k));
        }
        self.flushes.inc();
        self.flushed_rows.inc_by(rows);
        self.arrival_to_durable.observe(waited.as_secs_f64());
    }

    /// Kafka refused an offset commit (the lake still holds the positions).
    pub fn commit_failed(&self) {
        self.commit_failures.inc();
    }

    /// The consumer reported an error (broker down, unknown topic…).
    pub fn consumer_error(&self) {
        self.consumer_errors.inc();
    }

    /// The partitions now assigned (others lose their lag series).
    pub fn assigned(&self, tps: Vec<TopicPartition>) {
        lock(&self.lag).retain(|tp, _| {
            let keep = tps.contains(tp);
            if !keep {
                self.consumer_lag.remove(&tp.into());
            }
            keep
        });
    }

    /// Messages not yet received in a partition.
    pub fn lag(&self, tp: &TopicPartition, lag: i64) {
        let mut series = lock(&self.lag);
        self.consumer_lag.get_or_create(&tp.into()).set(lag);
        series.insert(tp.clone(), lag);
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        let sum = |family: &Family<KindLabel, Counter>| -> u64 {
            Kind::ALL.iter().map(|k| family.get_or_create(&KindLabel { kind: k.table() }).get()).sum()
        };
        Snapshot {
            received: sum(&self.received),
            durable_accepted: sum(&self.ingested),
            durable_rejected: sum(&self.rejected),
            lag: lock(&self.lag).clone(),
            consumer_errors: self.consumer_errors.get(),
        }
    }

    /// Offsets of a partition deleted by retention before they were read (a forward gap).
    pub fn offsets_lost(&self, tp: &TopicPartition, n: i64) {
        let n = u64::try_from(n).unwrap_or(0);
        self.offsets_lost.get_or_create(&tp.into()).inc_by(n);
        self.offsets_lost_sum.fetch_add(n, Ordering::Relaxed);
    }

    /// Offsets lost to retention, every partition together.
    pub fn offsets_lost_total(&self) -> i64 {
        self.offsets_lost_sum.load(Ordering::Relaxed) as i64
    }

    /// Sets a gauge reported by another part of the process (rendered after the source's own).
    pub fn set_gauge(&self, name: &'static str, help: &'static str, value: f64) {
        let mut gauges = lock(&self.gauges);
        let gauge = gauges.entry(name).or_insert_with(|| {
            let gauge = FloatGauge::default();
            // The registry adds the full stop; callers may have written one.
            lock(&self.registry).register(name, help.trim_end_matches('.'), gauge.clone());
            gauge
        });
        gauge.set(value);
    }

    /// The metrics in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail; the encoder's own errors come from its writer.
        encode(&mut out, &lock(&self.registry)).expect("encoding metrics into a String");
        out
    }
}

/// Serves the metrics on `listener` (`GET /metrics`, or `/`; 404 elsewhere) until the task is
/// dropped. axum's HTTP/1 keeps connections alive, as Prometheus expects.
pub async fn serve_metrics(listener: TcpListener, metrics: Arc<Metrics>) {
    let scrape = move || {
        let metrics = metrics.clone();
        async move { ([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.render()) }
    };
    let app = Router::new()
        .route("/metrics", get(scrape.clone()))
        .route("/", get(scrape))
        .fallback(|| async { (StatusCode::NOT_FOUND, "only GET /metrics is served here\n").into_response() });
    if let Err(e) = axum::serve(listener, app).await {
        // axum retries failed accepts itself; this is the listener itself going away.
        tracing::warn!(cause = %e, "metrics endpoint stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.message_received(Kind::Readings);
        let mut c = Counts::default();
        c.accepted[0] = 3;
        c.rejected[0] = 1;
        m.flushed(c, 4, Duration::from_millis(700));
        m.commit_failed();
        m.lag(&TopicPartition::new("dosimetry.readings", 2), 42);
        m.set_gauge("alara_alert_state_results", "Legal results held.", 7.0);
        let text = m.render();
        assert!(text.contains("# TYPE alara_ingest_received_total counter\n"), "{text}");
        assert!(text.contains("alara_ingest_received_total{kind=\"readings\"} 1\n"), "{text}");
        assert!(text.contains("alara_ingest_received_total{kind=\"workers\"} 0\n"), "{text}");
        assert!(text.contains("alara_ingest_ingested_total{kind=\"readings\"} 3\n"));
        assert!(text.contains("alara_ingest_rejected_total{kind=\"readings\"} 1\n"));
        assert!(text.contains("alara_ingest_arrival_to_durable_seconds_bucket{le=\"0.5\"} 0\n"));
        assert!(text.contains("alara_ingest_arrival_to_durable_seconds_bucket{le=\"1\"} 1\n"));
        assert!(text.contains("alara_ingest_arrival_to_durable_seconds_bucket{le=\"+Inf\"} 1\n"));
        assert!(text.contains("alara_ingest_commit_failures_total 1\n"));
        assert!(text.contains("alara_ingest_consumer_lag{topic=\"dosimetry.readings\",partition=\"2\"} 42\n"));
        assert!(text.contains("# HELP alara_alert_state_results Legal results held.\n"), "{text}");
        assert!(text.contains("# TYPE alara_alert_state_results gauge\nalara_alert_state_results 7.0\n"), "{text}");
        assert!(!text.contains("_total_total") && !text.contains("..\n") && !text.contains("# EOF"), "{text}");
        m.assigned(vec![]);
        assert!(!m.render().contains("alara_ingest_consumer_lag{"));
        assert!(m.snapshot().lag.is_empty());
    }

    #[test]
    fn counts_offsets_lost_per_partition_and_in_total() {
        let m = Metrics::default();
        m.offsets_lost(&TopicPartition::new("t", 0), 5);
        m.offsets_lost(&TopicPartition::new("t", 0), 2);
        m.offsets_lost(&TopicPartition::new("t", 1), 1);
        assert_eq!(m.offsets_lost_total(), 8);
        assert!(m.render().contains("alara_ingest_offsets_lost_total{topic=\"t\",partition=\"0\"} 7\n"));
    }

    /// A raw HTTP/1.1 exchange (the request asks to close, so the answer ends at EOF).
    async fn get_raw(addr: std::net::SocketAddr, request: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).await.unwrap();
        resp
    }

    #[tokio::test]
    async fn serves_metrics_over_http() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(serve_metrics(listener, Arc::new(Metrics::default())));
        let resp = get_raw(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
        assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
        assert!(resp.contains("content-type: text/plain; version=0.0.4; charset=utf-8\r\n"), "{resp}");
        assert!(resp.contains("alara_ingest_flushes_total 0"));
        let resp = get_raw(addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
        assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
        let resp = get_raw(addr, "GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
        assert!(resp.starts_with("HTTP/1.1 404 Not Found\r\n"), "{resp}");
        server.abort();
    }
}
