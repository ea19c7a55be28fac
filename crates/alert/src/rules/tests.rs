//! The rules on hand-built readings: windows, body sites, duplicates, arrival order,
//! corrections, pregnancy, apprentices and the operational alarm.

use super::*;
use alara_model::{Category, Laterality, Reading, Role, Worker};
use chrono::Months;

use crate::alert::{Alert, Level, Rule};
use crate::config::RuleConfig;

fn t(s: &str) -> DateTime<Utc> {
    alara_model::records::parse_timestamp(s).unwrap()
}

fn reading(id: &str, rev: i64, q: Quantity, dose: f64, start: &str, end: &str) -> Reading {
    let lens = q == Quantity::Hp3;
    Reading {
        reading_id: id.into(),
        revision: rev,
        source: "LAB".into(),
        worker_id: "W1".into(),
        employer_siret: "73282932000074".into(),
        site: None,
        department: "cardio".into(),
        dosimeter_id: format!("D-{id}"),
        monitoring: if lens { Monitoring::Lens } else { Monitoring::Passive },
        position: Some(if lens { Position::Eye } else { Position::UnderApron }),
        laterality: lens.then_some(Laterality::Left),
        quantity: q,
        status: Status::Measured,
        dose_msv: Some(dose),
        recording_threshold_msv: 0.05,
        period_start: t(start),
        period_end: t(end),
        radiation: None,
    }
}

fn feed(rules: &mut Rules, r: &Reading) -> Vec<Alert> {
    rules.apply_reading(r, t("2026-01-01"), "f:1");
    rules.evaluate_reading(r, "f:1", t("2026-01-01"))
}

/// Monthly periods from June 2024, ending on the last day of the month.
fn months(n: u32) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let s = NaiveDate::from_ymd_opt(2024, 6, 1).unwrap().checked_add_months(Months::new(i)).unwrap();
            let e = s.checked_add_months(Months::new(1)).unwrap().pred_opt().unwrap();
            (s.to_string(), e.to_string())
        })
        .collect()
}

fn worker(apprentice: bool, pregnancy: Option<&str>, valid_from: &str) -> Worker {
    Worker {
        worker_id: "W1".into(),
        employer_siret: "73282932000074".into(),
        department: "cardio".into(),
        role: Role::Nurse,
        category: Category::B,
        pregnancy_declared_on: pregnancy.map(|d| d.parse().unwrap()),
        apprentice,
        valid_from: t(valid_from),
    }
}

#[test]
fn a_sum_alerts_once_per_episode_on_calendar_windows() {
    let mut rules = Rules::new(RuleConfig::default());
    let mut fired = Vec::new();
    // 1.5 mSv of Hp3 a month: above the 15 mSv investigation level at the 11th month, once.
    for (i, (s, e)) in months(11).iter().enumerate() {
        fired.extend(feed(&mut rules, &reading(&format!("r{i}"), 0, Quantity::Hp3, 1.5, s, e)));
    }
    let got: Vec<_> = fired.iter().map(|a| (a.level, a.window.start, a.window.end.unwrap())).collect();
    assert_eq!(got, vec![(Level::Investigation, t("2024-05-01"), t("2025-05-01"))], "{fired:#?}");
    assert_eq!(fired[0].body_site, "eye/left");
    // A 6 mSv month: a declaration criterion (≥ 5) and the limit crossed (22.5 > 20).
    let (s, e) = &months(12)[11];
    let more = feed(&mut rules, &reading("r11", 0, Quantity::Hp3, 6.0, s, e));
    let mut got: Vec<_> = more.iter().map(|a| (a.rule, a.level)).collect();
    got.sort();
    assert_eq!(got, vec![(Rule::SingleResult, Level::Esr), (Rule::Rolling12Months, Level::Limit)]);
    let limit = more.iter().find(|a| a.level == Level::Limit).unwrap();
    assert_eq!(limit.readings.len(), 12);
    assert!((limit.dose_msv - 22.5).abs() < 1e-9);
    assert!(limit.summary.contains("2024-06 to 2025-05"), "{}", limit.summary);
    // The next month is still above both levels: same episodes, nothing new.
    let (s, e) = &months(13)[12];
    assert!(feed(&mut rules, &reading("r12", 0, Quantity::Hp3, 1.5, s, e)).is_empty());
}

