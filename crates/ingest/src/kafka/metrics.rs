//! Counters of the Kafka source, named by event, rendered in the Prometheus text format and served
//! by a tiny HTTP responder (`--metrics 127.0.0.1:PORT`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use alara_model::Kind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::Counts;

use super::TopicPartition;

/// Upper bounds (seconds) of the arrival-to-durable histogram buckets.
const BUCKETS: [f64; 10] = [0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 5.0, 10.0, 30.0, 60.0];

/// The source's counters. Cheap to update (one short lock); shared with the HTTP responder.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default, Clone)]
struct Inner {
    received: [u64; 3],
    durable: Counts,
    flushes: u64,
    flushed_rows: u64,
    latency_buckets: [u64; BUCKETS.len()],
    latency_count: u64,
    latency_sum: f64,
    commit_failures: u64,
    consumer_errors: u64,
    offsets_lost: BTreeMap<TopicPartition, i64>,
    lag: BTreeMap<TopicPartition, i64>,
    started: Option<Instant>,
    /// Gauges other parts of the process report through this endpoint (the alert engine's
    /// state size): name → (help, value).
    gauges: BTreeMap<&'static str, (&'static str, f64)>,
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

fn idx(kind: Kind) -> usize {
    match kind {
        Kind::Readings => 0,
        Kind::Workers => 1,
        Kind::Procedures => 2,
    }
}

