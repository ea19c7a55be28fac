//! Tests of the lake over real Delta tables in temporary directories.

use std::path::Path;
use std::sync::{Arc, Barrier};

use arrow::array::RecordBatch;

use alara_model::{BatchSink, Flush, Kind, Origin, Reject};
use chrono::Utc;

use crate::sink::KAFKA_RANGES_KEY;
use crate::*;

fn reject(topic: &str, partition: i32, offset: i64) -> Reject {
    let origin = Origin::Kafka { topic: topic.into(), partition, offset };
    Reject::new(Kind::Readings, origin, "not JSON", b"{oops", Utc::now())
}

/// A Kafka flush of rejects covering `first..=last` of each partition given.
fn flush(name: &str, ranges: &[(&str, i32, i64, i64)]) -> Flush {
    let mut f = Flush { name: name.into(), ..Default::default() };
    let mut json = Vec::new();
    for (t, p, first, last) in ranges {
        f.rejects.extend((*first..=*last).map(|o| reject(t, *p, o)));
        json.push(serde_json::json!({"topic": t, "partition": p, "first": first, "last": last}));
    }
    f.metadata.push((KAFKA_RANGES_KEY.into(), serde_json::Value::Array(json).to_string()));
    f
}

/// The JSON actions of one commit of a table.
fn commit(lake: &Path, table: &str, version: u64) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(lake.join(table).join(format!("_delta_log/{version:020}.json"))).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn rows(lake: &Lake, table: Table, as_of: &AsOf) -> usize {
    let snap = lake.snapshot(table, as_of).unwrap();
    snap.files
        .iter()
        .map(|f| {
            let store = snap.inner.clone();
            let location = f.location.clone();
            let bytes = block_on(async move {
                use object_store::ObjectStoreExt as _;
                store.get(&location).await.unwrap().bytes().await.unwrap()
            });
            crate::writer::decode(bytes).unwrap().iter().map(|b| b.num_rows()).sum::<usize>()
        })
        .sum()
}

#[test]
fn every_table_is_created_once_as_an_empty_delta_table() {
    let dir = tempfile::tempdir().unwrap();
    Lake::open(dir.path()).unwrap();
    let lake = Lake::open(dir.path()).unwrap();
    for t in Table::ALL {
        let log = dir.path().join(t.dir()).join("_delta_log");
        assert!(log.join("00000000000000000000.json").is_file(), "{t:?}");
        assert!(!log.join("00000000000000000001.json").exists(), "{t:?} created twice");
        assert!(lake.files(t).unwrap().is_empty());
    }
    let meta = commit(dir.path(), "readings", 0);
    let m = meta.iter().find_map(|a| a.get("metaData")).unwrap();
    assert_eq!(m["partitionColumns"], serde_json::json!(["year"]));
    assert!(m["schemaString"].as_str().unwrap().contains("\"timestamp\""), "timestamps are Delta timestamps (UTC)");
}

#[test]
fn a_kafka_flush_is_one_commit_per_table_carrying_its_positions() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path()).unwrap();
    let mut sink = DeltaSink::new(lake.clone(), WriteOptions::default());
    sink.write(&flush("kafka-1", &[("t", 0, 0, 4), ("t", 1, 7, 9)])).unwrap();
    for table in ["rejects", "readings"] {
        let actions = commit(dir.path(), table, 1);
        let mut txns: Vec<_> = actions
            .iter()
            .filter_map(|a| a.get("txn"))
            .map(|t| (t["appId"].as_str().unwrap().to_string(), t["version"].as_i64().unwrap()))
            .collect();
        txns.sort();
        assert_eq!(txns, vec![("alara.kafka:t:0".into(), 5), ("alara.kafka:t:1".into(), 10)], "{table}");
        assert!(!dir.path().join(table).join("_delta_log/00000000000000000002.json").exists(), "one commit");
    }
    // The rejects commit holds the file; the readings commit (the positions) holds no file.
    assert_eq!(commit(dir.path(), "rejects", 1).iter().filter(|a| a.get("add").is_some()).count(), 1);
    assert_eq!(commit(dir.path(), "readings", 1).iter().filter(|a| a.get("add").is_some()).count(), 0);
    // Tables the flush does not touch get no commit.
    assert!(!dir.path().join("workers/_delta_log/00000000000000000001.json").exists());
    let pos = lake.kafka_positions(&[("t".into(), 0), ("t".into(), 1), ("t".into(), 2)]).unwrap();
    assert_eq!((pos[&("t".into(), 0)], pos[&("t".into(), 1)]), (5, 10));
    assert!(!pos.contains_key(&("t".into(), 2)));
    assert_eq!(rows(&lake, Table::Rejects, &AsOf::Latest), 8);
}

