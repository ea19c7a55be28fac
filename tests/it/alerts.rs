//! Alert hooks end to end (issue 5): a real HTTP receiver on loopback that checks every
//! signature, goes down and comes back; a command hook; a Kafka hook read back with kcat; restarts
//! (and a SIGKILL) in the middle of a Kafka stream. Nothing waits on time: tests synchronise on
//! what the receiver holds and on the outbox, as a user would.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

use crate::common::*;
use crate::kafka_support::{self as ks, Topics};

const SIRET: &str = "73282932000074";
const SECRET: &str = "s3cret-for-tests-only";
const SECRET_VAR: &str = "ALARA_TEST_WEBHOOK_SECRET";

// ---------------------------------------------------------------- a Caen-like data set

/// Workers: RAD4 declared a pregnancy on 2024-03-01.
fn workers_csv() -> String {
    let mut s = String::from("worker_id,employer_siret,department,role,category,pregnancy_declared_on,valid_from\n");
    for w in ["RAD1", "RAD2", "RAD3", "RAD4"] {
        let pregnancy = if w == "RAD4" { "2024-03-01" } else { "" };
        s.push_str(&format!("{w},{SIRET},interventional-radiology,radiologist,A,{pregnancy},2023-01-01\n"));
    }
    s
}

fn month(i: u32) -> (String, String) {
    // Month 1 is January 2024.
    let start =
        chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap().checked_add_months(chrono::Months::new(i - 1)).unwrap();
    let end = start.checked_add_months(chrono::Months::new(1)).unwrap().pred_opt().unwrap();
    (start.to_string(), end.to_string())
}

fn lens(worker: &str, i: u32, dose: f64) -> String {
    let (s, e) = month(i);
    format!(
        r#"{{"reading_id":"{worker}-lens-{i}","source":"DOSILAB","worker_id":"{worker}","employer_siret":"{SIRET}","department":"interventional-radiology","dosimeter_id":"EYE-{worker}","monitoring":"lens","position":"eye","laterality":"left","quantity":"Hp3","status":"measured","dose_msv":{dose},"period_start":"{s}","period_end":"{e}"}}"#
    )
}

fn badge(worker: &str, i: u32, dose: f64) -> String {
    let (s, e) = month(i);
    format!(
        r#"{{"reading_id":"{worker}-badge-{i}","source":"DOSILAB","worker_id":"{worker}","employer_siret":"{SIRET}","department":"interventional-radiology","dosimeter_id":"B-{worker}","monitoring":"passive","position":"under_apron","quantity":"Hp10","status":"measured","dose_msv":{dose},"period_start":"{s}","period_end":"{e}"}}"#
    )
}

fn entry(worker: &str, i: u32, dose: f64) -> String {
    let (s, _) = month(i);
    format!(
        r#"{{"reading_id":"{worker}-epd-{i}","source":"EPD","worker_id":"{worker}","employer_siret":"{SIRET}","department":"interventional-radiology","dosimeter_id":"EPD-7","monitoring":"operational","quantity":"Hp10","status":"measured","dose_msv":{dose},"period_start":"{s}T10:00:00Z","period_end":"{s}T11:30:00Z"}}"#
    )
}

/// Readings of months `from..=to`: RAD1 slowly over the lens limit (an ESR month on the way),
/// RAD2 quiet but for one operational alarm and one ESR month, RAD3 fast over both lens levels,
/// RAD4 pregnant. Months 1–6 raise RAD4's pregnancy and RAD3's investigation alerts, 7–11 the
/// ESR, limits and the alarm, 12–16 RAD2's ESR.
fn readings(from: u32, to: u32) -> Vec<String> {
    let mut out = Vec::new();
    for i in from..=to {
        out.push(lens("RAD1", i, if i == 7 { 5.5 } else { 1.5 }));
        out.push(lens("RAD2", i, if i == 14 { 6.0 } else { 0.3 }));
        if i == 10 {
            out.push(entry("RAD2", i, 0.9));
        }
        out.push(lens("RAD3", i, 2.6));
        out.push(badge("RAD4", i, 0.4));
    }
    out
}

// ---------------------------------------------------------------- a webhook receiver

