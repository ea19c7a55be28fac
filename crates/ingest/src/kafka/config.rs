//! The `[kafka]` section of `alara.toml`, and how it becomes a librdkafka configuration.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use alara_model::Kind;
use rdkafka::ClientConfig;
use serde::{Deserialize, Serialize};

use super::Error;

/// Kafka settings of `alara ingest --kafka`.
///
/// ```toml
/// [kafka]
/// brokers = "kafka-1:9093,kafka-2:9093"   # --kafka wins
/// group = "alara-ingest"                   # --group wins
/// latency_ms = 500
/// max_batch_rows = 50000
/// topics = { readings = "dosimetry.readings", workers = "dosimetry.workers", procedures = "dosimetry.procedures" }
///
/// [kafka.properties]                       # passed to librdkafka as they are
/// "security.protocol" = "SASL_SSL"
/// "sasl.mechanism" = "SCRAM-SHA-512"
/// "sasl.username" = "alara"
/// "sasl.password_file" = "/run/secrets/kafka"   # or ALARA_KAFKA_SASL_PASSWORD
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap servers, `host:port,…`.
    pub brokers: Option<String>,
    /// Consumer group: processes of one group share the partitions.
    pub group: String,
    /// Topic of each record kind.
    pub topics: Topics,
    /// A record is durable in the lake at most this long after it arrived (plus write time).
    pub latency_ms: u64,
    /// Flush when this many rows are buffered, whatever the latency; bounds memory.
    pub max_batch_rows: usize,
    /// librdkafka properties (TLS, SASL, timeouts…). Secrets may not appear here: give them in
    /// the environment (`ALARA_KAFKA_SASL_PASSWORD` for `sasl.password`) or name a file holding
    /// them (`"sasl.password_file" = "/run/secrets/kafka"`).
    pub properties: BTreeMap<String, PropertyValue>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: None,
            group: "alara-ingest".into(),
            topics: Topics::default(),
            // Alert hooks must fire within a second of a reading's arrival: the reading waits up
            // to this long for its flush, then the flush's commits and the alert's own commit
            // follow (measured p99 at 5,000 readings/s: 1.27 s with 1000 ms, see README).
            latency_ms: 500,
            max_batch_rows: 50_000,
            properties: BTreeMap::new(),
        }
    }
}

/// Topic names of the three record kinds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Topics {
    /// Readings topic.
    pub readings: String,
    /// Workers topic.
    pub workers: String,
    /// Procedures topic.
    pub procedures: String,
}

impl Default for Topics {
    fn default() -> Self {
        Topics {
            readings: "dosimetry.readings".into(),
            workers: "dosimetry.workers".into(),
            procedures: "dosimetry.procedures".into(),
        }
    }
}

impl Topics {
    /// The kind carried by a topic.
    pub fn kind(&self, topic: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| self.name(*k) == topic)
    }

    /// The topic of a kind.
    pub fn name(&self, kind: Kind) -> &str {
        match kind {
            Kind::Readings => &self.readings,
            Kind::Workers => &self.workers,
            Kind::Procedures => &self.procedures,
        }
    }

    /// Every topic, readings first.
    pub fn all(&self) -> [&str; 3] {
        [&self.readings, &self.workers, &self.procedures]
    }
}

/// A property value as written in TOML (librdkafka takes them all as strings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PropertyValue {
    /// `"SASL_SSL"`
    String(String),
    /// `6000`
    Integer(i64),
    /// `0.5`
    Float(f64),
    /// `true`
    Bool(bool),
}

impl std::fmt::Display for PropertyValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PropertyValue::String(s) => f.write_str(s),
            PropertyValue::Integer(i) => write!(f, "{i}"),
            PropertyValue::Float(x) => write!(f, "{x}"),
            PropertyValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// Properties that hold secrets: never in the file, only from `ALARA_KAFKA_<NAME>` (upper case,
/// dots as underscores) or from a file named by `<name>_file`.
pub const SECRET_PROPERTIES: [&str; 5] =
    ["sasl.password", "ssl.key.password", "ssl.keystore.password", "sasl.oauthbearer.client.secret", "ssl.key.pem"];

/// Properties alara sets itself because its guarantees depend on them.
const FIXED: [(&str, &str); 2] = [
    // Offsets are committed by alara, only once the lake holds the records.
    ("enable.auto.commit", "false"),
    ("enable.auto.offset.store", "false"),
];

/// Defaults that a property of the configuration may override.
const DEFAULTS: [(&str, &str); 8] = [
    // A partition the lake has never seen is read from its beginning.
    ("auto.offset.reset", "earliest"),
    // Bounded pre-fetch: at most 32 MiB queued locally, 1 MiB per partition per fetch. The
    // kilobytes bound memory; the message count stays librdkafka's default, for a lower one
    // starves the consumer after each flush: with 20,000 and 16 MiB, 661 k readings took 26 s at
    // 53 % of a core, with 100,000 and 32 MiB 13 s at 98 % (+52 MiB peak; release, 2 cores).
    ("queued.max.messages.kbytes", "32768"),
    ("queued.min.messages", "100000"),
    ("fetch.message.max.bytes", "1048576"),
    ("fetch.max.bytes", "16777216"),
    // Per-partition watermarks and lag (progress, metrics, --until-idle).
    ("statistics.interval.ms", "1000"),
    ("client.id", "alara-ingest"),
    // A process that died is replaced within this time (the broker's minimum is 6 s).
    ("session.timeout.ms", "30000"),
];

/// The environment variable holding a secret property: `sasl.password` → `ALARA_KAFKA_SASL_PASSWORD`.
pub fn secret_env_var(property: &str) -> String {
    format!("ALARA_KAFKA_{}", property.to_ascii_uppercase().replace(['.', '-'], "_"))
}

