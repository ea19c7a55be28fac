//! `alara.toml`, layered once: defaults → the file → `ALARA_<SECTION>__<KEY>` environment
//! variables. Command-line flags then win over all three, in each command.
//!
//! Secrets never live here: the pseudonymisation key, webhook secrets and SASL passwords come
//! from the environment or from files named here.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::UsageError;

/// The whole configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Default lake directory when `--lake` is not given.
    pub lake: Option<PathBuf>,
    /// Dose levels of detections and alert rules.
    pub limits: alara_detect::DetectConfig,
    /// Ingest settings.
    pub ingest: IngestConfig,
    /// Pseudonymisation.
    pub pseudonym: PseudonymConfig,
    /// Kafka source (`alara ingest --kafka`).
    pub kafka: alara_ingest::kafka::KafkaConfig,
    /// Alert delivery and the operational alarm level.
    pub alerts: alara_alert::AlertsConfig,
    /// Where alerts go: `[[hooks]]` entries (webhook, command, kafka, log).
    pub hooks: Vec<alara_alert::HookConfig>,
}

/// Ingest settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Flush when this many rows are buffered (bounds memory).
    pub max_batch_rows: usize,
    /// A record whose timestamps lie more than this many hours after the time of ingest is
    /// rejected (a typo in the year, a `period_end` in 9999).
    pub future_horizon_hours: u32,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_batch_rows: 100_000,
            future_horizon_hours: alara_model::records::DEFAULT_FUTURE_HORIZON.num_hours() as u32,
        }
    }
}

impl IngestConfig {
    /// The validator these settings and `pseudonymizer` call for.
    pub fn validator(&self, pseudonymizer: Option<alara_model::Pseudonymizer>) -> alara_model::Validator {
        alara_model::Validator {
            future_horizon: chrono::TimeDelta::hours(self.future_horizon_hours.into()),
            ..alara_model::Validator::with_pseudonymizer(pseudonymizer)
        }
    }
}

/// Where the pseudonymisation key comes from. The key itself is never in the configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PseudonymConfig {
    /// A file holding the key (used when `ALARA_PSEUDONYM_KEY` is not set).
    pub key_file: Option<PathBuf>,
}

impl Config {
    /// Loads the configuration: the given file (which must exist), else `./alara.toml` if present.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let mut value = toml::Value::try_from(Config::default()).context("serialising defaults")?;
        let file = match path {
            Some(p) => Some(p.to_path_buf()),
            None => Some(PathBuf::from("alara.toml")).filter(|p| p.exists()),
        };
        if let Some(file) = &file {
            let text = std::fs::read_to_string(file)
                .map_err(|e| UsageError(format!("cannot read configuration {}: {e}", file.display())))?;
            let user: toml::Value = toml::from_str(&text)
                .map_err(|e| UsageError(format!("configuration {} is not valid TOML: {e}", file.display())))?;
            merge(&mut value, user);
        }
        let mut vars: Vec<(String, String)> =
            std::env::vars().filter(|(k, _)| k.starts_with("ALARA_") && k.contains("__")).collect();
        vars.sort();
        for (k, v) in vars {
            apply_env(&mut value, &k["ALARA_".len()..], &v)
                .map_err(|e| UsageError(format!("environment variable {k}: {e}")))?;
        }
        let config: Config = value.try_into().map_err(|e| {
            UsageError(format!("configuration{}: {e}", file.map(|f| format!(" {}", f.display())).unwrap_or_default()))
        })?;
        config.limits.validate().map_err(|e| UsageError(format!("configuration [limits]: {e}")))?;
        config.alerts.validate().map_err(|e| UsageError(format!("configuration [alerts]: {e}")))?;
        alara_alert::hook_names(&config.hooks).map_err(|e| UsageError(format!("configuration [[hooks]]: {e}")))?;
        Ok(config)
    }

    /// The lake directory: the flag, else the configuration, else a usage error.
    pub fn lake(&self, flag: Option<&Path>) -> anyhow::Result<PathBuf> {
        flag.map(Path::to_path_buf).or_else(|| self.lake.clone()).ok_or_else(|| {
            UsageError("no lake: give --lake DIR (or set ALARA_LAKE, or `lake` in alara.toml)".into()).into()
        })
    }

    /// The pseudonymisation key from `ALARA_PSEUDONYM_KEY`, `ALARA_PSEUDONYM_KEY_FILE` or
    /// `[pseudonym] key_file`; `None` when none is set.
    pub fn pseudonymizer(&self) -> anyhow::Result<Option<alara_model::Pseudonymizer>> {
        let key = if let Ok(k) = std::env::var("ALARA_PSEUDONYM_KEY") {
            Some(k.into_bytes())
        } else {
            let file = std::env::var_os("ALARA_PSEUDONYM_KEY_FILE")
                .map(PathBuf::from)
                .or_else(|| self.pseudonym.key_file.clone());
            match file {
                Some(f) => {
                    let bytes = std::fs::read(&f).map_err(|e| {
                        UsageError(format!("cannot read pseudonymisation key file {}: {e}", f.display()))
                    })?;
                    let trimmed = String::from_utf8_lossy(&bytes).trim().as_bytes().to_vec();
                    Some(trimmed)
                }
                None => None,
            }
        };
        match key {
            None => Ok(None),
            Some(k) => alara_model::Pseudonymizer::new(k).map(Some).map_err(|e| UsageError(e).into()),
        }
    }
}

fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Applies `SECTION__KEY=value`, matching keys case-insensitively against the known ones.
fn apply_env(value: &mut toml::Value, path: &str, raw: &str) -> Result<(), String> {
    let mut cur = value;
    let parts: Vec<&str> = path.split("__").collect();
    for (i, part) in parts.iter().enumerate() {
        let table = cur.as_table_mut().ok_or_else(|| format!("'{part}' is not a section"))?;
        let key =
            table.keys().find(|k| k.eq_ignore_ascii_case(part)).cloned().unwrap_or_else(|| part.to_ascii_lowercase());
        if i + 1 == parts.len() {
            let parsed = toml::from_str::<toml::Table>(&format!("v = {raw}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or_else(|| toml::Value::String(raw.to_string()));
            table.insert(key, parsed);
            return Ok(());
        }
        cur = table.entry(key).or_insert_with(|| toml::Value::Table(Default::default()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_match_keys_case_insensitively() {
        let mut v = toml::Value::try_from(Config::default()).unwrap();
        apply_env(&mut v, "LIMITS__LIMIT__HP3", "25.5").unwrap();
        let c: Config = v.try_into().unwrap();
        assert_eq!(c.limits.limit.hp3, 25.5);
    }
}
