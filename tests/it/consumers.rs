//! Alerts with many consumers (issue 9): readings produced **without keys** into a three-partition
//! topic, three `alara ingest` processes in one group (one killed with SIGKILL, one joining late),
//! a decimal slip whose correction arrives through another partition than the slip. Each process
//! follows every writer's commits, so the alerts that stand at the end equal the `overexposure`
//! rows, and no condition is raised twice by any process. A second test checks that the alert
//! state grows with legal results, not with readings.
//!
//! Synchronisation is on what a user sees: the group's committed offsets reaching the end of the
//! topic (each flush raises its alerts before its offsets are committed), the metrics endpoint.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use rdkafka::producer::FutureRecord;
use serde_json::Value;

use crate::common::*;
use crate::kafka_support::{self as ks, Ingest, Topics};

const LONG: Duration = Duration::from_secs(300);

/// Produces payloads without a key, to the partition given (or where the producer puts them);
/// returns the partition of each.
fn produce_unkeyed(broker: &str, topic: &str, messages: &[(Option<i32>, String)]) -> Vec<i32> {
    let producer = ks::producer(broker);
    ks::runtime().block_on(async {
        let mut pending = Vec::with_capacity(messages.len());
        for (partition, payload) in messages {
            let mut r: FutureRecord<'_, (), str> = FutureRecord::to(topic).payload(payload.as_str());
            if let Some(p) = partition {
                r = r.partition(*p);
            }
            match producer.send_result(r) {
                Ok(f) => pending.push(f),
                Err((e, _)) => panic!("enqueueing to {topic}: {e}"),
            }
        }
        let mut out = Vec::with_capacity(pending.len());
        for f in pending {
            let d = f.await.expect("delivery future").unwrap_or_else(|(e, _)| panic!("producing to {topic}: {e}"));
            out.push(d.partition);
        }
        out
    })
}

/// Waits until the group has committed every message of the topic: every flush, with the alerts
/// it raised, is then durable.
fn wait_group_done(broker: &str, group: &str, topic: &str) {
    ks::wait_until(
        LONG,
        &format!("group {group} to commit the end of {topic}"),
        || ks::committed_and_high(broker, group, topic),
        // An empty partition has nothing to commit.
        |(committed, high)| committed.iter().zip(high).all(|(c, h)| *h == 0 || c >= h),
    );
}

fn workers_as_json(csv_path: &Path) -> Vec<String> {
    // The generator writes workers as CSV (`;`); the Kafka topic carries JSON.
    let text = std::fs::read_to_string(csv_path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(';').collect();
    lines
        .map(|l| {
            let obj: serde_json::Map<String, Value> = header
                .iter()
                .zip(l.split(';'))
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| {
                    let v = match *k {
                        "apprentice" => Value::Bool(v == "true"),
                        _ => Value::String(v.to_string()),
                    };
                    (k.to_string(), v)
                })
                .collect();
            Value::Object(obj).to_string()
        })
        .collect()
}

/// The conditions standing in the outbox, and those of the view at the levels the stream raises
/// (but for an investigation row whose very window also crossed the limit: the limit alert
/// supersedes it), as `worker quantity level window_start`.
fn standing_and_expected(lake: &Path) -> (BTreeSet<String>, BTreeSet<String>) {
    let key = |r: &serde_json::Map<String, Value>| {
        ["worker_id", "quantity", "level", "window_start"]
            .map(|k| r[k].as_str().unwrap_or_default().to_string())
            .join(" ")
    };
    let batch = sql_json(
        lake,
        "SELECT worker_id, quantity, level, body_site, window_start FROM overexposure \
         WHERE level IN ('esr', 'investigation', 'limit', 'pregnancy')",
    );
    let limits: BTreeSet<String> = batch
        .iter()
        .filter(|r| r["level"] == "limit")
        .map(|r| format!("{} {}", key(r).replace(" limit ", " investigation "), r["body_site"]))
        .collect();
    let expected: BTreeSet<String> =
        batch.iter().filter(|r| !limits.contains(&format!("{} {}", key(r), r["body_site"]))).map(key).collect();
    let standing: BTreeSet<String> = sql_json(
        lake,
        "SELECT worker_id, quantity, level, window_start FROM alerts \
         WHERE rule NOT IN ('withdrawal', 'operational_alarm') AND state <> 'withdrawn'",
    )
    .iter()
    .map(key)
    .collect();
    (standing, expected)
}