#[test]
fn each_eye_and_hand_has_its_own_sum_and_only_legal_results_count() {
    let mut rules = Rules::new(RuleConfig::default());
    let mut right = reading("x", 0, Quantity::Hp3, 12.0, "2025-01-01", "2025-01-31");
    right.laterality = Some(Laterality::Right);
    assert!(feed(&mut rules, &right).iter().all(|a| a.level == Level::Esr));
    // 12 mSv left + 12 mSv right is not 24 mSv on one eye.
    let left = reading("y", 0, Quantity::Hp3, 12.0, "2025-01-01", "2025-01-31");
    assert!(feed(&mut rules, &left).iter().all(|a| a.level == Level::Esr));
    // An over-apron badge is not the effective dose; an operational dosimeter is not the record.
    let mut over = reading("o", 0, Quantity::Hp10, 30.0, "2025-01-01", "2025-01-31");
    over.position = Some(Position::OverApron);
    assert!(feed(&mut rules, &over).is_empty());
    let mut op = reading("p", 0, Quantity::Hp10, 0.3, "2025-01-02T08:00:00Z", "2025-01-02T09:00:00Z");
    op.monitoring = Monitoring::Operational;
    assert!(feed(&mut rules, &op).is_empty());
    assert_eq!(rules.len(), 2);
}

#[test]
fn one_dosimeter_and_period_counts_once_whatever_its_ids() {
    let mut rules = Rules::new(RuleConfig::default());
    let a = reading("a", 0, Quantity::Hp10, 12.0, "2025-01-01", "2025-01-31");
    let mut b = reading("b", 0, Quantity::Hp10, 12.0, "2025-01-01", "2025-01-31");
    b.dosimeter_id = a.dosimeter_id.clone();
    feed(&mut rules, &a);
    let got = feed(&mut rules, &b);
    assert!(got.iter().all(|x| x.level != Level::Limit), "{got:#?}");
}