/// One delivery as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    body: Value,
    signature_ok: bool,
}

impl Received {
    /// Alert ids of the delivery: the leading alert, then the grouped ones.
    fn ids(&self) -> Vec<String> {
        let mut ids = vec![self.body["alert_id"].as_str().unwrap_or_default().to_string()];
        for g in self.body["grouped"].as_array().into_iter().flatten() {
            ids.push(g["alert_id"].as_str().unwrap_or_default().to_string());
        }
        ids
    }
}

type Inbox = Arc<Mutex<Vec<Received>>>;

/// A minimal HTTP/1.1 server on loopback: one request per connection, signature checked with
/// the shared secret (401 when wrong), every delivery recorded in arrival order.
struct Receiver {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    /// Listens on `port` (0: any free port), recording into `inbox`.
    fn start(port: u16, inbox: Inbox) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("binding the receiver");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    serve(conn, &inbox);
                }
            }
        });
        Receiver { port, stop, thread: Some(thread) }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/alara", self.port)
    }

    /// Closes the port: connections are refused until a new receiver binds it.
    fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // wakes accept()
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

fn serve(conn: TcpStream, inbox: &Inbox) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut length = 0usize;
    let mut signature = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return; // the wake-up connection, or a client that gave up
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = v.trim().parse().unwrap_or(0),
                "x-alara-signature" => signature = v.trim().to_string(),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let signature_ok = signature == alara_alert::sign(SECRET.as_bytes(), &body);
    let status = if signature_ok { "200 OK" } else { "401 Unauthorized" };
    if let Ok(body) = serde_json::from_slice::<Value>(&body) {
        inbox.lock().unwrap().push(Received { body, signature_ok });
    }
    let mut conn = conn;
    let _ = write!(conn, "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
}

fn received_ids(inbox: &Inbox) -> Vec<String> {
    inbox.lock().unwrap().iter().flat_map(Received::ids).collect()
}

// ---------------------------------------------------------------- helpers

/// alara.toml with fast retries and a short drain, plus `hooks` (TOML text).
fn config(dir: &Path, hooks: &str) -> PathBuf {
    let text = format!(
        "[alerts]\nmax_attempts = 3\ninitial_backoff_ms = 20\nmax_backoff_ms = 100\ndrain_timeout_s = 5\n\n{hooks}"
    );
    write(dir, "alara.toml", &text)
}

fn webhook(url: &str) -> String {
    format!("[[hooks]]\nname = \"rpa\"\nkind = \"webhook\"\nurl = \"{url}\"\nsecret_env = \"{SECRET_VAR}\"\n")
}

fn ingest_files(lake: &Path, cfg: &Path, workers: Option<&Path>, readings: &Path) -> String {
    let mut cmd = alara();
    cmd.args(["ingest", "--lake"]).arg(lake).arg("--config").arg(cfg).env(SECRET_VAR, SECRET);
    if let Some(w) = workers {
        cmd.arg("--workers").arg(w);
    }
    stdout(&run_ok(cmd.arg("--readings").arg(readings)))
}

/// `alara alerts --format json` rows, in the order raised.
fn alerts(lake: &Path, cfg: &Path) -> Vec<serde_json::Map<String, Value>> {
    let out = run_ok(alara().args(["alerts", "--format", "json", "--lake"]).arg(lake).arg("--config").arg(cfg));
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_object().unwrap().clone())
        .collect()
}

fn ids_in_state(rows: &[serde_json::Map<String, Value>], state: &str) -> BTreeSet<String> {
    rows.iter().filter(|r| r["state"] == state).map(|r| r["alert_id"].as_str().unwrap().to_string()).collect()
}

fn all_ids(rows: &[serde_json::Map<String, Value>]) -> BTreeSet<String> {
    rows.iter().map(|r| r["alert_id"].as_str().unwrap().to_string()).collect()
}

