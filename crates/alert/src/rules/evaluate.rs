//! The rules, evaluated over the rolling state: each returns the alert conditions that hold,
//! and the engine keeps those never raised before.

use std::collections::BTreeMap;

use alara_model::{Monitoring, Quantity, Reading};
use chrono::{DateTime, NaiveDate, Utc};

use super::{
    Key, LegalResult, Rules, SeriesKey, Sum, WorkerVersion, body_site, midnight, month_of, month_start, quantity_label,
};
use crate::alert::{Alert, Cause, Level, Rule, Window, alert_id, msv, round_sum_msv, when};

impl Rules {
    /// Every alert condition that holds among those a reading can affect: its own result, the
    /// 12-month windows holding its month (and the next one, whose predecessor it may be), the
    /// worker's pregnancy. Ids already raised are filtered by the caller.
    pub fn evaluate_reading(&self, r: &Reading, origin: &str, now: DateTime<Utc>) -> Vec<Alert> {
        if r.monitoring == Monitoring::Operational {
            return self.operational_alarm(r, origin, now).into_iter().collect();
        }
        self.evaluate_result(&(r.source.clone(), r.reading_id.clone()), now)
    }

    /// Every condition a legal result takes part in (its own, its 12-month windows, the
    /// pregnancy sum of its worker), whoever committed it.
    pub fn evaluate_result(&self, key: &Key, now: DateTime<Utc>) -> Vec<Alert> {
        // The winning copy, which may be an earlier higher revision than the one just taken.
        let Some(result) = self.results_held.get(key) else { return Vec::new() };
        let series = result.series();
        let month = month_of(result.period_end);
        let mut out = Vec::new();
        if let Some(keys) = self.series.get(&series).and_then(|m| m.get(&month)).and_then(|s| s.get(&result.slot()))
            && let Some((k, winner)) = self.winner(keys)
        {
            out.extend(self.single_result(k, winner, now));
        }
        out.extend(self.rolling(&series, month, month + 11, now));
        if result.quantity == Quantity::Hp10 {
            out.extend(self.pregnancy(&result.worker_id, now));
        }
        out
    }

    /// Every condition that holds for a worker (a new version may change their limits or
    /// declare a pregnancy).
    pub fn evaluate_worker(&self, worker_id: &str, now: DateTime<Utc>) -> Vec<Alert> {
        let mut out = Vec::new();
        let mut series: Vec<&SeriesKey> = self.series.keys().filter(|s| s.0 == worker_id).collect();
        series.sort();
        for s in series {
            for (k, f) in self.results(s, i32::MIN, i32::MAX) {
                out.extend(self.single_result(k, f, now));
            }
            out.extend(self.rolling(s, i32::MIN, i32::MAX, now));
        }
        out.extend(self.pregnancy(worker_id, now));
        out
    }

    /// Whether a raised alert's condition still holds after corrections; `Err` says what the
    /// results give now. Only the regulatory rules are re-checked (an operational alarm is a
    /// moment, not a state).
    pub fn still_holds(&self, a: &Alert) -> Result<(), String> {
        let series: SeriesKey = (a.worker_id.clone(), a.quantity, a.body_site.clone());
        match a.rule {
            Rule::SingleResult => {
                let now =
                    a.readings.first().and_then(|c| self.results_held.get(&(c.source.clone(), c.reading_id.clone())));
                let winner = now.and_then(|f| {
                    let month = month_of(f.period_end);
                    let keys = self.series.get(&f.series())?.get(&month)?.get(&f.slot())?;
                    self.winner(keys)
                });
                match winner {
                    Some((k, f)) if self.single_result(k, f, a.raised_at).is_some_and(|n| n.alert_id == a.alert_id) => {
                        Ok(())
                    }
                    Some((k, f)) => Err(format!(
                        "the result is now {} ({} {} revision {})",
                        f.counted.map(msv).unwrap_or_else(|| f.status.as_str().to_string()),
                        k.0,
                        k.1,
                        f.revision
                    )),
                    None => Err("the result no longer counts toward the limits".into()),
                }
            }
            Rule::Rolling12Months => {
                let Some(end) = a.window.end else { return Ok(()) };
                let month = month_of(end);
                let sum = self.window_sum(&series, month);
                if sum.dose <= a.threshold_msv {
                    return Err(format!(
                        "the 12-month sum is now {}, not above {}",
                        msv(sum.dose),
                        msv(a.threshold_msv)
                    ));
                }
                // One alert per episode, on its first window: results of earlier months that
                // arrived later (another partition, another process) may start the episode
                // earlier, and the alert of that window replaces this one.
                let previous = self.series.get(&series).and_then(|m| m.range(..month).next_back()).map(|(m, _)| *m);
                match previous.map(|m| self.window_sum(&series, m)) {
                    Some(p) if p.dose > a.threshold_msv => Err(format!(
                        "the episode starts earlier: the 12 months to {} are already at {}, above {}",
                        month_start(p.month).format("%Y-%m"),
                        msv(p.dose),
                        msv(a.threshold_msv)
                    )),
                    _ => Ok(()),
                }
            }
            Rule::Pregnancy => {
                match self.pregnancy(&a.worker_id, a.raised_at).into_iter().find(|n| n.alert_id == a.alert_id) {
                    Some(_) => Ok(()),
                    None => Err(format!("the dose since the declaration is no longer above {}", msv(a.threshold_msv))),
                }
            }
            Rule::OperationalAlarm | Rule::Withdrawal => Ok(()),
        }
    }