#[test]
fn three_consumers_unkeyed_with_a_kill_and_a_late_joiner_raise_what_the_view_finds_once() {
    let Some(b) = ks::broker() else { return };
    let _g = ks::shared();
    let dir = tempdir();
    let input = dir.path().join("in");
    let lake = dir.path().join("lake");
    run_ok(alara().args(["generate", "--workers", "40", "--seed", "11", "--out"]).arg(&input));
    let topics = Topics::create(&b, "consumers", 3);
    let group = ks::unique("consumers");
    // Small flushes: a worker's year is split over many commits of several processes.
    let cfg = ks::config(dir.path(), &topics, "max_batch_rows = 300\nlatency_ms = 200");

    // No keys: every reading goes to the next partition in turn (as a round-robin partitioner
    // does), so each worker's year is spread over the three partitions and so over the
    // processes. The decimal slip (revision 0) goes to partition 0, its correction (revision 1)
    // to partition 2, at the very end.
    let lines: Vec<String> =
        std::fs::read_to_string(input.join("readings.jsonl")).unwrap().lines().map(str::to_string).collect();
    let revision = |l: &str| serde_json::from_str::<Value>(l).ok().and_then(|v| v["revision"].as_i64()).unwrap_or(0);
    let id = |l: &str| serde_json::from_str::<Value>(l).ok().and_then(|v| v["reading_id"].as_str().map(str::to_string));
    let corrected: BTreeSet<String> = lines.iter().filter(|l| revision(l) > 0).filter_map(|l| id(l)).collect();
    assert!(!corrected.is_empty(), "the generated hospital has a corrected slip");
    let (corrections, rest): (Vec<&String>, Vec<&String>) = lines.iter().partition(|l| revision(l) > 0);
    let (slips, rest): (Vec<&String>, Vec<&String>) =
        rest.into_iter().partition(|l| id(l).is_some_and(|i| corrected.contains(&i)));
    let mut first: Vec<(Option<i32>, String)> = slips.iter().map(|l| (Some(0), l.to_string())).collect();
    let half = rest.len() / 2;
    let round_robin = |i: usize, l: &String| (Some((i % 3) as i32), l.to_string());
    first.extend(rest[..half].iter().enumerate().map(|(i, l)| round_robin(i, l)));
    let second: Vec<(Option<i32>, String)> =
        rest[half..].iter().enumerate().map(|(i, l)| round_robin(half + i, l)).collect();

    produce_unkeyed(
        &b,
        &topics.workers,
        &workers_as_json(&input.join("workers.csv")).into_iter().map(|l| (None, l)).collect::<Vec<_>>(),
    );
    let partitions = produce_unkeyed(&b, &topics.readings, &first);
    assert!(partitions.iter().collect::<BTreeSet<_>>().len() == 3, "unkeyed readings spread over the three partitions");

    let a = Ingest::start(&b, &lake, &cfg, &group, &[]);
    let bb = Ingest::start(&b, &lake, &cfg, &group, &[]);
    let c = Ingest::start(&b, &lake, &cfg, &group, &[]);
    // C is killed once the group has written part of the stream.
    ks::wait_until(LONG, "a first part in the lake", || ks::readings(&lake), |n| *n > 300);
    c.kill9();
    produce_unkeyed(&b, &topics.readings, &second);
    // A late joiner takes partitions from the others (a rebalance mid-stream).
    let d = Ingest::start(&b, &lake, &cfg, &group, &[]);
    produce_unkeyed(&b, &topics.readings, &corrections.iter().map(|l| (Some(2), l.to_string())).collect::<Vec<_>>());
    wait_group_done(&b, &group, &topics.workers);
    wait_group_done(&b, &group, &topics.readings);
    for p in [a, bb, d] {
        let (status, out) = p.terminate();
        assert!(status.success(), "{out}");
    }

    let (standing, expected) = standing_and_expected(&lake);
    assert!(expected.len() >= 5, "{expected:?}");
    let missing: Vec<_> = expected.difference(&standing).collect();
    let extra: Vec<_> = standing.difference(&expected).collect();
    // On failure, each worker's alert events and view rows say which process decided what.
    let history = |worker: &str| {
        let events = sql_json(
            &lake,
            &format!(
                "SELECT event_at, event, rule, level, quantity, window_start, dose_msv, note FROM alerts_all \
                 WHERE worker_id = '{worker}' ORDER BY event_at"
            ),
        );
        let view = sql_json(
            &lake,
            &format!("SELECT level, quantity, window_start, dose_msv FROM overexposure WHERE worker_id = '{worker}'"),
        );
        format!("{worker}: events {events:#?}\nview {view:#?}")
    };
    assert!(
        missing.is_empty() && extra.is_empty(),
        "never raised: {missing:#?}\nstanding but not in the view: {extra:#?}\n{}",
        missing
            .iter()
            .chain(&extra)
            .map(|k| history(k.split(' ').next().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // No condition raised twice, by any process.
    let twice = sql_json(
        &lake,
        "SELECT alert_id, count(*) AS n FROM alerts_all WHERE event = 'raised' GROUP BY alert_id HAVING count(*) > 1",
    );
    assert!(
        twice.is_empty(),
        "raised more than once: {twice:?}\n{}",
        twice
            .iter()
            .map(|t| sql_json(
                &lake,
                &format!("SELECT * FROM alerts_all WHERE alert_id = '{}'", t["alert_id"].as_str().unwrap_or_default())
            ))
            .map(|rows| format!("{rows:#?}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The slip raised alerts when it arrived; its correction, through another partition (and so
    // maybe another process), withdrew them.
    let withdrawn = sql_count(&lake, "SELECT count(*) AS n FROM alerts WHERE state = 'withdrawn'");
    let notices = sql_count(&lake, "SELECT count(*) AS n FROM alerts WHERE rule = 'withdrawal'");
    assert!(withdrawn > 0 && withdrawn == notices, "{withdrawn} withdrawn, {notices} notices");
}

/// Operational entries hold no alert state: the metric of the state's size follows the legal
/// results, however many entries arrive.
#[test]
fn the_alert_state_grows_with_legal_results_not_with_readings() {
    let Some(b) = ks::broker() else { return };
    let _g = ks::shared();
    let dir = tempdir();
    let lake = dir.path().join("lake");
    let topics = Topics::create(&b, "state", 1);
    let group = ks::unique("state");
    let cfg = ks::config(dir.path(), &topics, "max_batch_rows = 2000\nlatency_ms = 200");
    let port = ks::free_port();
    let addr = format!("127.0.0.1:{port}");
    let badge = |w: usize, m: usize| {
        format!(
            r#"{{"reading_id":"B{w}-{m}","source":"LAB","worker_id":"W{w}","employer_siret":"73282932000074","department":"cardio","dosimeter_id":"D{w}","monitoring":"passive","quantity":"Hp10","status":"measured","dose_msv":0.1,"period_start":"2025-{m:02}-01","period_end":"2025-{m:02}-28"}}"#
        )
    };
    let entry = |w: usize, i: usize| {
        let (day, minute) = (i % 28 + 1, i % 600);
        format!(
            r#"{{"reading_id":"E{w}-{i}","source":"EDOSI","worker_id":"W{w}","employer_siret":"73282932000074","department":"cardio","dosimeter_id":"O{w}","monitoring":"operational","quantity":"Hp10","status":"measured","dose_msv":0.001,"period_start":"2025-03-{day:02}T08:00:00Z","period_end":"2025-03-{day:02}T{:02}:{:02}:00Z"}}"#,
            9 + minute / 60,
            minute % 60
        )
    };
    let legal: Vec<(Option<i32>, String)> =
        (0..50).flat_map(|w| (1..=6).map(move |m| (w, m))).map(|(w, m)| (None, badge(w, m))).collect();
    produce_unkeyed(&b, &topics.readings, &legal);
    let ingest = Ingest::start(&b, &lake, &cfg, &group, &["--metrics", &addr]);
    let gauge = |what: &str| {
        ks::wait_until(LONG, what, || ks::metric(&ks::scrape(&addr), "alara_alert_state_results"), |v| v.is_some())
            .unwrap()
    };
    wait_group_done(&b, &group, &topics.readings);
    let before = gauge("the state size after the badges");
    assert_eq!(
        before as i64,
        sql_count(&lake, "SELECT count(*) AS n FROM legal_results"),
        "one entry per legal result"
    );
    for round in 0..3 {
        let entries: Vec<(Option<i32>, String)> = (0..5000).map(|i| (None, entry(i % 50, round * 5000 + i))).collect();
        produce_unkeyed(&b, &topics.readings, &entries);
        wait_group_done(&b, &group, &topics.readings);
        let size = gauge("the state size after operational entries");
        assert_eq!(size, before, "round {round}: operational entries add nothing to the alert state");
    }
    assert_eq!(sql_count(&lake, "SELECT count(*) AS n FROM readings"), 300 + 15_000);
    let (status, out) = ingest.terminate();
    assert!(status.success(), "{out}");
}
