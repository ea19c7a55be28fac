//! Streaming ingest against the project's real Kafka broker (scripts/kafka.sh): exact counts,
//! consumer-group takeover, SIGKILL at random points, a broker restart, poison messages, shutdown
//! on SIGTERM and compaction. Each test has its own topics, group and lake; they synchronise on
//! what the lake (via `alara sql`), Kafka or the metrics endpoint show, never on sleeps.

use std::path::Path;
use std::time::Duration;

use crate::common::*;
use crate::kafka_support::*;

const LONG: Duration = Duration::from_secs(240);

/// kcat (not our producer) writes readings, workers and procedures; `--until-idle` stops once they
/// are all in the lake, with exact counts, and the group's Kafka offsets are the end of each
/// partition. A second run finds nothing new: positions come from the lake.
#[test]
fn kcat_produced_records_land_with_exact_counts() {
    let Some(b) = broker() else { return };
    let _g = shared();
    let dir = tempdir();
    let lake = dir.path().join("lake");
    let t = Topics::create(&b, "kcat", 3);
    let cfg = config(dir.path(), &t, "latency_ms = 200");
    let n = 3000;
    let kcat = |topic: &str, lines: Vec<String>| {
        // key|value per line: keys spread the messages over the partitions.
        let text: String = lines.iter().enumerate().map(|(i, l)| format!("k{i}|{l}\n")).collect();
        let f = write(dir.path(), &format!("{topic}.txt"), &text);
        let out = std::process::Command::new("kcat")
            .args(["-P", "-b", &b, "-t", topic, "-K", "|", "-l"])
            .arg(&f)
            .output()
            .expect("kcat is installed by scripts/test-deps.sh");
        assert!(out.status.success(), "kcat: {}", String::from_utf8_lossy(&out.stderr));
    };
    kcat(&t.readings, (0..n).map(|i| reading("kcat", i)).collect());
    kcat(&t.workers, (0..50).map(worker).collect());
    kcat(&t.procedures, (0..100).map(procedure).collect());

    let group = unique("g");
    let out = ingest_until_idle(&b, &lake, &cfg, &group);
    assert!(out.contains(&format!("{n} accepted")), "{out}");
    assert_eq!(readings(&lake), n as i64);
    assert_eq!(sql_count(&lake, "SELECT count(*) AS n FROM readings_all"), n as i64);
    assert_eq!(sql_count(&lake, "SELECT count(*) AS n FROM workers"), 50);
    assert_eq!(sql_count(&lake, "SELECT count(*) AS n FROM procedures"), 100);
    assert_eq!(sql_count(&lake, "SELECT count(*) AS n FROM rejects"), 0);
    let (committed, high) = committed_and_high(&b, &group, &t.readings);
    assert_eq!(committed, high, "Kafka offsets of the group are the end of each partition");
    assert_eq!(high.iter().sum::<i64>(), n as i64);
    assert!(high.iter().all(|h| *h > 0), "keys spread the readings over every partition: {high:?}");

    // Positions come from the lake: a new group (no Kafka commits at all) re-reads nothing.
    ingest_until_idle(&b, &lake, &cfg, &unique("g"));
    assert_eq!(sql_count(&lake, "SELECT count(*) AS n FROM readings_all"), n as i64);
}

