//! Helpers of the Kafka end-to-end tests: the project's broker (scripts/kafka.sh), unique topics,
//! producers (rdkafka and kcat), `alara ingest` processes, and polling the lake.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use crate::common::*;

pub const SIRET: &str = "73282932000074";

/// The bootstrap address of the project's broker, started by `scripts/kafka.sh start` (idempotent;
/// it installs Java and Kafka) unless `ALARA_TEST_KAFKA` names one. A broker that cannot start
/// fails the test: a Kafka test that did not run must never count as passed. Always `Some`; the
/// `Option` keeps the callers' `let Some(b) = broker() else { return }` compiling.
pub fn broker() -> Option<String> {
    static BROKER: OnceLock<Result<String, String>> = OnceLock::new();
    let b = BROKER.get_or_init(|| {
        if let Ok(b) = std::env::var("ALARA_TEST_KAFKA")
            && !b.trim().is_empty()
        {
            return Ok(b.trim().to_string());
        }
        let out = Command::new(script()).arg("start").stdin(Stdio::null()).output();
        match out {
            Ok(o) if o.status.success() => {
                String::from_utf8_lossy(&o.stdout).lines().last().map(str::to_string).ok_or_else(|| "no address".into())
            }
            Ok(o) => Err(format!("{}\n{}", o.status, String::from_utf8_lossy(&o.stderr))),
            Err(e) => Err(e.to_string()),
        }
    });
    match b {
        Ok(b) => Some(b.clone()),
        Err(e) => panic!(
            "no Kafka broker: `scripts/kafka.sh start` (which installs and starts one; scripts/test.sh runs it) \
             failed, and ALARA_TEST_KAFKA is not set — this test cannot run without a broker:\n{e}"
        ),
    }
}

/// scripts/kafka.sh of this repository.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/kafka.sh")
}

/// Tests share one broker; a test that stops a broker uses its own ([`PrivateBroker`]).
static BROKER_USE: RwLock<()> = RwLock::new(());

/// Held by a test that uses the shared broker.
pub fn shared() -> RwLockReadGuard<'static, ()> {
    BROKER_USE.read().unwrap_or_else(|e| e.into_inner())
}

/// Held by a test that must not run while others use the shared broker.
pub fn exclusive() -> RwLockWriteGuard<'static, ()> {
    BROKER_USE.write().unwrap_or_else(|e| e.into_inner())
}

/// A broker of its own (scripts/kafka.sh with its own port and directory), for tests that stop
/// and restart it without disturbing anyone else. Stopped when dropped.
pub struct PrivateBroker {
    pub bootstrap: String,
    port: u16,
    dir: tempfile::TempDir,
}

impl PrivateBroker {
    /// Starts one, or fails the test saying why (always `Some`, like [`broker`]).
    pub fn start() -> Option<PrivateBroker> {
        broker()?; // the shared one started: Java, Maven and the jars are there
        let dir = tempdir();
        // Two ports (broker, controller) that nothing else here uses.
        let port = 20_000 + (std::process::id() % 5_000) as u16 * 2;
        let b = PrivateBroker { bootstrap: format!("127.0.0.1:{port}"), port, dir };
        match b.script("start") {
            Ok(_) => Some(b),
            Err(e) => panic!("a private broker (scripts/kafka.sh start on port {}) could not start: {e}", b.port),
        }
    }

    /// Runs scripts/kafka.sh COMMAND against this broker.
    pub fn script(&self, command: &str) -> Result<String, String> {
        let out = Command::new(script())
            .arg(command)
            .env("ALARA_KAFKA_PORT", self.port.to_string())
            .env("ALARA_KAFKA_DIR", self.dir.path().join("kafka"))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!("kafka.sh {command}: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr)))
        }
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- the private broker's log:\n{}", self.script("logs").unwrap_or_else(|e| e));
        }
        let _ = self.script("stop");
    }
}

