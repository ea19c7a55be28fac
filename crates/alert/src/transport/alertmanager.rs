//! `alertmanager`: alerts into Prometheus Alertmanager (`POST <url>/api/v2/alerts`), where
//! operations teams route, group, silence and page.
//!
//! Each alert becomes one Alertmanager alert whose labels identify it (`alertname="alara"`,
//! `rule`, `level`, `quantity`, `department`, `worker` — the pseudonymous id — and `alert_id`),
//! with the summary and dose as annotations. Alertmanager forgets an alert that is not re-sent
//! within its `resolve_timeout`, so [`sync`] re-sends every open alert (`alara serve` calls it
//! every minute and right after an acknowledgement) and sends acknowledged or withdrawn ones
//! with `endsAt` set, which resolves them. A withdrawal notice delivered by the engine ends the
//! alert it withdraws.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::Notifier;
use crate::Result;
use crate::alert::{Alert, Delivery, Level, Rule};
use crate::outbox::History;

/// How long after an acknowledgement [`sync`] keeps sending the ended alert (so a receiver
/// that was down still learns it ended).
pub const ENDED_RESEND: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// Posts alerts to an Alertmanager.
pub struct AlertmanagerNotifier {
    endpoint: String,
    agent: ureq::Agent,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The rule that raises alerts of a level (a withdrawal notice keeps the level of the alert it
/// withdraws, not its rule; the labels of the withdrawn alert are rebuilt from it).
fn rule_of(level: Level) -> Rule {
    match level {
        Level::Esr => Rule::SingleResult,
        Level::Pregnancy => Rule::Pregnancy,
        Level::Alarm => Rule::OperationalAlarm,
        Level::Investigation | Level::Limit => Rule::Rolling12Months,
        // Levels of the detection views only; no rule raises an alert at them.
        Level::Projected | Level::LensEstimate | Level::Classification => Rule::Rolling12Months,
    }
}

/// The Alertmanager alert of an alara alert; `ends_at` resolves it.
pub fn am_alert(a: &Alert, ends_at: Option<DateTime<Utc>>) -> Value {
    let (id, rule) = match (&a.withdraws, a.rule) {
        (Some(original), Rule::Withdrawal) => (original.as_str(), rule_of(a.level)),
        _ => (a.alert_id.as_str(), a.rule),
    };
    let mut v = json!({
        "labels": {
            "alertname": "alara",
            "alert_id": id,
            "rule": rule.as_str(),
            "level": a.level.as_str(),
            "quantity": a.quantity.as_str(),
            "department": a.department,
            "worker": a.worker_id,
        },
        "annotations": {
            "summary": a.summary,
            "dose_msv": format!("{}", a.dose_msv),
            "threshold_msv": format!("{}", a.threshold_msv),
            "body_site": a.body_site,
        },
        "startsAt": rfc3339(a.raised_at),
    });
    if let Some(end) = ends_at {
        v["endsAt"] = Value::String(rfc3339(end.max(a.raised_at)));
    }
    v
}

impl AlertmanagerNotifier {
    /// A notifier for the Alertmanager at `url` (`http://host:9093`), each POST bounded by
    /// `timeout`.
    pub fn new(url: &str, timeout: Duration) -> Result<AlertmanagerNotifier> {
        Ok(AlertmanagerNotifier {
            endpoint: format!("{}/api/v2/alerts", url.trim_end_matches('/')),
            agent: super::http_agent("alertmanager", url, timeout)?,
        })
    }

    /// Posts a list of Alertmanager alerts.
    pub fn post(&self, alerts: &[Value]) -> std::result::Result<(), String> {
        if alerts.is_empty() {
            return Ok(());
        }
        let body = serde_json::to_vec(alerts).map_err(|e| e.to_string())?;
        let response = self
            .agent
            .post(&self.endpoint)
            .header("Content-Type", "application/json")
            .send(&body[..])
            .map_err(|e| format!("POST {}: {e}", self.endpoint))?;
        let status = response.status();
        if status.is_success() { Ok(()) } else { Err(format!("POST {}: HTTP {status}", self.endpoint)) }
    }
}

impl Notifier for AlertmanagerNotifier {
    fn send(&mut self, delivery: &Delivery<'_>, _body: &[u8]) -> std::result::Result<(), String> {
        let now = Utc::now();
        let alerts: Vec<Value> = std::iter::once(delivery.head)
            .chain(delivery.grouped.iter().copied())
            .map(|a| am_alert(a, (a.rule == Rule::Withdrawal).then_some(now)))
            .collect();
        self.post(&alerts)
    }
}

/// What [`sync`] sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Synced {
    /// Open alerts re-sent.
    pub open: usize,
    /// Acknowledged or withdrawn alerts sent with `endsAt`.
    pub ended: usize,
}

/// Sends Alertmanager the state of every alert of the outbox that passes `wanted`: open alerts
/// again (so they stay active), acknowledged ones (within [`ENDED_RESEND`]) and withdrawn ones
/// with `endsAt`.
pub fn sync(
    notifier: &AlertmanagerNotifier,
    history: &History,
    wanted: impl Fn(&Alert) -> bool,
    now: DateTime<Utc>,
) -> std::result::Result<Synced, String> {
    let mut out = Vec::new();
    let mut synced = Synced::default();
    for a in history.alerts().iter().filter(|a| a.rule != Rule::Withdrawal && wanted(a)) {
        if let Some(ack) = history.ack(&a.alert_id) {
            if now - ack.at <= ENDED_RESEND {
                out.push(am_alert(a, Some(ack.at)));
                synced.ended += 1;
            }
        } else if history.withdrawn(&a.alert_id).is_some() {
            out.push(am_alert(a, Some(now)));
            synced.ended += 1;
        } else {
            out.push(am_alert(a, None));
            synced.open += 1;
        }
    }
    notifier.post(&out)?;
    Ok(synced)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Window;

    fn alert() -> Alert {
        let t = DateTime::parse_from_rfc3339("2026-05-01T08:00:00Z").unwrap().with_timezone(&Utc);
        Alert {
            alert_id: "a1".into(),
            worker_id: "W7".into(),
            department: "cardiology".into(),
            rule: Rule::Rolling12Months,
            level: Level::Limit,
            quantity: alara_model::Quantity::Hp10,
            body_site: "whole_body".into(),
            dose_msv: 21.5,
            threshold_msv: 20.0,
            window: Window { start: t, end: None },
            missing_results: 0,
            readings: Vec::new(),
            summary: "over".into(),
            supersedes: Vec::new(),
            withdraws: None,
            raised_at: t,
        }
    }

    #[test]
    fn a_withdrawal_ends_the_alert_it_withdraws_with_the_same_labels() {
        let a = alert();
        let w = a.withdrawal("corrected", a.raised_at + chrono::TimeDelta::days(1));
        let open = am_alert(&a, None);
        let ended = am_alert(&w, Some(w.raised_at));
        assert_eq!(open["labels"], ended["labels"]);
        assert!(open.get("endsAt").is_none());
        assert_eq!(ended["endsAt"], "2026-05-02T08:00:00.000Z");
        assert_eq!(open["labels"]["worker"], "W7");
        assert_eq!(open["labels"]["rule"], "rolling_12_months");
    }
}