/// Malformed messages interleaved with good ones on every partition: each good one lands, each
/// bad one is a reject carrying its exact topic, partition and offset, and no partition stalls.
#[test]
fn poison_messages_become_rejects_and_partitions_move_on() {
    let Some(b) = broker() else { return };
    let _g = shared();
    let dir = tempdir();
    let lake = dir.path().join("lake");
    let t = Topics::create(&b, "poison", 3);
    let cfg = config(dir.path(), &t, "latency_ms = 200");
    let mut msgs = Vec::new();
    let mut bad = Vec::new();
    for i in 0..600 {
        let (payload, is_bad) = match i % 10 {
            3 => (Some("{not json".to_string()), true),
            5 => (Some(reading("poison", i).replace("\"Hp10\"", "\"Hp11\"")), true),
            7 => (None, true),
            8 => (Some(reading("poison", i).replace(SIRET, "12345678901234")), true),
            _ => (Some(reading("poison", i)), false),
        };
        bad.push(is_bad);
        msgs.push((format!("k{i}"), payload));
    }
    let positions = produce(&b, &t.readings, &msgs);
    let good = bad.iter().filter(|b| !**b).count() as i64;
    let mut expected: Vec<(i64, i64)> =
        positions.iter().zip(&bad).filter(|(_, b)| **b).map(|((p, o), _)| (*p as i64, *o)).collect();
    expected.sort();

    ingest_until_idle(&b, &lake, &cfg, &unique("g"));
    assert_eq!(readings(&lake), good);
    let rows = sql_json(
        &lake,
        &format!(
            "SELECT \"partition\" AS p, \"offset\" AS o, reason FROM rejects WHERE topic = '{}' ORDER BY 1, 2",
            t.readings
        ),
    );
    let got: Vec<(i64, i64)> = rows.iter().map(|r| (r["p"].as_i64().unwrap(), r["o"].as_i64().unwrap())).collect();
    assert_eq!(got, expected, "one reject per bad message, at its partition and offset");
    assert!(rows.iter().all(|r| !r["reason"].as_str().unwrap().is_empty()));
}

/// Two processes in one group share the partitions; one is SIGKILLed mid-stream; the other takes
/// its partitions over (from the lake's positions) and the lake ends with every identity once.
#[test]
fn a_group_member_killed_mid_stream_is_replaced_by_the_other() {
    let Some(b) = broker() else { return };
    let _g = shared();
    let dir = tempdir();
    let lake = dir.path().join("lake");
    let t = Topics::create(&b, "group", 6);
    let cfg = config(dir.path(), &t, "latency_ms = 200\nmax_batch_rows = 1000");
    let group = unique("g");
    let first = 20_000;
    produce_lines(&b, &t.readings, (0..first).map(|i| reading("group", i)));
    let a = Ingest::start(&b, &lake, &cfg, &group, &[]);
    let mut survivor = Ingest::start(&b, &lake, &cfg, &group, &[]);
    wait_until(LONG, "some readings in the lake", || readings(&lake), |n| *n >= 2000);
    a.kill9();
    let total = 40_000;
    produce_lines(&b, &t.readings, (first..total).map(|i| reading("group", i)));
    wait_until(LONG, "every reading in the lake", || readings(&lake), |n| *n >= total as i64);
    assert!(survivor.running(), "the survivor is still consuming:\n{}", survivor.output());
    let (status, out) = survivor.terminate();
    assert!(status.success(), "SIGTERM exits 0:\n{out}");
    assert_eq!(readings(&lake), total as i64);
    assert_eq!(
        sql_count(
            &lake,
            "SELECT count(*) AS n FROM (SELECT source, reading_id FROM readings GROUP BY 1, 2 HAVING count(*) > 1)"
        ),
        0
    );
    assert_eq!(sql_count(&lake, "SELECT count(DISTINCT reading_id) AS n FROM readings_all"), total as i64);
    assert_counted_once(&lake, (0..total).map(|i| reading("group", i)));
}