/// Every alert id delivered exactly once, every signature valid, and per worker the deliveries
/// in the order the alerts were raised (a delivery never holds an alert raised before one of an
/// earlier delivery to the same worker).
fn assert_exactly_once_in_order(inbox: &Inbox, expected: &BTreeSet<String>, raised_order: &[String]) {
    let got = inbox.lock().unwrap().clone();
    assert!(got.iter().all(|r| r.signature_ok), "a delivery had a bad signature");
    let ids: Vec<String> = got.iter().flat_map(Received::ids).collect();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in &ids {
        *counts.entry(id).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    assert_eq!(&ids.iter().cloned().collect::<BTreeSet<_>>(), expected, "delivered ≠ raised");
    let rank: HashMap<&str, usize> = raised_order.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
    let mut last: HashMap<String, usize> = HashMap::new();
    for r in &got {
        let worker = r.body["worker_id"].as_str().unwrap().to_string();
        let ranks: Vec<usize> = r.ids().iter().map(|id| rank[id.as_str()]).collect();
        let (lo, hi) = (*ranks.iter().min().unwrap(), *ranks.iter().max().unwrap());
        if let Some(prev) = last.get(&worker) {
            assert!(lo > *prev, "{worker}: a delivery holds an alert raised before the previous delivery's");
        }
        last.insert(worker, hi);
    }
}

fn raised_order(rows: &[serde_json::Map<String, Value>]) -> Vec<String> {
    rows.iter().map(|r| r["alert_id"].as_str().unwrap().to_string()).collect()
}

/// The alerts of the whole series ingested in one run: what every other path must end with.
fn reference_ids(dir: &Path) -> BTreeSet<String> {
    let d = dir.join("reference");
    std::fs::create_dir_all(&d).unwrap();
    let cfg = config(&d, "");
    let w = write(&d, "workers.csv", &workers_csv());
    let r = write(&d, "readings.jsonl", &readings(1, 16).join("\n"));
    ingest_files(&d.join("lake"), &cfg, Some(&w), &r);
    all_ids(&alerts(&d.join("lake"), &cfg))
}

// ---------------------------------------------------------------- tests

/// The issue's check with files: a receiver that goes down and comes back gets every alert once,
/// in order per worker, signed; a replay raises nothing; --retry and --ack.
#[test]
fn webhook_down_then_back_gets_every_alert_once_in_order() {
    let dir = tempdir();
    let lake = dir.path().join("lake");
    let inbox: Inbox = Arc::default();
    let receiver = Receiver::start(0, Arc::clone(&inbox));
    let port = receiver.port;
    let cfg = config(dir.path(), &webhook(&receiver.url()));
    let workers = write(dir.path(), "workers.csv", &workers_csv());
    let part = |name: &str, from, to| write(dir.path(), name, &readings(from, to).join("\n"));
    let (a, b, c) = (part("a.jsonl", 1, 6), part("b.jsonl", 7, 11), part("c.jsonl", 12, 16));

    // Up: everything raised is delivered before ingest exits.
    let out = ingest_files(&lake, &cfg, Some(&workers), &a);
    let rows = alerts(&lake, &cfg);
    assert!(!rows.is_empty(), "part A raises alerts:\n{out}");
    assert_eq!(ids_in_state(&rows, "delivered"), all_ids(&rows), "{out}");
    assert_eq!(received_ids(&inbox).len(), rows.len());

    // Down: the new alerts are raised and recorded, then owed.
    receiver.stop();
    let out = ingest_files(&lake, &cfg, None, &b);
    assert!(out.contains("still owed"), "{out}");
    let rows = alerts(&lake, &cfg);
    let owed = ids_in_state(&rows, "failed");
    assert!(!owed.is_empty(), "part B raises alerts while the receiver is down");
    let status = sql_json(&lake, "SELECT last_error FROM alert_status WHERE delivery = 'failed'");
    assert!(status.iter().all(|r| r["last_error"].as_str().is_some_and(|e| e.contains("127.0.0.1"))), "{status:?}");
    // --retry while still down: nothing delivered, exit 1.
    let out = alara()
        .args(["alerts", "--retry", "--lake"])
        .arg(&lake)
        .arg("--config")
        .arg(&cfg)
        .env(SECRET_VAR, SECRET)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));

    // Back, and alara restarted: the backlog first, then what part C raises; a replay of part A
    // raises nothing.
    let receiver = Receiver::start(port, Arc::clone(&inbox));
    ingest_files(&lake, &cfg, None, &c);
    ingest_files(&lake, &cfg, Some(&workers), &a);
    let rows = alerts(&lake, &cfg);
    assert_eq!(ids_in_state(&rows, "delivered"), all_ids(&rows));
    assert_exactly_once_in_order(&inbox, &all_ids(&rows), &raised_order(&rows));
    assert_eq!(all_ids(&rows), reference_ids(dir.path()), "split runs and one run raise the same alerts");
    let twice =
        sql_json(&lake, "SELECT alert_id FROM alerts_all WHERE event = 'raised' GROUP BY alert_id HAVING count(*) > 1");
    assert!(twice.is_empty(), "raised twice: {twice:?}");

    // Nothing left to re-send; acknowledging by id prefix is recorded and listed.
    let out = run_ok(
        alara().args(["alerts", "--retry", "--lake"]).arg(&lake).arg("--config").arg(&cfg).env(SECRET_VAR, SECRET),
    );
    assert!(stdout(&out).contains("nothing to re-send"), "{}", stdout(&out));
    let id = rows[0]["alert_id"].as_str().unwrap();
    run_ok(
        alara()
            .args(["alerts", "--ack", &id[..10], "--by", "alice", "--note", "called the radiologist", "--lake"])
            .arg(&lake),
    );
    let rows = alerts(&lake, &cfg);
    assert_eq!(rows[0]["state"], "acknowledged");
    assert_eq!(rows[0]["acknowledged_by"], "alice");
    let bad = alara().args(["alerts", "--ack", "ffffffffff", "--by", "alice", "--lake"]).arg(&lake).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    receiver.stop();
}