impl Metrics {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Only plain arithmetic runs under this lock; a panic there is a bug worth surfacing.
        self.inner.lock().expect("metrics lock poisoned")
    }

    /// A message was taken from Kafka.
    pub fn message_received(&self, kind: Kind) {
        let mut m = self.lock();
        m.started.get_or_insert_with(Instant::now);
        m.received[idx(kind)] += 1;
    }

    /// A flush is durable: `counts` are the totals so far (all durable now), `waited` the time the
    /// oldest of its records spent between arrival and durability.
    pub fn flushed(&self, counts: Counts, rows: u64, waited: Duration) {
        let mut m = self.lock();
        m.durable = counts;
        m.flushes += 1;
        m.flushed_rows += rows;
        let s = waited.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                m.latency_buckets[i] += 1;
            }
        }
        m.latency_count += 1;
        m.latency_sum += s;
    }

    /// Kafka refused an offset commit (the lake still holds the positions).
    pub fn commit_failed(&self) {
        self.lock().commit_failures += 1;
    }

    /// The consumer reported an error (broker down, unknown topic…).
    pub fn consumer_error(&self) {
        self.lock().consumer_errors += 1;
    }

    /// The partitions now assigned (others lose their lag series).
    pub fn assigned(&self, tps: Vec<TopicPartition>) {
        let mut m = self.lock();
        m.lag.retain(|tp, _| tps.contains(tp));
    }

    /// Messages not yet received in a partition.
    pub fn lag(&self, tp: &TopicPartition, lag: i64) {
        self.lock().lag.insert(tp.clone(), lag);
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        let m = self.lock();
        Snapshot {
            received: m.received.iter().sum(),
            durable_accepted: m.durable.total_accepted(),
            durable_rejected: m.durable.total_rejected(),
            lag: m.lag.clone(),
            consumer_errors: m.consumer_errors,
        }
    }

    /// Offsets of a partition deleted by retention before they were read (a forward gap).
    pub fn offsets_lost(&self, tp: &TopicPartition, n: i64) {
        *self.lock().offsets_lost.entry(tp.clone()).or_default() += n;
    }

    /// Offsets lost to retention, every partition together.
    pub fn offsets_lost_total(&self) -> i64 {
        self.lock().offsets_lost.values().sum()
    }

    /// Sets a gauge reported by another part of the process (rendered after the source's own).
    pub fn set_gauge(&self, name: &'static str, help: &'static str, value: f64) {
        self.lock().gauges.insert(name, (help, value));
    }

    /// The counters in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let m = self.lock().clone();
        let mut out = String::new();
        family(&mut out, "alara_ingest_received_total", "counter", "Messages taken from Kafka, per record kind.");
        for k in Kind::ALL {
            let _ = writeln!(out, "alara_ingest_received_total{{kind=\"{}\"}} {}", k.table(), m.received[idx(k)]);
        }
        family(&mut out, "alara_ingest_ingested_total", "counter", "Records durable in the lake as rows, per kind.");
        for k in Kind::ALL {
            let _ = writeln!(out, "alara_ingest_ingested_total{{kind=\"{}\"}} {}", k.table(), m.durable.accepted(k));
        }
        family(&mut out, "alara_ingest_rejected_total", "counter", "Records durable in the lake as rejects, per kind.");
        for k in Kind::ALL {
            let _ = writeln!(out, "alara_ingest_rejected_total{{kind=\"{}\"}} {}", k.table(), m.durable.rejected(k));
        }
        family(&mut out, "alara_ingest_flushes_total", "counter", "Flushes written and marked in the lake.");
        let _ = writeln!(out, "alara_ingest_flushes_total {}", m.flushes);
        family(&mut out, "alara_ingest_flushed_rows_total", "counter", "Rows (rejects included) written by flushes.");
        let _ = writeln!(out, "alara_ingest_flushed_rows_total {}", m.flushed_rows);
        family(
            &mut out,
            "alara_ingest_arrival_to_durable_seconds",
            "histogram",
            "Per flush, time from the arrival of its oldest record to the flush being durable and marked.",
        );
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ =
                writeln!(out, "alara_ingest_arrival_to_durable_seconds_bucket{{le=\"{b}\"}} {}", m.latency_buckets[i]);
        }
        let _ = writeln!(out, "alara_ingest_arrival_to_durable_seconds_bucket{{le=\"+Inf\"}} {}", m.latency_count);
        let _ = writeln!(out, "alara_ingest_arrival_to_durable_seconds_sum {}", m.latency_sum);
        let _ = writeln!(out, "alara_ingest_arrival_to_durable_seconds_count {}", m.latency_count);
        family(
            &mut out,
            "alara_ingest_commit_failures_total",
            "counter",
            "Kafka offset commits that failed (positions stay in the lake).",
        );
        let _ = writeln!(out, "alara_ingest_commit_failures_total {}", m.commit_failures);
        family(&mut out, "alara_ingest_consumer_errors_total", "counter", "Errors reported by the Kafka client.");
        let _ = writeln!(out, "alara_ingest_consumer_errors_total {}", m.consumer_errors);
        family(
            &mut out,
            "alara_ingest_consumer_lag",
            "gauge",
            "Messages between the position and the end of each assigned partition.",
        );
        for (tp, lag) in &m.lag {
            let _ = writeln!(
                out,
                "alara_ingest_consumer_lag{{topic=\"{}\",partition=\"{}\"}} {lag}",
                escape(&tp.topic),
                tp.partition
            );
        }
        family(
            &mut out,
            "alara_ingest_offsets_lost_total",
            "counter",
            "Offsets deleted by the topic's retention before alara read them (forward gaps), per partition.",
        );
        for (tp, n) in &m.offsets_lost {
            let _ = writeln!(
                out,
                "alara_ingest_offsets_lost_total{{topic=\"{}\",partition=\"{}\"}} {n}",
                escape(&tp.topic),
                tp.partition
            );
        }
        for (name, (help, value)) in &m.gauges {
            family(&mut out, name, "gauge", help);
            let _ = writeln!(out, "{name} {value}");
        }
        out
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Answers every HTTP request on `listener` with the metrics (`GET /metrics`, or `/`), until the
/// task is dropped. One short-lived task per connection; requests larger than 8 KiB or slower than
/// 5 s are dropped.
pub async fn serve_metrics(listener: TcpListener, metrics: Arc<Metrics>) {
    loop {
        let (mut socket, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(cause = %e, "metrics endpoint: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            let mut len = 0;
            let read = tokio::time::timeout(Duration::from_secs(5), async {
                while len < buf.len() {
                    let n = socket.read(&mut buf[len..]).await?;
                    if n == 0 {
                        break;
                    }
                    len += n;
                    if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                Ok::<_, std::io::Error>(())
            })
            .await;
            if !matches!(read, Ok(Ok(()))) {
                return;
            }
            let request = String::from_utf8_lossy(&buf[..len]);
            let path = request.split_whitespace().nth(1).unwrap_or("");
            let (status, body) = if request.starts_with("GET ") && (path == "/metrics" || path == "/") {
                ("200 OK", metrics.render())
            } else {
                ("404 Not Found", "only GET /metrics is served here\n".to_string())
            };
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let text = m.render();
        assert!(text.contains("alara_ingest_received_total{kind=\"readings\"} 1\n"), "{text}");
        assert!(text.contains("alara_ingest_ingested_total{kind=\"readings\"} 3\n"));
        assert!(text.contains("alara_ingest_rejected_total{kind=\"readings\"} 1\n"));
        assert!(text.contains("alara_ingest_arrival_to_durable_seconds_bucket{le=\"0.5\"} 0\n"));
        assert!(text.contains("alara_ingest_arrival_to_durable_seconds_bucket{le=\"1\"} 1\n"));
        assert!(text.contains("alara_ingest_commit_failures_total 1\n"));
        assert!(text.contains("alara_ingest_consumer_lag{topic=\"dosimetry.readings\",partition=\"2\"} 42\n"));
        m.assigned(vec![]);
        assert!(!m.render().contains("alara_ingest_consumer_lag{"));
    }

    #[tokio::test]
    async fn serves_metrics_over_http() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let metrics = Arc::new(Metrics::default());
        let server = tokio::spawn(serve_metrics(listener, metrics.clone()));
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).await.unwrap();
        assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
        assert!(resp.contains("alara_ingest_flushes_total 0"));
        server.abort();
    }
}