/// 200k readings streamed while `alara ingest` is SIGKILLed at pseudo-random points and restarted:
/// every query meanwhile succeeds (no partial Parquet is ever visible), and the final counts are
/// exact.
#[test]
fn sigkill_at_random_points_during_a_200k_stream_loses_and_doubles_nothing() {
    let Some(b) = broker() else { return };
    let _g = shared();
    let dir = tempdir();
    let lake = dir.path().join("lake");
    let t = Topics::create(&b, "sigkill", 3);
    let cfg = config(dir.path(), &t, "latency_ms = 300\nmax_batch_rows = 5000");
    let group = unique("g");
    let total = 200_000usize;
    let producer = {
        let (b, topic) = (b.clone(), t.readings.clone());
        std::thread::spawn(move || produce_lines(&b, &topic, (0..total).map(|i| reading("sigkill", i))))
    };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let checker = {
        let (lake, stop) = (lake.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut queries = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if lake.join("readings").exists() {
                    // Panics (failing the test) if any file the query lists is not whole.
                    sql_count(&lake, "SELECT count(*) AS n FROM readings_all");
                    queries += 1;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            queries
        })
    };
    // A seed from the clock, printed so that a failing run can be replayed by hand.
    let mut seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("sigkill test seed {seed}");
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..6 {
        let i = Ingest::start(&b, &lake, &cfg, &group, &[]);
        // Wait for this process to write something, then kill it at a pseudo-random moment of the
        // stream: fault injection (the delay), after synchronising on the lake (the count).
        let before = readings(&lake);
        wait_until(LONG, "progress after a restart", || readings(&lake), |n| *n > before || *n == total as i64);
        std::thread::sleep(Duration::from_millis(next() % 1500));
        i.kill9();
        eprintln!("round {round}: killed with {} readings in the lake (before: {before})", readings(&lake));
    }
    assert_eq!(producer.join().unwrap(), total);
    ingest_until_idle(&b, &lake, &cfg, &group);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let queries = checker.join().expect("every query during the kills succeeded");
    assert!(queries > 0);
    assert_eq!(readings(&lake), total as i64);
    assert_eq!(sql_count(&lake, "SELECT count(DISTINCT reading_id) AS n FROM readings_all"), total as i64);
    assert_eq!(sql_count(&lake, "SELECT count(*) AS n FROM rejects"), 0);
    assert!(check_every_file_is_whole(&lake) > 0);
    let (committed, high) = committed_and_high(&b, &group, &t.readings);
    assert_eq!(committed, high);
    assert_counted_once(&lake, (0..total).map(|i| reading("sigkill", i)));
}

/// The broker is stopped and restarted (scripts/kafka.sh restart) while ingest runs: ingest
/// waits, resumes and loses nothing. A broker of its own, so other tests are not disturbed.
#[test]
fn a_broker_restart_during_ingest_loses_nothing() {
    let Some(broker) = PrivateBroker::start() else { return };
    let b = broker.bootstrap.clone();
    let dir = tempdir();
    let lake = dir.path().join("lake");
    let t = Topics::create(&b, "restart", 3);
    let cfg = config(dir.path(), &t, "latency_ms = 200\nmax_batch_rows = 2000");
    let group = unique("g");
    let mut ingest = Ingest::start(&b, &lake, &cfg, &group, &[]);
    // The stream goes on through the outage: the producer retries, the consumer waits.
    let producer = {
        let (b, topic) = (b.clone(), t.readings.clone());
        std::thread::spawn(move || {
            for chunk in 0..40 {
                produce_lines(&b, &topic, (chunk * 500..chunk * 500 + 500).map(|i| reading("restart", i)));
            }
        })
    };
    wait_until(LONG, "readings in the lake", || readings(&lake), |n| *n > 0);
    broker.script("restart").unwrap_or_else(|e| panic!("{e}"));
    assert!(ingest.running(), "ingest survives the outage:\n{}", ingest.output());
    producer.join().expect("producer");
    wait_until(LONG, "every reading in the lake", || readings(&lake), |n| *n >= 20_000);
    let (status, out) = ingest.terminate();
    assert!(status.success(), "{out}");
    assert_eq!(readings(&lake), 20_000);
    let (committed, high) = committed_and_high(&b, &group, &t.readings);
    assert_eq!(committed, high);
    assert_counted_once(&lake, (0..20_000).map(|i| reading("restart", i)));
}

