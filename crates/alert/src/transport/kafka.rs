//! `kafka`: produces the JSON delivery to a topic (default `dosimetry.alerts`), keyed by worker
//! so one worker's alerts stay in one partition, in order. Success is the broker's
//! acknowledgement (`acks=all`); the producer is idempotent so librdkafka's own retries never
//! duplicate a message.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::Notifier;
use crate::alert::Delivery;
use crate::{Error, Result};

/// Produces deliveries to a topic.
pub struct KafkaNotifier {
    producer: FutureProducer,
    topic: String,
    timeout: Duration,
    runtime: tokio::runtime::Runtime,
}

impl KafkaNotifier {
    /// A producer to `brokers`, with extra librdkafka `properties`.
    pub fn new(
        brokers: &str,
        topic: &str,
        properties: &BTreeMap<String, String>,
        timeout: Duration,
    ) -> Result<KafkaNotifier> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", brokers)
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("message.timeout.ms", timeout.as_millis().max(1).to_string());
        for (k, v) in properties {
            config.set(k, v);
        }
        let producer: FutureProducer =
            config.create().map_err(|e| Error::Config(format!("kafka hook producer for {brokers}: {e}")))?;
        // The delivery future is awaited on the hook's own thread.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Config(format!("kafka hook runtime: {e}")))?;
        Ok(KafkaNotifier { producer, topic: topic.to_string(), timeout, runtime })
    }
}

impl Notifier for KafkaNotifier {
    fn send(&mut self, delivery: &Delivery<'_>, body: &[u8]) -> std::result::Result<(), String> {
        let head = delivery.head;
        let headers = OwnedHeaders::new()
            .insert(Header { key: "alert_id", value: Some(head.alert_id.as_str()) })
            .insert(Header { key: "level", value: Some(head.level.as_str()) });
        let record = FutureRecord::to(&self.topic).key(head.worker_id.as_str()).payload(body).headers(headers);
        let sent = self.runtime.block_on(self.producer.send(record, self.timeout));
        match sent {
            Ok(_) => Ok(()),
            Err((e, _)) => Err(format!("producing to {}: {e}", self.topic)),
        }
    }
}