/// A name no other test or run uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{prefix}-{}-{nanos}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// Topic names of one test.
#[derive(Debug, Clone)]
pub struct Topics {
    pub readings: String,
    pub workers: String,
    pub procedures: String,
}

impl Topics {
    /// Creates three fresh topics (`partitions` each).
    pub fn create(broker: &str, test: &str, partitions: i32) -> Topics {
        let t = Topics {
            readings: unique(&format!("{test}.readings")),
            workers: unique(&format!("{test}.workers")),
            procedures: unique(&format!("{test}.procedures")),
        };
        let admin: AdminClient<DefaultClientContext> =
            ClientConfig::new().set("bootstrap.servers", broker).create().expect("admin client");
        let new: Vec<NewTopic> = [&t.readings, &t.workers, &t.procedures]
            .iter()
            .map(|n| NewTopic::new(n, partitions, TopicReplication::Fixed(1)))
            .collect();
        let results = runtime()
            .block_on(admin.create_topics(&new, &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)))))
            .expect("creating topics");
        for r in results {
            r.unwrap_or_else(|(t, e)| panic!("creating topic {t}: {e}"));
        }
        t
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime")
}

/// Writes an alara.toml for these topics with fast group failover and the given `[kafka]` extras.
pub fn config(dir: &Path, topics: &Topics, extra: &str) -> PathBuf {
    let text = format!(
        r#"[kafka]
{extra}
[kafka.topics]
readings = "{}"
workers = "{}"
procedures = "{}"

[kafka.properties]
"session.timeout.ms" = 6000
"heartbeat.interval.ms" = 500
"statistics.interval.ms" = 250
"#,
        topics.readings, topics.workers, topics.procedures
    );
    write(dir, &format!("{}.toml", unique("alara")), &text)
}

/// A valid reading with a unique id: small doses over many workers, as in a real hospital (no
/// alert storm to slow ingest down).
pub fn reading(test: &str, i: usize) -> String {
    let month = i % 12 + 1;
    format!(
        r#"{{"reading_id":"{test}-{i}","source":"LAB","worker_id":"W{}","employer_siret":"{SIRET}","department":"interventional-cardiology","dosimeter_id":"D{}","monitoring":"passive","quantity":"Hp10","status":"measured","dose_msv":0.{:02},"period_start":"2025-{month:02}-01","period_end":"2025-{month:02}-28"}}"#,
        i % 20_000,
        i % 20_000,
        i % 10
    )
}

pub fn worker(i: usize) -> String {
    format!(
        r#"{{"worker_id":"W{i}","employer_siret":"{SIRET}","department":"interventional-cardiology","role":"cardiologist","category":"A","valid_from":"2024-01-01"}}"#
    )
}

pub fn procedure(i: usize) -> String {
    format!(
        r#"{{"procedure_id":"P{i}","worker_id":"W{}","department":"interventional-cardiology","room":"R1","procedure_type":"angioplasty","started_at":"2025-03-01T10:00:00Z","ended_at":"2025-03-01T11:00:00Z","fluoroscopy_s":300,"dap_gycm2":12.5}}"#,
        i % 97
    )
}

/// An idempotent producer (no duplicates on retries, even across a broker restart).
pub fn producer(broker: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", broker)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "200000")
        .set("message.timeout.ms", "300000")
        .create()
        .expect("producer")
}

