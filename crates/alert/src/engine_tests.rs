//! Unit tests of the engine: raising, withdrawing, delivering, restarting over one lake.

use super::*;
use crate::alert::{Level, Rule};
use crate::config::HookKind;
use alara_model::Quantity;
use alara_model::{Monitoring, Origin, Position, Reading, Stamped, Status};

fn t(s: &str) -> DateTime<Utc> {
    alara_model::records::parse_timestamp(s).unwrap()
}

fn flush(name: &str, doses: &[(&str, &str, f64)]) -> Flush {
    let readings = doses
        .iter()
        .enumerate()
        .map(|(i, (worker, month, dose))| Stamped {
            row: Reading {
                reading_id: format!("{worker}-{month}"),
                revision: 0,
                source: "LAB".into(),
                worker_id: worker.to_string(),
                employer_siret: "73282932000074".into(),
                site: None,
                department: "cardio".into(),
                dosimeter_id: format!("D-{worker}"),
                monitoring: Monitoring::Passive,
                position: Some(Position::UnderApron),
                laterality: None,
                quantity: Quantity::Hp10,
                status: Status::Measured,
                dose_msv: Some(*dose),
                recording_threshold_msv: 0.05,
                period_start: t(&format!("{month}-01")),
                period_end: t(&format!("{month}-28")),
                radiation: None,
            },
            ingested_at: t("2026-01-01"),
            origin: Origin::File { path: "f".into(), line: i as u64 + 1 },
        })
        .collect();
    Flush { name: name.into(), readings, ..Flush::default() }
}

#[test]
fn a_correction_withdraws_what_it_no_longer_supports() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().join("lake")).unwrap();
    let log = dir.path().join("alerts.jsonl");
    let engine = Engine::start(&lake, config(vec![HookConfig::log(&log)])).unwrap();
    // A decimal slip: 45 mSv instead of 0.45, then the lab's correction (revision 1).
    let slip = flush("f1", &[("W1", "2025-02", 45.0)]);
    let raised = engine.on_flush(&slip).unwrap();
    assert_eq!(raised.len(), 2, "ESR and limit");
    let mut fix = flush("f2", &[("W1", "2025-02", 0.45)]);
    fix.readings[0].row.revision = 1;
    let notices = engine.on_flush(&fix).unwrap();
    assert_eq!(notices.len(), 2);
    assert!(notices.iter().all(|n| n.rule == Rule::Withdrawal && n.summary.starts_with("WITHDRAWN")));
    let withdrawn: BTreeSet<_> = notices.iter().map(|n| n.withdraws.clone().unwrap()).collect();
    assert_eq!(withdrawn, raised.iter().map(|a| a.alert_id.clone()).collect());
    // Nothing more on a replay of either flush, before or after a restart.
    assert!(engine.on_flush(&fix).unwrap().is_empty());
    engine.finish(Duration::from_secs(5));
    let engine = Engine::start(&lake, config(vec![HookConfig::log(&log)])).unwrap();
    assert!(engine.on_flush(&slip).unwrap().is_empty());
    assert!(engine.on_flush(&fix).unwrap().is_empty());
    engine.finish(Duration::from_secs(5));
    let history = History::read(&lake).unwrap();
    assert!(raised.iter().all(|a| history.withdrawn(&a.alert_id).is_some()));
    assert_eq!(lines(&log).len(), 2, "the alerts, then the notices, each grouped per flush");
}

fn config(hooks: Vec<HookConfig>) -> EngineConfig {
    // Grouping only what one flush raised together keeps the deliveries deterministic.
    let alerts = AlertsConfig {
        max_attempts: 2,
        initial_backoff_ms: 1,
        max_backoff_ms: 2,
        group_window_s: 0.0,
        ..AlertsConfig::default()
    };
    EngineConfig { alerts, hooks, ..EngineConfig::default() }
}

