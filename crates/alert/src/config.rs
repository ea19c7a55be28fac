//! Settings of the alert rules, of delivery, and of each hook, as written in `alara.toml`:
//!
//! ```toml
//! [alerts]
//! operational_alarm = { Hp10 = 0.5, Hp3 = 0.5, Hp007 = 5.0 }
//! drain_timeout_s = 30
//!
//! [[hooks]]
//! name = "rpa-webhook"
//! kind = "webhook"
//! url = "https://rpa.example.org/alara"
//! secret_env = "ALARA_WEBHOOK_SECRET"
//! levels = ["limit", "esr", "pregnancy"]
//! ```
//!
//! The dose levels of the regulatory rules are not here: they are `[limits]`
//! ([`alara_model::Limits`]), shared with the detection views, and reach the engine in a
//! [`RuleConfig`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use alara_model::{Limits, Quantity, QuantityLevels};
use serde::{Deserialize, Serialize};

use crate::alert::Level;

/// The numbers the streaming rules compare doses with: the regulatory [`Limits`] (the
/// `[limits]` section, the very values the detection views read from the `thresholds` table, so
/// stream and batch never disagree) and the local operational alarm level of `[alerts]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleConfig {
    /// The regulatory levels.
    pub limits: Limits,
    /// Dose of one operational (active dosimeter) entry that sounds the alarm.
    pub operational_alarm: QuantityLevels,
}

impl Default for RuleConfig {
    fn default() -> Self {
        RuleConfig { limits: Limits::default(), operational_alarm: AlertsConfig::default().operational_alarm }
    }
}

/// The `[alerts]` section: the operational alarm level and how delivery behaves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// Dose recorded by an operational dosimeter during one entry into the controlled area that
    /// raises an `alarm` alert (mSv). There is no national value: it is a local dose constraint
    /// set by the radiation protection advisor.
    pub operational_alarm: QuantityLevels,
    /// Alerts of one worker raised within this many seconds of each other and waiting for the
    /// same hook travel as one delivery (the most severe first, the others in `grouped`).
    pub group_window_s: f64,
    /// Attempts of one delivery before it is recorded `failed`. A failed alert is still owed: it
    /// is re-sent while alara runs (every `max_backoff_ms`), at the next start, or by
    /// `alara alerts --retry`.
    pub max_attempts: u32,
    /// First retry delay; doubled at each attempt, with jitter.
    pub initial_backoff_ms: u64,
    /// Longest retry delay.
    pub max_backoff_ms: u64,
    /// When a run ends (files ingested, `--retry`), how long to keep delivering what is owed
    /// before exiting; what is left stays in the outbox for the next run.
    pub drain_timeout_s: f64,
    /// Months of readings kept in memory before the newest one (12-month sums need 12, late
    /// results need more).
    pub state_months: u32,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            operational_alarm: QuantityLevels { hp10: 0.5, hp3: 0.5, hp007: 5.0 },
            group_window_s: 60.0,
            max_attempts: 5,
            initial_backoff_ms: 200,
            max_backoff_ms: 30_000,
            drain_timeout_s: 30.0,
            state_months: 24,
        }
    }
}

impl AlertsConfig {
    /// Checks values a person could get wrong.
    pub fn validate(&self) -> Result<(), String> {
        for (q, v) in [("Hp10", self.operational_alarm.hp10), ("Hp3", self.operational_alarm.hp3)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("operational_alarm.{q} must be a positive number of mSv, got {v}"));
            }
        }
        if !(self.operational_alarm.hp007.is_finite() && self.operational_alarm.hp007 > 0.0) {
            return Err(format!(
                "operational_alarm.Hp007 must be a positive number of mSv, got {}",
                self.operational_alarm.hp007
            ));
        }
        if self.max_attempts == 0 {
            return Err("max_attempts must be at least 1".into());
        }
        if self.initial_backoff_ms == 0 || self.max_backoff_ms < self.initial_backoff_ms {
            return Err("initial_backoff_ms must be positive and at most max_backoff_ms".into());
        }
        if !(self.group_window_s >= 0.0 && self.group_window_s.is_finite()) {
            return Err(format!("group_window_s must be a number of seconds ≥ 0, got {}", self.group_window_s));
        }
        if !(self.drain_timeout_s >= 0.0 && self.drain_timeout_s.is_finite()) {
            return Err(format!("drain_timeout_s must be a number of seconds ≥ 0, got {}", self.drain_timeout_s));
        }
        if self.state_months < 12 {
            return Err(format!("state_months must be at least 12, got {}", self.state_months));
        }
        Ok(())
    }

    /// `drain_timeout_s` as a duration.
    pub fn drain_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.drain_timeout_s)
    }
}

/// What a hook does with an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HookKind {
    /// HTTP POST of the JSON alert, signed with HMAC-SHA256.
    Webhook,
    /// Runs a program with the JSON alert on its standard input.
    Command,
    /// Produces the JSON alert to a Kafka topic, keyed by worker.
    Kafka,
    /// Appends the JSON alert as one line to a local file.
    Log,
    /// Posts to Prometheus Alertmanager's API (`url`), re-sent while open, ended when handled.
    Alertmanager,
}