/// Produces `(key, payload)` messages and returns (partition, offset) of each, in order. A `None`
/// payload is an empty message.
pub fn produce(broker: &str, topic: &str, messages: &[(String, Option<String>)]) -> Vec<(i32, i64)> {
    let producer = producer(broker);
    runtime().block_on(async {
        let mut out = Vec::with_capacity(messages.len());
        for chunk in messages.chunks(20_000) {
            // Enqueue the whole chunk at once (send_result does not wait), then await deliveries.
            let mut pending = Vec::with_capacity(chunk.len());
            for (k, p) in chunk {
                let mut r = FutureRecord::to(topic).key(k.as_str());
                if let Some(p) = p {
                    r = r.payload(p.as_str());
                }
                match producer.send_result(r) {
                    Ok(f) => pending.push(f),
                    Err((e, _)) => panic!("enqueueing to {topic}: {e}"),
                }
            }
            for f in pending {
                let d = f.await.expect("delivery future").unwrap_or_else(|(e, _)| panic!("producing to {topic}: {e}"));
                out.push((d.partition, d.offset));
            }
        }
        out
    })
}

/// Produces valid records, keyed by index.
pub fn produce_lines(broker: &str, topic: &str, lines: impl IntoIterator<Item = String>) -> usize {
    let msgs: Vec<(String, Option<String>)> =
        lines.into_iter().enumerate().map(|(i, l)| (format!("k{i}"), Some(l))).collect();
    produce(broker, topic, &msgs).len()
}

/// Offsets committed by `group` on `topic` (partition → offset), and the high watermarks.
pub fn committed_and_high(broker: &str, group: &str, topic: &str) -> (Vec<i64>, Vec<i64>) {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let md = c.fetch_metadata(Some(topic), Duration::from_secs(10)).expect("metadata");
    let partitions = md.topics()[0].partitions().len() as i32;
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let committed = c.committed_offsets(tpl, Duration::from_secs(10)).expect("committed offsets");
    let mut out = Vec::new();
    let mut high = Vec::new();
    for p in 0..partitions {
        let e = committed.find_partition(topic, p).expect("partition");
        out.push(match e.offset() {
            Offset::Offset(o) => o,
            _ => 0,
        });
        high.push(c.fetch_watermarks(topic, p, Duration::from_secs(10)).expect("watermarks").1);
    }
    (out, high)
}

/// An `alara ingest --kafka` process with its output in files.
pub struct Ingest {
    pub child: Child,
    pub log: PathBuf,
}

impl Ingest {
    pub fn start(broker: &str, lake: &Path, config: &Path, group: &str, extra: &[&str]) -> Ingest {
        let log = lake.parent().unwrap().join(format!("{}.log", unique("ingest")));
        let out = std::fs::File::create(&log).expect("log file");
        let child = alara()
            .args(["ingest", "--lake"])
            .arg(lake)
            .args(["--kafka", broker, "--group", group, "--config"])
            .arg(config)
            .args(extra)
            .env("RUST_LOG", "info,librdkafka=warn")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("spawning alara ingest");
        Ingest { child, log }
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no flush, no commit, no goodbye to the group.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the exit.
    pub fn terminate(mut self) -> (ExitStatus, String) {
        let pid = self.child.id().to_string();
        let ok = Command::new("kill").args(["-TERM", &pid]).status().expect("kill -TERM").success();
        assert!(ok, "kill -TERM {pid} failed");
        let status = wait_exit(&mut self.child, Duration::from_secs(120));
        (status, self.output())
    }

    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }
}