/// SIGTERM with a batch in hand (latency and size bounds far away): it is flushed and committed,
/// and the process exits 0. The metrics endpoint shows the batch being received first.
#[test]
fn sigterm_flushes_the_batch_in_hand_commits_and_exits_zero() {
    let Some(b) = broker() else { return };
    let _g = shared();
    let dir = tempdir();
    let lake = dir.path().join("lake");
    let t = Topics::create(&b, "sigterm", 3);
    let cfg = config(dir.path(), &t, "latency_ms = 600000\nmax_batch_rows = 1000000");
    let group = unique("g");
    let addr = format!("127.0.0.1:{}", free_port());
    let ingest = Ingest::start(&b, &lake, &cfg, &group, &["--metrics", &addr]);
    let n = 500;
    produce_lines(&b, &t.readings, (0..n).map(|i| reading("sigterm", i)));
    let series = "alara_ingest_received_total{kind=\"readings\"}";
    wait_until(LONG, "the batch received (metrics)", || metric(&scrape(&addr), series), |v| *v == Some(n as f64));
    // Lag per partition comes with librdkafka's statistics, and reaches 0 once they catch up.
    let lag = format!("alara_ingest_consumer_lag{{topic=\"{}\",partition=\"0\"}}", t.readings);
    let text = wait_until(LONG, "no lag in the metrics", || scrape(&addr), |text| metric(text, &lag) == Some(0.0));
    assert_eq!(metric(&text, "alara_ingest_flushes_total"), Some(0.0), "nothing flushed yet:\n{text}");
    let (status, out) = ingest.terminate();
    assert!(status.success(), "{out}");
    assert_eq!(readings(&lake), n as i64);
    let (committed, high) = committed_and_high(&b, &group, &t.readings);
    assert_eq!(committed, high);
}

/// Streaming makes many small files; `alara compact` merges them and folds the commit markers, and
/// every query answers the same before and after. Then compactions run while ingest keeps
/// writing: nothing is lost or doubled, and positions survive the folding (nothing is re-read).
#[test]
fn compaction_keeps_every_answer_even_while_ingesting() {
    let Some(b) = broker() else { return };
    let _g = shared();
    let dir = tempdir();
    let lake = dir.path().join("lake");
    let t = Topics::create(&b, "compact", 3);
    let cfg = config(dir.path(), &t, "latency_ms = 100\nmax_batch_rows = 300");
    let group = unique("g");
    produce_lines(&b, &t.workers, (0..97).map(worker));
    produce_lines(&b, &t.procedures, (0..200).map(procedure));
    let mut msgs: Vec<(String, Option<String>)> =
        (0..3000).map(|i| (format!("k{i}"), Some(reading("compact", i)))).collect();
    msgs.extend((0..30).map(|i| (format!("bad{i}"), Some(format!("{{bad {i}")))));
    produce(&b, &t.readings, &msgs);
    ingest_until_idle(&b, &lake, &cfg, &group);

    let queries = [
        "SELECT count(*) AS n FROM readings",
        "SELECT worker_id, round(sum(dose_msv), 6) AS d, count(*) AS n FROM readings GROUP BY 1 ORDER BY 1",
        "SELECT reading_id, ingested_at, origin FROM readings ORDER BY 1",
        "SELECT count(*) AS n FROM readings_all",
        "SELECT origin, reason FROM rejects ORDER BY 1",
        "SELECT * FROM workers ORDER BY worker_id",
        "SELECT * FROM procedures ORDER BY procedure_id, worker_id",
    ];
    let answers = |lake: &Path| queries.iter().map(|q| sql_json(lake, q)).collect::<Vec<_>>();
    let before = answers(&lake);
    let files_before = data_files(&lake).len();
    let commits_before = std::fs::read_dir(lake.join("readings/_delta_log")).unwrap().count();
    let out = run_ok(alara().args(["compact", "--lake"]).arg(&lake).args(["--grace-secs", "0"]));
    eprintln!("{}", stdout(&out));
    assert!(data_files(&lake).len() <= 6, "{files_before} files merged into {}", data_files(&lake).len());
    assert_eq!(answers(&lake), before, "same answers after compaction");
    // The Delta logs (one commit per flush) are checkpointed: a reader replays a checkpoint.
    assert!(commits_before > 10, "{commits_before} commits in the readings log");
    assert!(lake.join("readings/_delta_log/_last_checkpoint").is_file(), "readings log checkpointed");

    // Compactions while ingest writes.
    let ingest = Ingest::start(&b, &lake, &cfg, &group, &[]);
    for round in 0..3 {
        let from = 3000 + round * 1000;
        produce_lines(&b, &t.readings, (from..from + 1000).map(|i| reading("compact", i)));
        wait_until(LONG, "some of the new readings", || readings(&lake), |n| *n > from as i64);
        run_ok(alara().args(["compact", "--lake"]).arg(&lake).args(["--grace-secs", "0"]));
    }
    wait_until(LONG, "every reading", || readings(&lake), |n| *n >= 6000);
    let (status, out) = ingest.terminate();
    assert!(status.success(), "{out}");
    assert_eq!(readings(&lake), 6000);
    assert_eq!(sql_count(&lake, "SELECT count(*) AS n FROM readings_all"), 6000);
    assert_eq!(sql_count(&lake, "SELECT count(*) AS n FROM rejects"), 30);
    let after = answers(&lake);
    run_ok(alara().args(["compact", "--lake"]).arg(&lake).args(["--grace-secs", "0"]));
    ingest_until_idle(&b, &lake, &cfg, &group);
    ingest_until_idle(&b, &lake, &cfg, &unique("g"));
    assert_eq!(answers(&lake), after, "positions survived the folding: nothing re-read");
}