impl KafkaConfig {
    /// The latency bound.
    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms)
    }

    /// Checks values that librdkafka does not check.
    pub fn validate(&self) -> Result<(), Error> {
        if self.max_batch_rows == 0 {
            return Err(Error::Config("[kafka] max_batch_rows must be at least 1".into()));
        }
        if self.group.trim().is_empty() {
            return Err(Error::Config("[kafka] group must not be empty".into()));
        }
        let t = self.topics.all();
        if t.iter().any(|n| n.trim().is_empty()) {
            return Err(Error::Config("[kafka.topics] names must not be empty".into()));
        }
        if t[0] == t[1] || t[0] == t[2] || t[1] == t[2] {
            return Err(Error::Config(format!(
                "[kafka.topics] each kind needs its own topic (readings = {}, workers = {}, procedures = {})",
                t[0], t[1], t[2]
            )));
        }
        Ok(())
    }

    /// The librdkafka configuration: alara's defaults, then `properties`, then secrets from the
    /// environment (`env`) or files, then the settings alara depends on.
    pub fn client_config(
        &self,
        brokers: &str,
        group: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ClientConfig, Error> {
        self.validate()?;
        let mut c = ClientConfig::new();
        for (k, v) in DEFAULTS {
            c.set(k, v);
        }
        for (k, v) in &self.properties {
            if SECRET_PROPERTIES.contains(&k.as_str()) {
                return Err(Error::Config(format!(
                    "[kafka.properties] '{k}' is a secret and may not be written in the configuration: set {} \
                     or name a file holding it with \"{k}_file\"",
                    secret_env_var(k)
                )));
            }
            if let Some(fixed) = FIXED.iter().find(|(f, _)| f == k) {
                if v.to_string() != fixed.1 {
                    return Err(Error::Config(format!(
                        "[kafka.properties] '{k}' must stay {} (alara commits offsets itself, after the lake write)",
                        fixed.1
                    )));
                }
                continue;
            }
            if let Some(target) = k.strip_suffix("_file") {
                if !SECRET_PROPERTIES.contains(&target) {
                    return Err(Error::Config(format!(
                        "[kafka.properties] '{k}': only secrets are read from files ({})",
                        SECRET_PROPERTIES.map(|s| format!("{s}_file")).join(", ")
                    )));
                }
                let path = PathBuf::from(v.to_string());
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    Error::Config(format!("[kafka.properties] '{k}': cannot read {}: {e}", path.display()))
                })?;
                c.set(target, text.trim_end_matches(['\n', '\r']));
                continue;
            }
            if k == "bootstrap.servers" || k == "group.id" {
                return Err(Error::Config(format!(
                    "[kafka.properties] '{k}': use [kafka] brokers / group (or --kafka / --group)"
                )));
            }
            c.set(k, v.to_string());
        }
        for secret in SECRET_PROPERTIES {
            if let Some(value) = env(&secret_env_var(secret)) {
                c.set(secret, value);
            }
        }
        for (k, v) in FIXED {
            c.set(k, v);
        }
        c.set("bootstrap.servers", brokers);
        c.set("group.id", group);
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_then_properties_then_fixed_settings() {
        let mut k = KafkaConfig::default();
        k.properties.insert("session.timeout.ms".into(), PropertyValue::Integer(6000));
        k.properties.insert("security.protocol".into(), PropertyValue::String("SASL_SSL".into()));
        let c = k.client_config("b:1", "g", &no_env).unwrap();
        assert_eq!(c.get("session.timeout.ms"), Some("6000"));
        assert_eq!(c.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(c.get("enable.auto.commit"), Some("false"));
        assert_eq!(c.get("queued.max.messages.kbytes"), Some("32768"));
        assert_eq!(c.get("bootstrap.servers"), Some("b:1"));
        assert_eq!(c.get("group.id"), Some("g"));
    }

    #[test]
    fn secrets_come_from_the_environment_or_a_file_never_the_configuration() {
        let mut k = KafkaConfig::default();
        k.properties.insert("sasl.password".into(), PropertyValue::String("hunter2".into()));
        let err = k.client_config("b", "g", &no_env).unwrap_err().to_string();
        assert!(err.contains("ALARA_KAFKA_SASL_PASSWORD") && !err.contains("hunter2"), "{err}");

        let k = KafkaConfig::default();
        let env = |name: &str| (name == "ALARA_KAFKA_SASL_PASSWORD").then(|| "s3cret".to_string());
        assert_eq!(k.client_config("b", "g", &env).unwrap().get("sasl.password"), Some("s3cret"));

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "from-file\n").unwrap();
        let mut k = KafkaConfig::default();
        k.properties.insert("sasl.password_file".into(), PropertyValue::String(file.display().to_string()));
        assert_eq!(k.client_config("b", "g", &no_env).unwrap().get("sasl.password"), Some("from-file"));
    }

    #[test]
    fn settings_alara_relies_on_cannot_be_turned_off() {
        let mut k = KafkaConfig::default();
        k.properties.insert("enable.auto.commit".into(), PropertyValue::Bool(true));
        assert!(k.client_config("b", "g", &no_env).unwrap_err().to_string().contains("must stay false"));
        let mut k = KafkaConfig::default();
        k.topics.workers = k.topics.readings.clone();
        assert!(k.client_config("b", "g", &no_env).is_err());
    }

    #[test]
    fn topics_map_to_kinds() {
        let t = Topics::default();
        assert_eq!(t.kind("dosimetry.workers"), Some(Kind::Workers));
        assert_eq!(t.kind("other"), None);
        assert_eq!(secret_env_var("ssl.key.password"), "ALARA_KAFKA_SSL_KEY_PASSWORD");
    }
}