impl Drop for Ingest {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A failing test deletes its directory, log included: say what the process said first.
        if std::thread::panicking() {
            eprintln!("--- the last lines of {}:\n{}", self.log.display(), tail(&self.output(), 80));
        }
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

pub fn wait_exit(child: &mut Child, limit: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `alara ingest --kafka … --until-idle` to completion and returns its output.
pub fn ingest_until_idle(broker: &str, lake: &Path, config: &Path, group: &str) -> String {
    let mut i = Ingest::start(broker, lake, config, group, &["--until-idle"]);
    let status = wait_exit(&mut i.child, Duration::from_secs(300));
    let out = i.output();
    assert!(status.success(), "alara ingest --until-idle failed ({status}):\n{out}");
    out
}

/// Polls `cond` until it holds, failing after `limit` with `what` and the last value seen.
pub fn wait_until<T: std::fmt::Debug>(
    limit: Duration,
    what: &str,
    mut probe: impl FnMut() -> T,
    cond: impl Fn(&T) -> bool,
) -> T {
    let start = Instant::now();
    loop {
        let v = probe();
        if cond(&v) {
            return v;
        }
        if start.elapsed() > limit {
            panic!("timed out after {limit:?} waiting for {what}; last value {v:?}");
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The data files under `dir` (a lake or one of its tables), paths relative to `dir`. Delta log
/// checkpoints are Parquet too: `_delta_log` is not entered.
pub fn data_files(dir: &Path) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() && !p.ends_with("_delta_log") {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                out.insert(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out
}

/// Rows of the `readings` view (one per identity); 0 before the ingest process created the lake.
pub fn readings(lake: &Path) -> i64 {
    if !lake.join("readings").is_dir() {
        return 0;
    }
    sql_count(lake, "SELECT count(*) AS n FROM readings")
}

/// Every Parquet file of the lake, each opened and read whole by the parquet crate.
pub fn check_every_file_is_whole(lake: &Path) -> usize {
    let mut n = 0;
    let mut stack = vec![lake.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                let f = std::fs::File::open(&p).unwrap();
                let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
                    .unwrap_or_else(|e| panic!("{} is not a whole Parquet file: {e}", p.display()))
                    .build()
                    .unwrap();
                for b in reader {
                    b.unwrap_or_else(|e| panic!("{} cannot be read: {e}", p.display()));
                }
                n += 1;
            }
        }
    }
    n
}

/// A free loopback port (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// GET http://addr/metrics. The request asks the server to close the connection, as reading the
/// answer to its end needs (an HTTP/1.1 server otherwise keeps it open for the next request).
pub fn scrape(addr: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(addr) else { return String::new() };
    let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// The value of one metric line (`name{labels} value`).
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
}

/// Nothing counted twice, checked where double counting would show. The `readings` view keeps one
/// row per identity by construction, so it cannot: instead
/// - the raw copies in `readings_all` are exactly the `produced` records: every flush the Delta
///   log vouches for was written once (a replay after a kill, a rebalance or a broker restart
///   that wrote a flush again would add copies here);
/// - the regulatory sums (`monthly_dose`, `rolling_12_months`) equal those of a reference lake
///   built from the same records by file ingest, with no Kafka and no fault.
pub fn assert_counted_once(lake: &Path, produced: impl Iterator<Item = String>) {
    let reference = tempdir();
    let lines: Vec<String> = produced.collect();
    let file = write(reference.path(), "readings.jsonl", &(lines.join("\n") + "\n"));
    let ref_lake = reference.path().join("lake");
    run_ok(alara().args(["ingest", "--lake"]).arg(&ref_lake).arg("--readings").arg(&file));
    assert_eq!(
        sql_count(lake, "SELECT count(*) AS n FROM readings_all"),
        lines.len() as i64,
        "raw copies in readings_all: every produced record written once"
    );
    for sql in [
        "SELECT worker_id, count(*) AS months, round(sum(dose_msv), 6) AS dose, sum(results_count) AS results \
         FROM monthly_dose GROUP BY worker_id ORDER BY worker_id",
        "SELECT worker_id, count(*) AS windows, round(sum(dose_msv), 6) AS dose, max(dose_msv) AS peak \
         FROM rolling_12_months GROUP BY worker_id ORDER BY worker_id",
    ] {
        let (got, want) = (sql_json(lake, sql), sql_json(&ref_lake, sql));
        assert!(!want.is_empty(), "the reference has doses: {sql}");
        assert_eq!(got.len(), want.len(), "{sql}");
        if let Some((g, w)) = got.iter().zip(&want).find(|(g, w)| g != w) {
            panic!("dose sums differ from the reference lake's ({sql}):\n  lake:      {g:?}\n  reference: {w:?}");
        }
    }
}