/// Compaction without a broker: many small files from file ingest, same answers after merging.
#[test]
fn compaction_of_file_ingest_keeps_every_answer() {
    let dir = tempdir();
    let lake = dir.path().join("lake");
    let lines: Vec<String> = (0..2000).map(|i| reading("files", i)).chain(["{oops".to_string()]).collect();
    let f = write(dir.path(), "r.jsonl", &lines.join("\n"));
    for _ in 0..2 {
        run_ok(
            alara()
                .args(["ingest", "--lake"])
                .arg(&lake)
                .arg("--readings")
                .arg(&f)
                .env("ALARA_INGEST__MAX_BATCH_ROWS", "100"),
        );
    }
    let q = [
        "SELECT count(*) AS n FROM readings_all",
        "SELECT worker_id, round(sum(dose_msv), 6) AS d FROM readings GROUP BY 1 ORDER BY 1",
        "SELECT origin, reason FROM rejects ORDER BY 1",
    ];
    let before: Vec<_> = q.iter().map(|s| sql_json(&lake, s)).collect();
    let n = data_files(&lake).len();
    run_ok(alara().args(["compact", "--lake"]).arg(&lake).args(["--grace-secs", "0"]));
    assert!(data_files(&lake).len() < n / 10, "{n} files before, {} after", data_files(&lake).len());
    let after: Vec<_> = q.iter().map(|s| sql_json(&lake, s)).collect();
    assert_eq!(after, before);
    assert_eq!(sql_count(&lake, "SELECT count(*) AS n FROM readings"), 2000);
}

/// A transactional producer: committed readings land, aborted ones never do, and `--until-idle`
/// still ends although each partition ends on a transaction marker that carries no message.
#[test]
fn transactions_committed_land_aborted_do_not_and_idle_still_ends() {
    use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
    let Some(b) = broker() else { return };
    let _g = shared();
    let dir = tempdir();
    let lake = dir.path().join("lake");
    let t = Topics::create(&b, "txn", 3);
    let cfg = config(dir.path(), &t, "latency_ms = 200");
    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &b)
        .set("transactional.id", unique("txn"))
        .create()
        .expect("transactional producer");
    let timeout = Duration::from_secs(30);
    producer.init_transactions(timeout).expect("init transactions");
    let send = |from: usize, to: usize| {
        for i in from..to {
            let payload = reading("txn", i);
            let key = format!("k{i}");
            producer.send_result(FutureRecord::to(&t.readings).key(&key).payload(&payload)).expect("enqueue");
        }
        producer.flush(timeout).expect("flush");
    };
    producer.begin_transaction().unwrap();
    send(0, 300);
    producer.commit_transaction(timeout).unwrap();
    producer.begin_transaction().unwrap();
    send(300, 400);
    producer.abort_transaction(timeout).unwrap();
    producer.begin_transaction().unwrap();
    send(400, 500);
    producer.commit_transaction(timeout).unwrap();

    ingest_until_idle(&b, &lake, &cfg, &unique("g"));
    assert_eq!(readings(&lake), 400);
    assert_eq!(sql_count(&lake, "SELECT count(*) AS n FROM readings WHERE reading_id IN ('txn-300', 'txn-399')"), 0);
}