#[test]
fn a_flush_behind_the_lake_position_is_superseded_and_commits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path()).unwrap();
    let mut sink = DeltaSink::new(lake.clone(), WriteOptions::default());
    sink.write(&flush("a", &[("t", 0, 0, 9)])).unwrap();
    let err = sink.write(&flush("b", &[("t", 0, 5, 14)])).unwrap_err();
    assert!(matches!(&err, Error::Superseded(s) if s.first == 5 && s.lake_next == 10), "{err}");
    assert_eq!(rows(&lake, Table::Rejects, &AsOf::Latest), 10, "the early check stops before any commit");
    // The next flush starting at the lake's position commits.
    sink.write(&flush("c", &[("t", 0, 10, 14)])).unwrap();
    assert_eq!(lake.kafka_positions(&[("t".into(), 0)]).unwrap()[&("t".into(), 0)], 15);
}

/// Two writers flush the same offsets at the same moment: exactly one commits the positions
/// (Delta's conflict checker refuses the other's readings commit, or its early check sees the
/// winner), the other is told it was superseded.
#[test]
fn two_writers_racing_for_the_same_offsets_commit_them_once() {
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path()).unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = (0..2)
            .map(|w| {
                let (lake, barrier) = (lake.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let mut sink = DeltaSink::new(lake, WriteOptions::default());
                    barrier.wait();
                    sink.write(&flush(&format!("w{w}"), &[("t", 0, 0, 9)]))
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 1, "round {round}: {results:?}");
        assert!(results.iter().any(|r| matches!(r, Err(Error::Superseded(_)))), "round {round}: {results:?}");
        let readings_commits = std::fs::read_dir(dir.path().join("readings/_delta_log"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".json"))
            .count();
        assert_eq!(readings_commits, 2, "round {round}: create + one positions commit");
        assert_eq!(lake.kafka_positions(&[("t".into(), 0)]).unwrap()[&("t".into(), 0)], 10);
    }
}

#[test]
fn time_travel_reads_what_the_lake_held_then() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path()).unwrap();
    let mut sink = DeltaSink::new(lake.clone(), WriteOptions::default());
    sink.write(&flush("a", &[("t", 0, 0, 2)])).unwrap(); // readings v1, rejects v1
    std::thread::sleep(std::time::Duration::from_millis(20)); // distinct commit times (ms)
    let between = Utc::now();
    std::thread::sleep(std::time::Duration::from_millis(20));
    sink.write(&flush("b", &[("t", 0, 3, 7)])).unwrap(); // readings v2, rejects v2
    assert_eq!(rows(&lake, Table::Rejects, &AsOf::Latest), 8);
    assert_eq!(rows(&lake, Table::Rejects, &AsOf::Version(1)), 3);
    assert_eq!(rows(&lake, Table::Rejects, &AsOf::Version(0)), 0);
    assert_eq!(rows(&lake, Table::Rejects, &AsOf::Time(between)), 3);
    let before = Utc::now() - chrono::Duration::days(1);
    let s = lake.snapshot(Table::Rejects, &AsOf::Time(before)).unwrap();
    assert_eq!((s.version, s.files.len()), (None, 0), "no table yet then");
    assert!(matches!(lake.snapshot(Table::Rejects, &AsOf::Version(9)), Err(Error::Invalid(_))));
}