/// Every delivery is signed with the configured secret: a receiver with another secret refuses
/// them, and the alerts stay owed rather than lost; a webhook without a secret is refused at
/// start (exit 2).
#[test]
fn webhook_signatures_and_missing_secrets() {
    let dir = tempdir();
    let lake = dir.path().join("lake");
    let inbox: Inbox = Arc::default();
    let receiver = Receiver::start(0, Arc::clone(&inbox));
    let cfg = config(dir.path(), &webhook(&receiver.url()));
    let r = write(dir.path(), "r.jsonl", &lens("RAD9", 3, 6.0));
    let out = alara()
        .args(["ingest", "--lake"])
        .arg(&lake)
        .arg("--config")
        .arg(&cfg)
        .env(SECRET_VAR, "not-the-receivers-secret")
        .arg("--readings")
        .arg(&r)
        .output()
        .unwrap();
    assert!(out.status.success());
    let got = inbox.lock().unwrap().clone();
    assert!(!got.is_empty() && got.iter().all(|d| !d.signature_ok), "{got:?}");
    assert_eq!(ids_in_state(&alerts(&lake, &cfg), "failed").len(), 1);

    let out = alara()
        .args(["ingest", "--lake"])
        .arg(&lake)
        .arg("--config")
        .arg(&cfg)
        .arg("--readings")
        .arg(&r)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(SECRET_VAR), "{}", String::from_utf8_lossy(&out.stderr));
    receiver.stop();
}