    fn cause(key: &Key, f: &LegalResult) -> Cause {
        Cause {
            source: key.0.clone(),
            reading_id: key.1.clone(),
            revision: f.revision,
            monitoring: f.monitoring.as_str().to_string(),
            status: f.status.as_str().to_string(),
            dose_msv: f.counted,
            period_start: f.period_start,
            period_end: f.period_end,
            origin: f.origin.clone(),
        }
    }

    fn single_result(&self, key: &Key, f: &LegalResult, now: DateTime<Utc>) -> Option<Alert> {
        let dose = f.counted?;
        let limit = self.limit(self.apprentice_at(&f.worker_id, f.period_end), f.quantity);
        let threshold = limit * self.config.limits.esr_fraction;
        if dose < threshold {
            return None;
        }
        let window = Window { start: f.period_start, end: Some(f.period_end) };
        let department = self.department(&f.worker_id, &f.department);
        let summary = format!(
            "{} ({department}): one {} result of {} ({} → {}) reaches a quarter of the {} annual limit ({}): \
             declaration criterion for a significant event (ESR)",
            f.worker_id,
            quantity_label(f.quantity, &f.body_site),
            msv(dose),
            when(&f.period_start),
            when(&f.period_end),
            msv(limit),
            msv(threshold),
        );
        Some(Alert {
            alert_id: alert_id(Rule::SingleResult, Level::Esr, &f.worker_id, f.quantity, &f.body_site, &window),
            worker_id: f.worker_id.clone(),
            department,
            rule: Rule::SingleResult,
            level: Level::Esr,
            quantity: f.quantity,
            body_site: f.body_site.clone(),
            dose_msv: dose,
            threshold_msv: threshold,
            window,
            missing_results: 0,
            readings: vec![Self::cause(key, f)],
            summary,
            supersedes: Vec::new(),
            withdraws: None,
            raised_at: now,
        })
    }

    fn window_sum(&self, series: &SeriesKey, month: i32) -> Sum {
        let results = self.results(series, month - 11, month);
        self.sum(month, results.iter().map(|(_, f)| *f))
    }