#[test]
fn compaction_merges_by_commits_and_keeps_every_row_and_old_versions() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path()).unwrap();
    let mut sink = DeltaSink::new(lake.clone(), WriteOptions::default());
    for i in 0..10 {
        sink.write(&flush(&format!("f{i}"), &[("t", 0, i * 3, i * 3 + 2)])).unwrap();
    }
    let v10 = lake.snapshot(Table::Readings, &AsOf::Latest).unwrap().version;
    assert_eq!(lake.files(Table::Rejects).unwrap().len(), 10);
    let r = lake
        .compact(&CompactOptions { retention: std::time::Duration::from_secs(3600), ..Default::default() })
        .unwrap();
    assert_eq!((r.files_merged, r.files_written, r.rows), (10, 1, 30), "{r:?}");
    assert_eq!(lake.files(Table::Rejects).unwrap().len(), 1);
    assert_eq!(rows(&lake, Table::Rejects, &AsOf::Latest), 30);
    // The inputs are still on disk (retention), so the version before the compaction reads.
    assert_eq!(rows(&lake, Table::Rejects, &AsOf::Version(v10.unwrap())), 30);
    assert!(dir.path().join("rejects/_delta_log/_last_checkpoint").is_file());
    // Positions are untouched by a compaction.
    assert_eq!(lake.kafka_positions(&[("t".into(), 0)]).unwrap()[&("t".into(), 0)], 30);
    // With no retention, the removed inputs are deleted; a file no commit added is kept until
    // the orphan age.
    std::fs::write(dir.path().join("rejects/kafka-orphan.parquet"), b"not committed").unwrap();
    let r = lake.compact(&CompactOptions { retention: std::time::Duration::ZERO, ..Default::default() }).unwrap();
    assert_eq!(r.files_vacuumed, 10, "{r:?}");
    assert!(dir.path().join("rejects/kafka-orphan.parquet").exists());
    assert_eq!(rows(&lake, Table::Rejects, &AsOf::Latest), 30);
}

#[test]
fn a_former_lake_converts_with_committed_files_and_positions_only() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // The former layout: one marked Kafka flush, one unmarked, one file-ingest file.
    let write = |name: &str, f: &Flush| {
        let b = alara_model::schema::rejects_batch(&f.rejects).unwrap();
        std::fs::create_dir_all(root.join("rejects")).unwrap();
        let bytes = crate::writer::encode(&[b], &WriteOptions::default()).unwrap();
        std::fs::write(root.join("rejects").join(format!("{name}.parquet")), bytes).unwrap();
    };
    write("kafka-1", &flush("kafka-1", &[("t", 0, 0, 4)]));
    write("kafka-2", &flush("kafka-2", &[("t", 0, 5, 6)]));
    write("files-1", &flush("files-1", &[("x", 0, 0, 1)]));
    let legacy = Lake::at(root.to_path_buf(), delta::root_url(root).unwrap());
    legacy
        .record_commit(&CommitMarker {
            flush: "kafka-1".into(),
            ranges: vec![OffsetRange { topic: "t".into(), partition: 0, first: 0, last: 4 }],
            rows: 5,
            committed_at: Utc::now(),
            group: None,
        })
        .unwrap();
    assert!(convert::is_legacy(root));
    let (lake, report) = Lake::convert(root).unwrap();
    assert_eq!((report.files, report.rows, report.uncommitted, report.positions), (2, 7, 1, 1), "{report:?}");
    assert_eq!(rows(&lake, Table::Rejects, &AsOf::Latest), 7);
    assert_eq!(lake.kafka_positions(&[("t".into(), 0)]).unwrap()[&("t".into(), 0)], 5);
    assert!(!convert::is_legacy(root));
    assert!(root.join("_commits.converted/kafka-1.json").is_file());
    assert!(Lake::convert(root).is_err(), "converting twice is refused");
}

/// Positions and guards are followed commit by commit (not replayed): what one handle learnt
/// must move with every later commit, including another process's.
#[test]
fn positions_and_guards_follow_the_commits_of_other_processes() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (Lake::open(dir.path()).unwrap(), Lake::open(dir.path()).unwrap());
    let (mut sink_a, mut sink_b) =
        (DeltaSink::new(a.clone(), WriteOptions::default()), DeltaSink::new(b.clone(), WriteOptions::default()));
    sink_a.write(&flush("a1", &[("t", 0, 0, 9)])).unwrap();
    let tp = ("t".to_string(), 0);
    assert_eq!(b.kafka_positions(std::slice::from_ref(&tp)).unwrap()[&tp], 10, "b learns the position");
    // a moves on, twice, one commit of another partition in between: b must not answer from
    // what it learnt, nor flush offsets a has taken.
    sink_a.write(&flush("a2", &[("t", 0, 10, 19)])).unwrap();
    sink_a.write(&flush("a3", &[("t", 1, 0, 4)])).unwrap();
    sink_a.write(&flush("a4", &[("t", 0, 20, 24)])).unwrap();
    let err = sink_b.write(&flush("b1", &[("t", 0, 10, 30)])).unwrap_err();
    assert!(matches!(&err, Error::Superseded(s) if s.lake_next == 25), "{err}");
    assert_eq!(b.kafka_positions(&[tp.clone(), ("t".into(), 1)]).unwrap().values().sum::<i64>(), 25 + 5);
    sink_b.write(&flush("b2", &[("t", 0, 25, 29)])).unwrap();
    assert_eq!(a.kafka_positions(std::slice::from_ref(&tp)).unwrap()[&tp], 30, "a follows b's commit");

    let empty = RecordBatch::new_empty(alara_model::schema::alerts_schema());
    assert_eq!(b.guard_version(Table::Alerts, "g").unwrap(), None);
    for expected in [None, Some(0), Some(1)] {
        assert!(a.write_guarded(Table::Alerts, "a", std::slice::from_ref(&empty), "g", expected).unwrap());
    }
    assert_eq!(b.guard_version(Table::Alerts, "g").unwrap(), Some(2), "b follows a's guarded commits");
    assert!(!b.write_guarded(Table::Alerts, "b", &[empty], "g", Some(1)).unwrap(), "a stale guard commits nothing");
}