fn lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn raised_once_delivered_once_and_owed_alerts_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().join("lake")).unwrap();
    let log = dir.path().join("alerts.jsonl");
    let down =
        HookConfig { name: Some("pager".into()), program: Some("false".into()), ..HookConfig::new(HookKind::Command) };

    // Run 1: W1's 6 mSv badge is a declaration criterion; W2's 25 mSv also crosses the
    // limit. The log hook takes both (W2's two alerts grouped); the pager is down.
    let engine = Engine::start(&lake, config(vec![HookConfig::log(&log), down.clone()])).unwrap();
    let first = flush("f1", &[("W1", "2025-01", 6.0), ("W2", "2025-01", 25.0)]);
    let raised = engine.on_flush(&first).unwrap();
    assert_eq!(raised.len(), 3);
    // The same flush again (a replay) raises nothing.
    assert!(engine.on_flush(&first).unwrap().is_empty());
    let summary = engine.finish(Duration::from_secs(5));
    assert_eq!(summary.raised, 3);
    let by_name = |name: &str| summary.hooks.iter().find(|h| h.name == name).unwrap().clone();
    assert_eq!((by_name("log").delivered, by_name("log").owed), (3, 0));
    assert_eq!((by_name("pager").delivered, by_name("pager").owed), (0, 3));
    let got = lines(&log);
    assert_eq!(got.len(), 2, "{got:#?}");
    let w2 = got.iter().find(|d| d["worker_id"] == "W2").unwrap();
    assert_eq!(w2["level"], "limit", "the most severe leads the group");
    assert_eq!(w2["grouped"][0]["level"], "esr");

    // Run 2 over the same lake: the state is rebuilt, so a replay still raises nothing; the
    // pager, now up, gets the three alerts it owes, in the order raised.
    let history = History::read(&lake).unwrap();
    assert_eq!(history.owed("pager").len(), 3);
    assert_eq!(history.state("log", &raised[0].alert_id), Some(crate::outbox::HookState::Delivered));
    let pager_log = dir.path().join("pager.jsonl");
    let up = HookConfig {
        name: Some("pager".into()),
        program: Some("sh".into()),
        args: vec!["-c".into(), format!("cat >> {}; echo >> {}", pager_log.display(), pager_log.display())],
        ..HookConfig::new(HookKind::Command)
    };
    let engine = Engine::start(&lake, config(vec![HookConfig::log(&log), up])).unwrap();
    assert_eq!(engine.owed_at_start(), 3);
    assert!(engine.on_flush(&first).unwrap().is_empty());
    // A new month for W1 brings W1's 12-month sum to 21 mSv: a new limit alert.
    let next = engine.on_flush(&flush("f2", &[("W1", "2025-02", 15.0)])).unwrap();
    assert_eq!(next.iter().map(|a| a.level).collect::<Vec<_>>(), vec![Level::Esr, Level::Limit]);
    let summary = engine.finish(Duration::from_secs(5));
    assert_eq!(summary.raised, 2);
    let paged: Vec<String> = lines(&pager_log).iter().map(|d| d["worker_id"].as_str().unwrap().to_string()).collect();
    assert_eq!(paged, vec!["W1", "W2", "W1"], "backlog first, in order, then the new alerts");
    let history = History::read(&lake).unwrap();
    assert!(history.owed("pager").is_empty());
    assert_eq!(history.alerts().len(), 5);
}

/// Two processes of one group, each holding part of a worker's year: the one that commits the
/// part completing the sum sees the other's commits and raises the limit; the other, following
/// the lake, knows it is raised and raises nothing more.
#[test]
fn a_year_split_between_two_processes_is_summed_whole_and_raised_once() {
    use alara_lake::{DeltaSink, WriteOptions};
    use alara_model::BatchSink;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("lake");
    // Two lake handles with their own caches, as two processes have.
    let (la, lb) = (Lake::open(&root).unwrap(), Lake::open(&root).unwrap());
    let (ea, eb) = (Engine::start(&la, config(vec![])).unwrap(), Engine::start(&lb, config(vec![])).unwrap());
    let mut sa = DeltaSink::new(la.clone(), WriteOptions::default());
    let mut sb = DeltaSink::new(lb.clone(), WriteOptions::default());
    let months = |ms: &[&'static str]| ms.iter().map(|m| ("W1", *m, 3.0)).collect::<Vec<_>>();
    // A: five months of 3 mSv (15, above the investigation level of 6).
    let fa = flush("a", &months(&["2025-01", "2025-02", "2025-03", "2025-04", "2025-05"]));
    sa.write(&fa).unwrap();
    let by_a = ea.on_flush(&fa).unwrap();
    assert_eq!(by_a.iter().map(|a| a.level).collect::<Vec<_>>(), vec![Level::Investigation]);
    // B: two more months: 21 over the year, above the limit only with A's months.
    let fb = flush("b", &months(&["2025-06", "2025-07"]));
    sb.write(&fb).unwrap();
    let by_b = eb.on_flush(&fb).unwrap();
    assert_eq!(by_b.iter().map(|a| a.level).collect::<Vec<_>>(), vec![Level::Limit], "B sums A's commits too");
    // A follows the lake: it sees the limit, and that B raised it.
    assert!(ea.on_flush(&Flush::default()).unwrap().is_empty());
    ea.finish(Duration::from_secs(5));
    eb.finish(Duration::from_secs(5));
    let history = History::read(&Lake::open(&root).unwrap()).unwrap();
    let levels: Vec<Level> = history.alerts().iter().map(|a| a.level).collect();
    assert_eq!(levels, vec![Level::Investigation, Level::Limit], "each condition once");
}
