//! Transports: where alerts go, apart from the rules that raise them. Each hook kind (webhook,
//! command, Kafka, log) implements [`Notifier`], one blocking attempt at a time; retries,
//! backoff, grouping and ordering are the delivery worker's ([`deliver`]). The engine hands a
//! transport only [`Alert`]s that are already in the outbox; a transport never sees the lake's
//! readings or the rules' state.

pub mod alertmanager;
mod command;
pub mod deliver;
mod kafka;
mod log;
mod webhook;

use alara_model::Quantity;

pub use alertmanager::AlertmanagerNotifier;
pub use command::CommandNotifier;
pub use kafka::KafkaNotifier;
pub use log::LogNotifier;
pub use webhook::{SIGNATURE_HEADER, WebhookNotifier, sign};

use crate::alert::{Alert, Delivery, Level};
use crate::config::{HookConfig, HookKind};
use crate::{Error, Result};

/// The HTTP client of the hooks that POST (webhook, Alertmanager): `url` must be http(s); TLS
/// through the system's OpenSSL, verified against the system's trusted roots; one timeout for
/// the whole request. A receiver's status is the caller's success criterion, not an error.
pub(crate) fn http_agent(kind: &str, url: &str, timeout: std::time::Duration) -> Result<ureq::Agent> {
    use ureq::tls::{RootCerts, TlsConfig, TlsProvider};
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(Error::Config(format!("{kind} url '{url}' must start with https:// or http://")));
    }
    let tls = TlsConfig::builder().provider(TlsProvider::NativeTls).root_certs(RootCerts::PlatformVerifier).build();
    let config =
        ureq::Agent::config_builder().timeout_global(Some(timeout)).tls_config(tls).http_status_as_error(false).build();
    Ok(config.into())
}

/// Something that takes deliveries.
pub trait Notifier: Send {
    /// One attempt to deliver. `body` is `delivery` as JSON. An error says, in words, why it
    /// was not taken; the caller retries.
    fn send(&mut self, delivery: &Delivery<'_>, body: &[u8]) -> std::result::Result<(), String>;
}

/// Which alerts a hook wants.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    levels: Vec<Level>,
    quantities: Vec<Quantity>,
    departments: Vec<String>,
}

impl Filter {
    /// The filter of a hook's configuration.
    pub fn of(config: &HookConfig) -> Filter {
        Filter {
            levels: config.levels.clone(),
            quantities: config.quantities.clone(),
            departments: config.departments.clone(),
        }
    }

    /// Whether the hook wants this alert (an empty list accepts everything).
    pub fn accepts(&self, a: &Alert) -> bool {
        (self.levels.is_empty() || self.levels.contains(&a.level))
            && (self.quantities.is_empty() || self.quantities.contains(&a.quantity))
            && (self.departments.is_empty() || self.departments.iter().any(|d| d == &a.department))
    }
}

fn missing(name: &str, kind: HookKind, field: &str, example: &str) -> Error {
    Error::Config(format!("hook '{name}' ({}) needs `{field}`, e.g. {field} = {example}", kind.as_str()))
}

/// Builds the notifier of a configured hook, reading its secret. Errors are configuration
/// errors a person fixes in `alara.toml` or the environment.
pub fn build(name: &str, config: &HookConfig) -> Result<Box<dyn Notifier>> {
    let timeout = std::time::Duration::from_millis(config.timeout_ms.unwrap_or(match config.kind {
        HookKind::Command => 30_000,
        _ => 5_000,
    }));
    Ok(match config.kind {
        HookKind::Webhook => {
            let url = config
                .url
                .as_deref()
                .ok_or_else(|| missing(name, config.kind, "url", "\"https://rpa.example.org/alara\""))?;
            let secret = webhook_secret(name, config)?;
            Box::new(WebhookNotifier::new(url, secret, timeout)?)
        }
        HookKind::Command => {
            let program = config
                .program
                .as_deref()
                .ok_or_else(|| missing(name, config.kind, "program", "\"/usr/local/bin/page-rpa\""))?;
            Box::new(CommandNotifier::new(program, &config.args, timeout))
        }
        HookKind::Kafka => {
            let brokers =
                config.brokers.clone().or_else(|| std::env::var("ALARA_KAFKA_BROKERS").ok()).ok_or_else(|| {
                    missing(name, config.kind, "brokers", "\"kafka1:9092\" (or set ALARA_KAFKA_BROKERS)")
                })?;
            let topic = config.topic.as_deref().unwrap_or(crate::config::DEFAULT_ALERT_TOPIC);
            let mut properties = config.properties.clone();
            for (key, var) in &config.secret_properties_env {
                let value = std::env::var(var).map_err(|_| {
                    Error::Config(format!("hook '{name}': property {key} comes from ${var}, which is not set"))
                })?;
                properties.insert(key.clone(), value);
            }
            Box::new(KafkaNotifier::new(&brokers, topic, &properties, timeout)?)
        }
        HookKind::Alertmanager => {
            let url =
                config.url.as_deref().ok_or_else(|| missing(name, config.kind, "url", "\"http://127.0.0.1:9093\""))?;
            Box::new(AlertmanagerNotifier::new(url, timeout)?)
        }
        HookKind::Log => {
            let path = config
                .path
                .as_deref()
                .ok_or_else(|| missing(name, config.kind, "path", "\"/var/log/alara/alerts.jsonl\""))?;
            Box::new(LogNotifier::new(path))
        }
    })
}

fn webhook_secret(name: &str, config: &HookConfig) -> Result<Vec<u8>> {
    if let Some(var) = &config.secret_env {
        let v = std::env::var(var).map_err(|_| {
            Error::Config(format!("hook '{name}': the webhook secret comes from ${var}, which is not set"))
        })?;
        if v.is_empty() {
            return Err(Error::Config(format!("hook '{name}': ${var} is empty")));
        }
        return Ok(v.into_bytes());
    }
    if let Some(file) = &config.secret_file {
        let text = std::fs::read_to_string(file).map_err(|e| {
            Error::Config(format!("hook '{name}': cannot read the webhook secret file {}: {e}", file.display()))
        })?;
        let secret = text.trim();
        if secret.is_empty() {
            return Err(Error::Config(format!("hook '{name}': the secret file {} is empty", file.display())));
        }
        return Ok(secret.as_bytes().to_vec());
    }
    Err(Error::Config(format!(
        "hook '{name}' (webhook) signs every body with HMAC-SHA256 and needs a secret: set secret_env = \"VAR\" \
         (the secret in that environment variable) or secret_file = \"/path\"; never the secret itself"
    )))
}