#[test]
fn two_processes_deciding_the_same_guarded_append_commit_it_once() {
    let batch = || {
        let events = alara_model::schema::alerts_schema();
        RecordBatch::new_empty(events)
    };
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        Lake::open(dir.path()).unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = (0..2)
            .map(|w| {
                // Two lake handles with their own table caches, as two processes have.
                let (root, barrier) = (dir.path().to_path_buf(), barrier.clone());
                std::thread::spawn(move || {
                    let lake = Lake::open(&root).unwrap();
                    let seen = lake.guard_version(Table::Alerts, "alara.test").unwrap();
                    barrier.wait();
                    lake.write_guarded(Table::Alerts, &format!("w{w}"), &[batch()], "alara.test", seen).unwrap()
                })
            })
            .collect();
        let won: Vec<bool> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(won.iter().filter(|w| **w).count(), 1, "round {round}: {won:?}");
        let lake = Lake::open(dir.path()).unwrap();
        assert_eq!(lake.guard_version(Table::Alerts, "alara.test").unwrap(), Some(0));
        // The loser decides again from what it now reads, and commits.
        assert!(lake.write_guarded(Table::Alerts, "again", &[batch()], "alara.test", Some(0)).unwrap());
        assert!(!lake.write_guarded(Table::Alerts, "stale", &[batch()], "alara.test", Some(0)).unwrap());
    }
}

#[test]
fn a_follower_sees_every_writers_data_once_and_not_compaction_rewrites() {
    let dir = tempfile::tempdir().unwrap();
    let a = Lake::open(dir.path()).unwrap();
    let b = Lake::open(dir.path()).unwrap();
    let start = a.commits_after(Table::Rejects, None).unwrap();
    let mut sa = DeltaSink::new(a.clone(), WriteOptions::default());
    let mut sb = DeltaSink::new(b.clone(), WriteOptions::default());
    sa.write(&flush("a1", &[("t", 0, 0, 4)])).unwrap();
    sb.write(&flush("b1", &[("t", 1, 0, 4)])).unwrap();
    let tail = a.commits_after(Table::Rejects, start.newest).unwrap();
    assert_eq!(tail.added.len(), 2, "{tail:?}");
    assert!(tail.skipped.is_empty());
    let files: Vec<&String> = tail.added.iter().flat_map(|c| &c.files).collect();
    let rows: usize = files
        .iter()
        .map(|f| {
            let bytes = a.read_data_file(Table::Rejects, f).unwrap().expect("the file");
            crate::writer::decode(bytes).unwrap().iter().map(|b| b.num_rows()).sum::<usize>()
        })
        .sum();
    assert_eq!(rows, 10);
    // Compaction rewrites what was seen: nothing new to follow.
    let report = a.compact(&CompactOptions { tables: vec![Table::Rejects], ..CompactOptions::default() }).unwrap();
    assert_eq!(report.files_merged, 2, "{report:?}");
    let after = a.commits_after(Table::Rejects, tail.newest).unwrap();
    assert!(after.added.is_empty(), "{after:?}");
}

/// `block_on` from inside a tokio task, many times in one turn of that task (the Kafka loop's
/// flush reading what other writers committed): it spun forever once the task's cooperative
/// budget was spent. Run on a thread of its own so that the bug fails the test instead of
/// hanging it.
#[test]
fn block_on_inside_a_tokio_task_never_runs_out_of_budget() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let sum = rt.block_on(async { (0..1000u64).map(|i| block_on(async move { i })).sum::<u64>() });
        let _ = done.send(sum);
    });
    let sum = finished.recv_timeout(std::time::Duration::from_secs(60)).expect("block_on spun: budget exhausted");
    assert_eq!(sum, 999 * 1000 / 2);
}