    /// The 12-month sum of a window ending at `month`, from its counted results in month order.
    fn sum<'a>(&self, month: i32, results: impl Iterator<Item = &'a LegalResult> + Clone) -> Sum {
        Sum {
            month,
            dose: round_sum_msv(results.clone().filter_map(|f| f.counted).sum()),
            // The population of a window is the worker's at its last month.
            apprentice: results
                .clone()
                .filter(|f| month_of(f.period_end) == month)
                .any(|f| self.apprentice_at(&f.worker_id, f.period_end)),
            missing: results.filter(|f| f.counted.is_none()).count(),
        }
    }

    /// Episode starts of windows ending at a month with results in `[from, to]`, and at the
    /// first month with results after `to` (whose predecessor may have changed).
    fn rolling(&self, series: &SeriesKey, from: i32, to: i32, now: DateTime<Utc>) -> Vec<Alert> {
        let Some(months) = self.series.get(series) else { return Vec::new() };
        let ends: Vec<i32> = months.keys().copied().collect();
        let start = ends.partition_point(|m| *m < from);
        let stop = (ends.partition_point(|m| *m <= to) + 1).min(ends.len());
        if start >= stop {
            return Vec::new();
        }
        // The counted results of every month these windows span, gathered once: each result
        // takes part in twelve windows, and this runs for every legal result ingested. Summed in
        // the same order as `window_sum`, so to the same last bit.
        let winners: BTreeMap<i32, Vec<&LegalResult>> = months
            .range(ends[start.saturating_sub(1)] - 11..=ends[stop - 1])
            .map(|(m, slots)| (*m, slots.values().filter_map(|keys| self.winner(keys)).map(|(_, f)| f).collect()))
            .collect();
        let window_sum =
            |month: i32| self.sum(month, winners.range(month - 11..=month).flat_map(|(_, v)| v.iter().copied()));
        let q = series.1;
        let mut out = Vec::new();
        let mut previous = start.checked_sub(1).map(|i| window_sum(ends[i]));
        for &month in &ends[start..stop] {
            let sum = window_sum(month);
            let crossed = |level: Level| {
                let threshold = |s: &Sum| {
                    let limit = self.limit(s.apprentice, q);
                    if level == Level::Limit { limit } else { self.config.limits.investigation.get(q).min(limit) }
                };
                sum.dose > threshold(&sum) && !previous.as_ref().is_some_and(|p| p.dose > threshold(p))
            };
            let level = if crossed(Level::Limit) {
                Some(Level::Limit)
            } else if crossed(Level::Investigation) {
                Some(Level::Investigation)
            } else {
                None
            };
            if let Some(level) = level {
                out.push(self.rolling_alert(series, &sum, level, now));
            }
            previous = Some(sum);
        }
        out
    }

    fn rolling_alert(&self, series: &SeriesKey, sum: &Sum, level: Level, now: DateTime<Utc>) -> Alert {
        let (worker_id, q, site) = series;
        let limit = self.limit(sum.apprentice, *q);
        let threshold = if level == Level::Limit { limit } else { self.config.limits.investigation.get(*q).min(limit) };
        let window = Window { start: month_start(sum.month - 11), end: Some(month_start(sum.month + 1)) };
        let results = self.results(series, sum.month - 11, sum.month);
        let fallback = results.last().map(|(_, f)| f.department.clone()).unwrap_or_default();
        let department = self.department(worker_id, &fallback);
        let what = match (level, sum.apprentice) {
            (Level::Limit, false) => "the annual limit",
            (Level::Limit, true) => "the apprentice annual limit",
            (_, false) => "the investigation level",
            (_, true) => "the apprentice investigation level",
        };
        let missing = if sum.missing > 0 {
            format!("; {} result(s) missing, the sum may be higher", sum.missing)
        } else {
            String::new()
        };
        let summary = format!(
            "{worker_id} ({department}): {} over the 12 months {} to {} is {}, above {what} of {}{missing}",
            quantity_label(*q, site),
            month_start(sum.month - 11).format("%Y-%m"),
            month_start(sum.month).format("%Y-%m"),
            msv(sum.dose),
            msv(threshold),
        );
        Alert {
            alert_id: alert_id(Rule::Rolling12Months, level, worker_id, *q, site, &window),
            worker_id: worker_id.clone(),
            department,
            rule: Rule::Rolling12Months,
            level,
            quantity: *q,
            body_site: site.clone(),
            dose_msv: sum.dose,
            threshold_msv: threshold,
            window,
            missing_results: sum.missing,
            readings: results.iter().map(|(k, f)| Self::cause(k, f)).collect(),
            summary,
            supersedes: Vec::new(),
            withdraws: None,
            raised_at: now,
        }
    }

    /// The worker's declared pregnancies: each distinct declaration date, and when it ended (the
    /// `valid_from` of the version after the last one carrying it; `None` while the current
    /// version carries it), as `worker_history` says.
    fn pregnancies(&self, worker_id: &str) -> Vec<(NaiveDate, Option<DateTime<Utc>>)> {
        let Some(versions) = self.workers.get(worker_id) else { return Vec::new() };
        let list: Vec<(&DateTime<Utc>, &WorkerVersion)> = versions.iter().collect();
        let mut out: BTreeMap<NaiveDate, Option<DateTime<Utc>>> = BTreeMap::new();
        for (i, (_, v)) in list.iter().enumerate() {
            let Some(declared) = v.pregnancy_declared_on else { continue };
            let valid_to = list.get(i + 1).map(|(from, _)| **from);
            let ended = out.entry(declared).or_insert(valid_to);
            *ended = match (*ended, valid_to) {
                (None, _) | (_, None) => None,
                (Some(a), Some(b)) => Some(a.max(b)),
            };
        }
        out.into_iter().collect()
    }

    fn pregnancy(&self, worker_id: &str, now: DateTime<Utc>) -> Vec<Alert> {
        let series = (worker_id.to_string(), Quantity::Hp10, body_site(Quantity::Hp10, None, None));
        let mut out = Vec::new();
        for (declared_on, ended) in self.pregnancies(worker_id) {
            let declared = midnight(declared_on);
            let months = self.config.limits.pregnancy_months;
            let until = (months > 0.0)
                .then(|| declared + chrono::Duration::milliseconds((months * 30.4375 * 86_400_000.0) as i64));
            let mut results: Vec<(&Key, &LegalResult)> = self
                .results(&series, i32::MIN, i32::MAX)
                .into_iter()
                .filter(|(_, f)| {
                    f.period_start >= declared
                        && ended.is_none_or(|e| f.period_start < e)
                        && until.is_none_or(|u| f.period_start < u)
                })
                .collect();
            results.sort_by(|a, b| {
                (a.1.period_end, a.1.period_start, &a.0.1).cmp(&(b.1.period_end, b.1.period_start, &b.0.1))
            });
            let dose = round_sum_msv(results.iter().filter_map(|(_, f)| f.counted).sum());
            let threshold = self.config.limits.pregnancy_msv;
            if dose <= threshold {
                continue;
            }
            let missing = results.iter().filter(|(_, f)| f.counted.is_none()).count();
            let department = self.department(worker_id, "");
            // The declaration identifies the condition; its end may move as HR records the birth.
            let window = Window { start: declared, end: None };
            let summary = format!(
                "{worker_id} ({department}): {} of Hp10 since the pregnancy declared on {}, above the {} limit for \
                 the unborn child{}",
                msv(dose),
                when(&declared),
                msv(threshold),
                if missing > 0 {
                    format!("; {missing} result(s) missing, the dose may be higher")
                } else {
                    String::new()
                },
            );
            out.push(Alert {
                alert_id: alert_id(Rule::Pregnancy, Level::Pregnancy, worker_id, Quantity::Hp10, &series.2, &window),
                worker_id: worker_id.to_string(),
                department,
                rule: Rule::Pregnancy,
                level: Level::Pregnancy,
                quantity: Quantity::Hp10,
                body_site: series.2.clone(),
                dose_msv: dose,
                threshold_msv: threshold,
                window,
                missing_results: missing,
                readings: results.iter().map(|(k, f)| Self::cause(k, f)).collect(),
                summary,
                supersedes: Vec::new(),
                withdraws: None,
                raised_at: now,
            });
        }
        out
    }

    fn operational_alarm(&self, r: &Reading, origin: &str, now: DateTime<Utc>) -> Option<Alert> {
        let threshold = self.config.operational_alarm.get(r.quantity);
        let dose = r.dose_msv.filter(|_| r.status.carries_dose())?;
        if dose < threshold {
            return None;
        }
        let site = body_site(r.quantity, r.position, r.laterality);
        let window = Window { start: r.period_start, end: Some(r.period_end) };
        let department = self.department(&r.worker_id, &r.department);
        let summary = format!(
            "{} ({department}): operational {} dose of {} during one entry ({} → {}), at or above the alarm level of {}",
            r.worker_id,
            quantity_label(r.quantity, &site),
            msv(dose),
            when(&r.period_start),
            when(&r.period_end),
            msv(threshold),
        );
        let cause = Cause {
            source: r.source.clone(),
            reading_id: r.reading_id.clone(),
            revision: r.revision,
            monitoring: r.monitoring.as_str().to_string(),
            status: r.status.as_str().to_string(),
            dose_msv: Some(dose),
            period_start: r.period_start,
            period_end: r.period_end,
            origin: origin.to_string(),
        };
        Some(Alert {
            alert_id: alert_id(Rule::OperationalAlarm, Level::Alarm, &r.worker_id, r.quantity, &site, &window),
            worker_id: r.worker_id.clone(),
            department,
            rule: Rule::OperationalAlarm,
            level: Level::Alarm,
            quantity: r.quantity,
            body_site: site,
            dose_msv: dose,
            threshold_msv: threshold,
            window,
            missing_results: 0,
            readings: vec![cause],
            summary,
            supersedes: Vec::new(),
            withdraws: None,
            raised_at: now,
        })
    }
}