#[test]
fn evaluation_does_not_depend_on_arrival_order() {
    let readings: Vec<Reading> = months(14)
        .iter()
        .enumerate()
        .map(|(i, (s, e))| reading(&format!("r{i}"), 0, Quantity::Hp10, if i == 5 { 9.0 } else { 1.2 }, s, e))
        .collect();
    let ids = |order: Vec<&Reading>| {
        let mut rules = Rules::new(RuleConfig::default());
        for r in &order {
            rules.apply_reading(r, t("2026-01-01"), "f:1");
        }
        let mut v: Vec<String> = readings
            .iter()
            .flat_map(|r| rules.evaluate_reading(r, "f:1", t("2026-01-01")))
            .map(|a| a.alert_id)
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let forward = ids(readings.iter().collect());
    assert_eq!(forward, ids(readings.iter().rev().collect()));
    // The 9 mSv month (ESR) makes 15 mSv at month 6 (investigation), 22.2 at month 12 (limit).
    assert_eq!(forward.len(), 3);
}

#[test]
fn a_correction_replaces_the_dose_it_corrects() {
    let mut rules = Rules::new(RuleConfig::default());
    assert_eq!(feed(&mut rules, &reading("r", 0, Quantity::Hp10, 45.0, "2025-03-01", "2025-03-31")).len(), 2);
    assert!(feed(&mut rules, &reading("r", 1, Quantity::Hp10, 0.45, "2025-03-01", "2025-03-31")).is_empty());
    // The old revision arriving late changes nothing.
    assert!(feed(&mut rules, &reading("r", 0, Quantity::Hp10, 45.0, "2025-03-01", "2025-03-31")).is_empty());
}

#[test]
fn pregnancy_apprentice_versions_and_operational_alarm() {
    let mut rules = Rules::new(RuleConfig::default());
    // An apprentice until June 2025, then an adult who declares a pregnancy on 1 March.
    rules.apply_worker(&worker(true, None, "2024-01-01"), t("2025-01-01"));
    rules.apply_worker(&worker(false, Some("2025-03-01"), "2025-06-01"), t("2025-01-01"));
    // Before the declaration: not counted for the pregnancy.
    assert!(feed(&mut rules, &reading("a", 0, Quantity::Hp10, 0.9, "2025-02-01", "2025-02-28")).is_empty());
    assert!(feed(&mut rules, &reading("b", 0, Quantity::Hp10, 0.7, "2025-03-01", "2025-03-31")).is_empty());
    let got = feed(&mut rules, &reading("c", 0, Quantity::Hp10, 0.6, "2025-04-01", "2025-04-30"));
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0].level, Level::Pregnancy);
    assert!((got[0].dose_msv - 1.3).abs() < 1e-9);
    assert_eq!(got[0].window.start, t("2025-03-01"));
    // In May she was still an apprentice: the ESR level is 6 × 0.25 = 1.5 mSv…
    let esr = feed(&mut rules, &reading("d", 0, Quantity::Hp10, 1.6, "2025-05-01", "2025-05-31"));
    assert!(esr.iter().any(|a| a.level == Level::Esr && a.threshold_msv == 1.5), "{esr:#?}");
    // …and in July an adult: 5 mSv.
    let esr = feed(&mut rules, &reading("e", 0, Quantity::Hp10, 1.6, "2025-07-01", "2025-07-31"));
    assert!(esr.iter().all(|a| a.level != Level::Esr), "{esr:#?}");

    // HR records the birth (a version without the declaration): later results do not count.
    let mut rules2 = Rules::new(RuleConfig::default());
    rules2.apply_worker(&worker(false, Some("2025-03-01"), "2025-03-01"), t("2025-01-01"));
    rules2.apply_worker(&worker(false, None, "2025-04-01"), t("2025-01-01"));
    feed(&mut rules2, &reading("b", 0, Quantity::Hp10, 0.7, "2025-03-01", "2025-03-31"));
    assert!(feed(&mut rules2, &reading("c", 0, Quantity::Hp10, 0.6, "2025-04-01", "2025-04-30")).is_empty());

    let mut op = reading("f", 0, Quantity::Hp10, 0.8, "2025-05-02T08:00:00Z", "2025-05-02T09:30:00Z");
    op.monitoring = Monitoring::Operational;
    let alarm = feed(&mut rules, &op);
    assert_eq!(alarm.len(), 1);
    assert_eq!(alarm[0].level, Level::Alarm);
    assert!(alarm[0].summary.contains("2025-05-02T08:00:00Z"), "{}", alarm[0].summary);
    op.dose_msv = Some(0.2);
    assert!(feed(&mut rules, &op).is_empty());
}

/// A backlog of years read at once: the state never holds more than 1.2 times the months it
/// keeps, not every result it passed (it did, until the next five-minute checkpoint).
#[test]
fn a_backlog_of_years_leaves_the_state_bounded_as_it_is_read() {
    let mut rules = Rules::new(RuleConfig::default());
    let mut most = 0;
    // 600 dosimeters a month over 20 years: 144,000 legal results.
    for (m, (start, end)) in months(240).iter().enumerate() {
        for d in 0..600 {
            let r = reading(&format!("R{m}-{d}"), 0, Quantity::Hp10, 0.1, start, end);
            let r = Reading { dosimeter_id: format!("D{d}"), ..r };
            rules.apply_reading(&r, t("2026-01-01"), "f:1");
            rules.prune_when_grown(24);
            most = most.max(rules.len());
        }
    }
    // 24 months kept (and the month in progress): 25 × 600 = 15,000; 1.2 times that at most.
    assert!(most <= 25 * 600 * 12 / 10, "the state grew to {most} results");
    rules.prune(24);
    assert_eq!(rules.len(), 25 * 600);
}
