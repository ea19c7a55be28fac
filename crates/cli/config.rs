//! `alara.toml`, layered once with figment: defaults → the file → `ALARA_<SECTION>__<KEY>`
//! environment variables. Command-line flags then win over all three, in each command.
//!
//! Secrets never live here: the pseudonymisation key, webhook secrets and SASL passwords come
//! from the environment or from files named here.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
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
    /// Where the pseudonymisation key comes from (never the key itself).
    pub pseudonym: PseudonymConfig,
    /// Kafka source (`alara ingest --kafka`).
    pub kafka: alara_ingest::kafka::KafkaConfig,
    /// Alert delivery and the operational alarm level.
    pub alerts: alara_alert::AlertsConfig,
    /// Where alerts go: `[[hooks]]` entries (webhook, command, kafka, log).
    pub hooks: Vec<alara_alert::HookConfig>,
    /// `alara serve`: users file, reports directory.
    pub serve: alara_serve::ServeConfig,
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
    /// Loads the configuration: the given file (which must exist), else `./alara.toml` if present,
    /// over the defaults, under `ALARA_<SECTION>__<KEY>` environment variables.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let file = match path {
            Some(p) => {
                if !p.is_file() {
                    return Err(UsageError(format!("cannot read configuration {}: no such file", p.display())).into());
                }
                Some(p.to_path_buf())
            }
            None => Some(PathBuf::from("alara.toml")).filter(|p| p.exists()),
        };
        let config: Config = Self::figment(file.as_deref()).extract().map_err(|e| {
            UsageError(format!("configuration{}: {e}", file.map(|f| format!(" {}", f.display())).unwrap_or_default()))
        })?;
        config.limits.validate().map_err(|e| UsageError(format!("configuration [limits]: {e}")))?;
        config.alerts.validate().map_err(|e| UsageError(format!("configuration [alerts]: {e}")))?;
        alara_alert::hook_names(&config.hooks).map_err(|e| UsageError(format!("configuration [[hooks]]: {e}")))?;
        Ok(config)
    }

    /// The layers, lowest first: defaults, the file, then environment variables. Only variables
    /// with a `__` are configuration (`ALARA_LIMITS__LIMIT__HP3=25`): `ALARA_LAKE`, the
    /// pseudonymisation key and the secrets are read where they are used. Keys match
    /// case-insensitively.
    fn figment(file: Option<&Path>) -> Figment {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            // `file_exact`: a relative path is not searched for in parent directories.
            figment = figment.merge(Toml::file_exact(file));
        }
        figment.merge(
            Env::prefixed("ALARA_")
                .filter(|key| key.as_str().contains("__"))
                .split("__")
                .map(|key| {
                    // Keys are lower-cased here rather than by figment, because the quantities are
                    // spelled `Hp10`, `Hp3`, `Hp007` in the file and their keys keep that spelling.
                    let parts: Vec<String> = key
                        .as_str()
                        .split('.')
                        .map(|part| match part.parse::<alara_model::Quantity>() {
                            Ok(q) => q.as_str().to_string(),
                            Err(_) => part.to_ascii_lowercase(),
                        })
                        .collect();
                    parts.join(".").into()
                })
                .lowercase(false),
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    // Jail's closures return figment's own (large) error type.
    #[allow(clippy::result_large_err)]
    #[test]
    fn env_overrides_match_keys_case_insensitively() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("ALARA_LIMITS__LIMIT__HP3", "25.5");
            jail.set_env("ALARA_INGEST__MAX_BATCH_ROWS", "100");
            // Not configuration: no `__`.
            jail.set_env("ALARA_PSEUDONYM_KEY", "0123456789abcdef");
            let c: Config = Config::figment(None).extract()?;
            assert_eq!(c.limits.limits.limit.hp3, 25.5);
            assert_eq!(c.ingest.max_batch_rows, 100);
            Ok(())
        });
    }

    #[allow(clippy::result_large_err)]
    #[test]
    fn the_file_sits_between_defaults_and_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("alara.toml", "[limits]\nesr_fraction = 0.3\n[limits.limit]\nHp10 = 18.0\n")?;
            jail.set_env("ALARA_LIMITS__ESR_FRACTION", "0.2");
            let c: Config = Config::figment(Some(Path::new("alara.toml"))).extract()?;
            assert_eq!(c.limits.limits.limit.hp10, 18.0);
            assert_eq!(c.limits.limits.limit.hp3, 20.0, "a partial table keeps the other defaults");
            assert_eq!(c.limits.limits.esr_fraction, 0.2);
            Ok(())
        });
    }
}