/// A command hook gets each delivery on stdin, with the leading alert's id in its environment;
/// the payload holds what a person needs to act.
#[test]
fn command_hook_runs_a_program_with_the_alert_on_stdin() {
    let dir = tempdir();
    let lake = dir.path().join("lake");
    let out_dir = dir.path().join("paged");
    std::fs::create_dir_all(&out_dir).unwrap();
    let hooks = format!(
        "[[hooks]]\nkind = \"command\"\nprogram = \"sh\"\nargs = [\"-c\", 'cat > \"{}/$ALARA_ALERT_ID.json\"']\nlevels = [\"esr\", \"limit\", \"alarm\"]\n",
        out_dir.display()
    );
    let cfg = config(dir.path(), &hooks);
    let workers = write(dir.path(), "workers.csv", &workers_csv());
    let r = write(dir.path(), "r.jsonl", &readings(1, 12).join("\n"));
    ingest_files(&lake, &cfg, Some(&workers), &r);

    let rows = alerts(&lake, &cfg);
    let wanted: BTreeSet<String> = rows
        .iter()
        .filter(|r| ["esr", "limit", "alarm"].contains(&r["level"].as_str().unwrap()))
        .map(|r| r["alert_id"].as_str().unwrap().to_string())
        .collect();
    assert!(wanted.len() >= 3, "{rows:?}");
    // Filtered out: investigation and pregnancy alerts were raised but owed to no hook.
    assert!(rows.iter().any(|r| r["state"] == "raised" && r["level"] == "investigation"));
    let mut delivered = BTreeSet::new();
    for f in std::fs::read_dir(&out_dir).unwrap() {
        let path = f.unwrap().path();
        let body: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(path.file_stem().unwrap().to_str().unwrap(), body["alert_id"]);
        for key in ["worker_id", "department", "rule", "level", "quantity", "dose_msv", "threshold_msv", "summary"] {
            assert!(!body[key].is_null(), "{key} missing in {body}");
        }
        assert!(body["window"]["start"].is_string() && body["window"]["end"].is_string(), "{body}");
        assert!(!body["readings"].as_array().unwrap().is_empty(), "{body}");
        delivered.insert(body["alert_id"].as_str().unwrap().to_string());
        for g in body["grouped"].as_array().into_iter().flatten() {
            delivered.insert(g["alert_id"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(delivered, wanted);
    let limit = rows.iter().find(|r| r["level"] == "limit" && r["worker_id"] == "RAD3").unwrap();
    assert!(limit["summary"].as_str().unwrap().contains("above the annual limit of 20 mSv"), "{limit:?}");
}

/// A Kafka hook produces each delivery to its topic keyed by worker; kcat reads them back.
#[test]
fn kafka_hook_produces_alerts_keyed_by_worker() {
    let Some(broker) = ks::broker() else { return };
    let _guard = ks::shared();
    let dir = tempdir();
    let lake = dir.path().join("lake");
    let topic = ks::unique("alerts");
    let hooks = format!("[[hooks]]\nkind = \"kafka\"\nbrokers = \"{broker}\"\ntopic = \"{topic}\"\n");
    let cfg = config(dir.path(), &hooks);
    let workers = write(dir.path(), "workers.csv", &workers_csv());
    let r = write(dir.path(), "r.jsonl", &readings(1, 12).join("\n"));
    ingest_files(&lake, &cfg, Some(&workers), &r);
    let rows = alerts(&lake, &cfg);
    assert_eq!(ids_in_state(&rows, "delivered"), all_ids(&rows));

    let out = std::process::Command::new("kcat")
        .args(["-C", "-b", &broker, "-t", &topic, "-o", "beginning", "-e", "-q", "-f", "%k\t%s\n"])
        .output()
        .expect("kcat (scripts/test-deps.sh installs it)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut ids = BTreeSet::new();
    for line in String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.is_empty()) {
        let (key, value) = line.split_once('\t').unwrap();
        let body: Value = serde_json::from_str(value).unwrap();
        assert_eq!(key, body["worker_id"], "keyed by worker");
        let d = Received { body, signature_ok: true };
        ids.extend(d.ids());
    }
    assert_eq!(ids, all_ids(&rows));
}

/// The issue's check on a Kafka stream: the receiver is up, then alara is killed (SIGKILL) in
/// the middle of the stream, the receiver goes down while more arrives, then both come back.
/// Every alert arrives exactly once, in order per worker, and they are exactly the alerts of the
/// whole series ingested in one go.
#[test]
fn kafka_stream_with_kill_and_receiver_outage_loses_and_repeats_nothing() {
    let Some(broker) = ks::broker() else { return };
    let _guard = ks::shared();
    let dir = tempdir();
    let lake = dir.path().join("lake");
    let topics = Topics::create(&broker, "alerts", 2);
    let inbox: Inbox = Arc::default();
    let receiver = Receiver::start(0, Arc::clone(&inbox));
    let port = receiver.port;
    let cfg = ks::config(dir.path(), &topics, "latency_ms = 200");
    let text = std::fs::read_to_string(&cfg).unwrap();
    // The ingest processes here do not inherit the secret's variable: it comes from a file.
    let secret = write(dir.path(), "webhook.secret", &format!("{SECRET}\n"));
    let hooks = format!(
        "\n[alerts]\nmax_attempts = 3\ninitial_backoff_ms = 20\nmax_backoff_ms = 100\ndrain_timeout_s = 5\n\n\
         [[hooks]]\nname = \"rpa\"\nkind = \"webhook\"\nurl = \"{}\"\nsecret_file = \"{}\"\n",
        receiver.url(),
        secret.display()
    );
    std::fs::write(&cfg, text + &hooks).unwrap();
    let group = ks::unique("g");

    // Part A streamed to a running ingest; wait until its alerts are recorded as delivered,
    // then SIGKILL it.
    ks::produce_lines(&broker, &topics.workers, workers_csv_as_json());
    ks::produce_lines(&broker, &topics.readings, readings(1, 6));
    let expected_a = {
        let d = dir.path().join("ref-a");
        std::fs::create_dir_all(&d).unwrap();
        let c = config(&d, "");
        let w = write(&d, "workers.csv", &workers_csv());
        let r = write(&d, "r.jsonl", &readings(1, 6).join("\n"));
        ingest_files(&d.join("lake"), &c, Some(&w), &r);
        all_ids(&alerts(&d.join("lake"), &c))
    };
    assert!(!expected_a.is_empty());
    let running = ks::Ingest::start(&broker, &lake, &cfg, &group, &[]);
    ks::wait_until(
        Duration::from_secs(120),
        "part A's alerts delivered",
        || if lake.is_dir() { ids_in_state(&alerts(&lake, &cfg), "delivered") } else { BTreeSet::new() },
        |d| d == &expected_a,
    );
    running.kill9();

    // Receiver down while part B streams in.
    receiver.stop();
    ks::produce_lines(&broker, &topics.readings, readings(7, 11));
    let out = ks::ingest_until_idle(&broker, &lake, &cfg, &group);
    assert!(out.contains("still owed"), "{out}");

    // Both back: part C.
    let receiver = Receiver::start(port, Arc::clone(&inbox));
    ks::produce_lines(&broker, &topics.readings, readings(12, 16));
    ks::ingest_until_idle(&broker, &lake, &cfg, &group);
    let rows = alerts(&lake, &cfg);
    assert_eq!(ids_in_state(&rows, "delivered"), all_ids(&rows));
    assert_eq!(all_ids(&rows), reference_ids(dir.path()));
    assert_exactly_once_in_order(&inbox, &all_ids(&rows), &raised_order(&rows));
    receiver.stop();
}

fn workers_csv_as_json() -> Vec<String> {
    workers_csv()
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            let pregnancy = if c[5].is_empty() { String::new() } else { format!(r#","pregnancy_declared_on":"{}""#, c[5]) };
            format!(
                r#"{{"worker_id":"{}","employer_siret":"{}","department":"{}","role":"{}","category":"{}","valid_from":"{}"{pregnancy}}}"#,
                c[0], c[1], c[2], c[3], c[4], c[6]
            )
        })
        .collect()
}

/// Stream and batch never disagree: on generated hospitals of several seeds (each with its
/// decimal slip corrected later in the file, an apprentice, a pregnancy), the alerts that stand
/// are exactly the `overexposure` rows of the levels the stream evaluates, but for an
/// investigation row whose very window also crossed the limit (the limit alert supersedes it).
/// The stream's rules are Rust and the view's SQL: this test holds the two definitions together.
#[test]
fn stream_and_batch_agree_on_a_generated_hospital() {
    for seed in ["11", "12", "13"] {
        stream_and_batch_agree(seed);
    }
}

fn stream_and_batch_agree(seed: &str) {
    let dir = tempdir();
    let input = dir.path().join("in");
    let lake = dir.path().join("lake");
    run_ok(alara().args(["generate", "--workers", "40", "--seed", seed, "--out"]).arg(&input));
    // Small flushes, as on a stream: the slip and its correction arrive in different ones.
    let cfg = config(dir.path(), "[ingest]\nmax_batch_rows = 2000\n");
    run_ok(
        alara()
            .args(["ingest", "--lake"])
            .arg(&lake)
            .arg("--config")
            .arg(&cfg)
            .arg("--workers")
            .arg(input.join("workers.csv"))
            .arg("--readings")
            .arg(input.join("readings.jsonl")),
    );
    let key = |r: &serde_json::Map<String, Value>| {
        ["worker_id", "quantity", "level", "window_start"]
            .map(|k| r[k].as_str().unwrap_or_default().to_string())
            .join(" ")
    };
    let batch = sql_json(
        &lake,
        "SELECT worker_id, quantity, level, body_site, window_start FROM overexposure \
         WHERE level IN ('esr', 'investigation', 'limit', 'pregnancy')",
    );
    let limits: BTreeSet<String> = batch
        .iter()
        .filter(|r| r["level"] == "limit")
        .map(|r| format!("{} {}", key(r).replace(" limit ", " investigation "), r["body_site"]))
        .collect();
    let batch: BTreeSet<String> =
        batch.iter().filter(|r| !limits.contains(&format!("{} {}", key(r), r["body_site"]))).map(key).collect();
    let stream: BTreeSet<String> = sql_json(
        &lake,
        "SELECT worker_id, quantity, level, window_start FROM alerts WHERE rule NOT IN ('withdrawal', 'operational_alarm') AND state <> 'withdrawn'",
    )
    .iter()
    .map(key)
    .collect();
    assert!(batch.len() >= 5, "seed {seed}: {batch:?}");
    assert_eq!(stream, batch, "seed {seed}");
    // The decimal slip raised alerts when it arrived; its correction withdrew them.
    let withdrawn = sql_count(&lake, "SELECT count(*) AS n FROM alerts WHERE state = 'withdrawn'");
    let notices = sql_count(&lake, "SELECT count(*) AS n FROM alerts WHERE rule = 'withdrawal'");
    assert!(withdrawn > 0 && withdrawn == notices, "seed {seed}: {withdrawn} withdrawn, {notices} notices");
}

/// https webhooks: the receiver's certificate is verified against the system's trusted roots
/// (here, a self-signed certificate made trusted through `SSL_CERT_FILE`); an untrusted one is
/// a failed delivery, still owed.
#[test]
fn webhook_over_https_verifies_the_certificate() {
    let Some(python) = python_with("ssl") else { return };
    let dir = tempdir();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    // A receiver that records each POST body, one per line, then answers 200.
    let got = dir.path().join("got.jsonl");
    let server = write(
        dir.path(),
        "server.py",
        &format!(
            r#"import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers['Content-Length']))
        with open({got:?}, 'ab') as f:
            f.write(body + b'\n')
        self.send_response(200); self.send_header('Content-Length', '0'); self.end_headers()
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain({cert:?}, {key:?})
s.socket = ctx.wrap_socket(s.socket, server_side=True)
print(s.server_address[1], flush=True)
s.serve_forever()
"#,
            got = got.display().to_string(),
            cert = cert.display().to_string(),
            key = key.display().to_string()
        ),
    );
    let mut child = Reaped(
        std::process::Command::new(python)
            .arg(&server)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python https server"),
    );
    let mut port = String::new();
    BufReader::new(child.0.stdout.take().unwrap()).read_line(&mut port).unwrap();
    let url = format!("https://localhost:{}/alara", port.trim());
    let lake = dir.path().join("lake");
    let cfg = config(dir.path(), &webhook(&url));
    let r = write(dir.path(), "r.jsonl", &lens("RAD9", 3, 6.0));

    // Not trusted: the handshake fails, the alert stays owed.
    let out = ingest_files(&lake, &cfg, None, &r);
    assert!(out.contains("still owed") && out.contains("certificate"), "{out}");
    // Trusted: --retry delivers it.
    let out = alara()
        .args(["alerts", "--retry", "--lake"])
        .arg(&lake)
        .arg("--config")
        .arg(&cfg)
        .env(SECRET_VAR, SECRET)
        .env("SSL_CERT_FILE", &cert)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let body: Value = serde_json::from_str(std::fs::read_to_string(&got).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(body["level"], "esr");
    assert_eq!(ids_in_state(&alerts(&lake, &cfg), "delivered").len(), 1);
}

/// A child process killed when the test ends, passed or not.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