/// Configuration mistakes are usage errors (exit 2) that say what to change, and a secret never
/// comes from the configuration file. No broker needed.
#[test]
fn kafka_configuration_mistakes_exit_2_with_what_to_fix() {
    let dir = tempdir();
    let lake = dir.path().join("lake");
    let run = |args: &[&str], config: &str| {
        let cfg = write(dir.path(), "bad.toml", config);
        let out = alara().args(["ingest", "--lake"]).arg(&lake).args(args).arg("--config").arg(&cfg).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, err) = run(&["--kafka"], "");
    assert_eq!(code, Some(2));
    assert!(err.contains("[kafka] brokers"), "{err}");
    let (code, err) = run(&["--kafka", "127.0.0.1:1"], "[kafka.properties]\n\"sasl.password\" = \"hunter2\"\n");
    assert_eq!(code, Some(2));
    assert!(err.contains("ALARA_KAFKA_SASL_PASSWORD") && !err.contains("hunter2"), "{err}");
    let (code, err) = run(&["--kafka", "127.0.0.1:1"], "[kafka.properties]\n\"no.such.property\" = 1\n");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no.such.property"), "{err}");
    let (code, err) = run(&["--kafka", "127.0.0.1:1"], "[kafka.properties]\n\"enable.auto.commit\" = true\n");
    assert_eq!(code, Some(2));
    assert!(err.contains("enable.auto.commit"), "{err}");
}

/// A small tmpfs mounted on a directory, unmounted when dropped. Mounting needs root, which the
/// test command has (it installs Debian packages); without it the test fails and says so.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("running mount");
        assert!(
            out.status.success(),
            "this test mounts a tmpfs to fill a disk, which needs root (scripts/test.sh runs as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(dir.to_path_buf())
    }

    fn resize(&self, size: &str) {
        let ok = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .expect("running mount");
        assert!(ok.success(), "remounting {} with size {size}", self.0.display());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// The lake's disk fills up during a stream: ingest stops with a message that says so, having
/// committed only what it wrote (every file the log lists is whole, Kafka's offsets not past the
/// lake's); once there is space again, a restart resumes from the lake and nothing is lost or
/// counted twice.
#[test]
fn a_full_disk_stops_ingest_cleanly_and_a_restart_with_space_loses_nothing() {
    let Some(b) = broker() else { return };
    let _g = shared();
    let dir = tempdir();
    let lake = dir.path().join("lake");
    let disk = Tmpfs::mount(&lake, "1m");
    let t = Topics::create(&b, "fulldisk", 3);
    let cfg = config(dir.path(), &t, "latency_ms = 200\nmax_batch_rows = 4000");
    let group = unique("g");
    let total = 120_000;
    produce_lines(&b, &t.readings, (0..total).map(|i| reading("fulldisk", i)));
    let mut first = Ingest::start(&b, &lake, &cfg, &group, &[]);
    let status = wait_exit(&mut first.child, Duration::from_secs(300));
    let out = first.output();
    assert!(!status.success(), "ingest cannot go on with a full disk:\n{out}");
    assert!(out.contains("No space left on device"), "the message says the disk is full:\n{out}");
    assert!(!out.contains("panicked"), "no panic:\n{out}");
    let landed = readings(&lake);
    assert!(landed < total as i64, "the disk filled before the end ({landed} readings landed)");
    assert!(check_every_file_is_whole(&lake) > 0, "what the log lists is whole");
    let (committed, _) = committed_and_high(&b, &group, &t.readings);
    assert!(
        committed.iter().sum::<i64>() <= sql_count(&lake, "SELECT count(*) AS n FROM readings_all"),
        "Kafka's committed offsets never run ahead of the lake"
    );

    disk.resize("256m");
    ingest_until_idle(&b, &lake, &cfg, &group);
    assert_eq!(readings(&lake), total as i64);
    assert_counted_once(&lake, (0..total).map(|i| reading("fulldisk", i)));
}