impl HookKind {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            HookKind::Webhook => "webhook",
            HookKind::Command => "command",
            HookKind::Kafka => "kafka",
            HookKind::Log => "log",
            HookKind::Alertmanager => "alertmanager",
        }
    }
}

/// Default topic of `kafka` hooks.
pub const DEFAULT_ALERT_TOPIC: &str = "dosimetry.alerts";

/// One `[[hooks]]` entry. Which fields apply depends on `kind`; [`crate::transport::build`] says
/// which one is missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookConfig {
    /// The hook's identity in the outbox (delivery state is kept per name; renaming a hook makes
    /// it a new one). Default: the kind, suffixed with its position when several share a kind.
    pub name: Option<String>,
    /// What the hook does.
    pub kind: HookKind,
    /// Only alerts of these levels (`limit`, `investigation`, `esr`, `pregnancy`, `alarm`);
    /// empty: every level.
    #[serde(default)]
    pub levels: Vec<Level>,
    /// Only alerts on these quantities (`Hp10`, `Hp3`, `Hp007`); empty: every quantity.
    #[serde(default)]
    pub quantities: Vec<Quantity>,
    /// Only alerts of workers in these departments; empty: every department.
    #[serde(default)]
    pub departments: Vec<String>,
    /// `webhook`, `alertmanager`: the URL to POST to (`https://`, verified against the system's trusted roots,
    /// or `http://`).
    pub url: Option<String>,
    /// `webhook`: environment variable holding the HMAC secret.
    pub secret_env: Option<String>,
    /// `webhook`: file holding the HMAC secret (used when `secret_env` is not set).
    pub secret_file: Option<PathBuf>,
    /// `webhook`, `command`, `kafka`: how long one attempt may take (default 5000 ms, and
    /// 30000 ms for commands).
    pub timeout_ms: Option<u64>,
    /// `command`: the program to run (looked up in `PATH`).
    pub program: Option<String>,
    /// `command`: its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// `kafka`: bootstrap servers (default: `ALARA_KAFKA_BROKERS`).
    pub brokers: Option<String>,
    /// `kafka`: topic (default `dosimetry.alerts`).
    pub topic: Option<String>,
    /// `kafka`: extra librdkafka properties (no secrets: see `secret_properties_env`).
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// `kafka`: librdkafka properties whose value comes from an environment variable, e.g.
    /// `{ "sasl.password" = "ALARA_ALERTS_SASL_PASSWORD" }`.
    #[serde(default)]
    pub secret_properties_env: BTreeMap<String, String>,
    /// `log`: the file alerts are appended to, one JSON object per line.
    pub path: Option<PathBuf>,
}

impl HookConfig {
    /// A hook of `kind` with every optional field empty.
    pub fn new(kind: HookKind) -> HookConfig {
        HookConfig {
            name: None,
            kind,
            levels: Vec::new(),
            quantities: Vec::new(),
            departments: Vec::new(),
            url: None,
            secret_env: None,
            secret_file: None,
            timeout_ms: None,
            program: None,
            args: Vec::new(),
            brokers: None,
            topic: None,
            properties: BTreeMap::new(),
            secret_properties_env: BTreeMap::new(),
            path: None,
        }
    }

    /// A `log` hook appending to `path`.
    pub fn log(path: impl Into<PathBuf>) -> HookConfig {
        HookConfig { path: Some(path.into()), ..HookConfig::new(HookKind::Log) }
    }
}

/// The names of configured hooks: `name`, else the kind, suffixed `-<n>` (1-based position
/// among hooks of that kind) when several share the kind. Names must be unique.
pub fn hook_names(hooks: &[HookConfig]) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    for (i, h) in hooks.iter().enumerate() {
        let name = match &h.name {
            Some(n) if n.trim().is_empty() => return Err(format!("hook #{}: name must not be empty", i + 1)),
            Some(n) => n.clone(),
            None => {
                let same = hooks.iter().filter(|o| o.kind == h.kind && o.name.is_none()).count();
                if same == 1 {
                    h.kind.as_str().to_string()
                } else {
                    let nth = hooks[..=i].iter().filter(|o| o.kind == h.kind && o.name.is_none()).count();
                    format!("{}-{nth}", h.kind.as_str())
                }
            }
        };
        if names.contains(&name) {
            return Err(format!("two hooks are named '{name}': give each [[hooks]] entry a distinct name"));
        }
        names.push(name);
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_follow_kind_and_position() {
        let hooks = vec![
            HookConfig::new(HookKind::Webhook),
            HookConfig::new(HookKind::Webhook),
            HookConfig::log("/tmp/x"),
            HookConfig { name: Some("ops".into()), ..HookConfig::new(HookKind::Kafka) },
        ];
        assert_eq!(hook_names(&hooks).unwrap(), vec!["webhook-1", "webhook-2", "log", "ops"]);
        let dup =
            vec![HookConfig { name: Some("log".into()), ..HookConfig::new(HookKind::Kafka) }, HookConfig::log("x")];
        assert!(hook_names(&dup).unwrap_err().contains("'log'"));
    }

    #[test]
    fn defaults_are_valid() {
        AlertsConfig::default().validate().unwrap();
    }
}
