//! The consumer loop.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alara_model::BatchSink;
use rdkafka::ClientConfig;
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use tokio::time::Instant;

use super::context::{Ctx, commit, lock};
use super::metrics::Metrics;
use super::progress::Progress;
use super::stall;
use super::state::State;
use super::{Error, OffsetLog, TopicPartition, Topics};
use crate::{Core, Counts};

/// How often the loop checks for idleness and redraws progress.
const TICK: Duration = Duration::from_millis(250);

/// How to run the Kafka source.
pub struct Options {
    /// The librdkafka configuration, from [`super::KafkaConfig::client_config`].
    pub client: ClientConfig,
    /// The topics to subscribe to.
    pub topics: Topics,
    /// The consumer group (recorded in the footer of each file).
    pub group: String,
    /// Flush at most this long after the oldest buffered message arrived.
    pub latency: Duration,
    /// Flush when this many rows are buffered.
    pub max_batch_rows: usize,
    /// Stop once every assigned partition is read to its end and durable.
    pub until_idle: bool,
    /// Flush names start with this (the lake recognises Kafka flushes by it).
    pub flush_prefix: String,
    /// Draw a progress line on stderr.
    pub progress: bool,
}

/// Why the loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// `--until-idle`: every assigned partition was caught up.
    Idle,
    /// Shutdown was requested (SIGINT, SIGTERM).
    Shutdown,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Records accepted and rejected (all durable).
    pub counts: Counts,
    /// Flushes written.
    pub flushes: u64,
    /// Why it stopped.
    pub stop: StopReason,
}

/// Consumes the topics into `core`'s sink until `shutdown` resolves or, with
/// [`Options::until_idle`], until caught up. The batch in hand is flushed, marked and committed
/// before returning.
pub async fn run<S>(
    options: Options,
    core: Core<S>,
    log: Box<dyn OffsetLog>,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) -> Result<Summary, Error>
where
    S: BatchSink + Send + 'static,
{
    let state = Arc::new(Mutex::new(State::new(
        core,
        log,
        options.topics.clone(),
        options.group.clone(),
        options.flush_prefix.clone(),
        options.max_batch_rows,
        metrics.clone(),
    )));
    let ctx = Ctx { state: state.clone(), metrics: metrics.clone() };
    let consumer: StreamConsumer<Ctx<S>> = options.client.create_with_context(ctx).map_err(Error::Client)?;
    consumer.subscribe(&options.topics.all()).map_err(Error::Client)?;
    tracing::info!(topics = ?options.topics.all(), group = %options.group, "subscribed");
    if options.until_idle && !any_topic_exists(&consumer, &options.topics) {
        tracing::warn!(topics = ?options.topics.all(), "none of the topics exists: nothing to ingest");
        let state = lock(&state);
        return Ok(Summary { counts: state.core.counts(), flushes: 0, stop: StopReason::Idle });
    }

    let stop = consume(&options, &consumer, &state, &metrics, shutdown).await;
    // Whatever stopped the loop, make what was received durable before leaving (unless the lake
    // itself is what failed).
    let flushed = match &stop {
        Err(Error::Core(_) | Error::OffsetLog { .. }) => Ok(Vec::new()),
        _ => lock(&state).flush(),
    };
    let stop = stop?;
    commit(&consumer, &flushed?, &metrics);
    // Leaves the group: the revoke callback runs here, with an empty buffer. Outstanding
    // commits are sent first.
    drop(consumer);
    let state = lock(&state);
    if let Some(e) = &state.fatal {
        tracing::error!(cause = %e, "while leaving the group");
    }
    Ok(Summary { counts: state.core.counts(), flushes: state.flushes(), stop })
}

async fn consume<S>(
    options: &Options,
    consumer: &StreamConsumer<Ctx<S>>,
    state: &Mutex<State<S>>,
    metrics: &Metrics,
    shutdown: impl Future<Output = ()>,
) -> Result<StopReason, Error>
where
    S: BatchSink + Send + 'static,
{
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut progress = Progress::new(options.progress);
    let mut last_error: Option<String> = None;
    let result = loop {
        let deadline = lock(state).flush_deadline(options.latency).map(Instant::from_std);
        // Order matters only under load: shutdown, then the latency deadline and the tick, get
        // their turn before the next message.
        tokio::select! {
            biased;
            _ = &mut shutdown => break Ok(StopReason::Shutdown),
            _ = sleep_until(deadline) => {
                let commits = lock(state).flush()?;
                commit(consumer, &commits, metrics);
                reseek(consumer, state);
            }
            _ = tick.tick() => {
                let positions = consumer.position().ok();
                let quiet = {
                    let mut s = lock(state);
                    for e in positions.iter().flat_map(|p| p.elements()) {
                        if let rdkafka::Offset::Offset(o) = e.offset() {
                            s.position(&TopicPartition::new(e.topic(), e.partition()), o);
                        }
                    }
                    progress.tick(&metrics.snapshot(), s.buffered());
                    stall::due(&mut s.assigned, std::time::Instant::now(), stall::QUIET)
                };
                stall::unstick(consumer, &quiet, metrics);
                let mut s = lock(state);
                if options.until_idle && s.caught_up() {
                    let commits = s.flush()?;
                    drop(s);
                    commit(consumer, &commits, metrics);
                    if reseek(consumer, state) {
                        // Another writer was ahead: not idle yet, read on from the lake's position.
                        continue;
                    }
                    break Ok(StopReason::Idle);
                }
            }
            m = consumer.recv() => match m {
                Ok(msg) => {
                    let mut s = lock(state);
                    s.push(msg.topic(), msg.partition(), msg.offset(), msg.payload(), chrono::Utc::now())?;
                    if s.full() {
                        let commits = s.flush()?;
                        drop(s);
                        commit(consumer, &commits, metrics);
                        reseek(consumer, state);
                    }
                    last_error = None;
                }
                // Only with `enable.partition.eof`; the statistics say where partitions end.
                Err(KafkaError::PartitionEOF(_)) => {}
                Err(e) => {
                    metrics.consumer_error();
                    let text = e.to_string();
                    if last_error.as_deref() != Some(text.as_str()) {
                        tracing::warn!(cause = %text, "Kafka consumer error; retrying");
                        last_error = Some(text);
                    }
                }
            },
        }
        if let Some(e) = lock(state).fatal.take() {
            break Err(e);
        }
    };
    progress.finish();
    result
}

/// Seeks the partitions of a flush that another writer superseded to the lake's positions.
/// Returns whether there were any.
fn reseek<S: BatchSink, C: rdkafka::consumer::ConsumerContext + 'static>(
    consumer: &StreamConsumer<C>,
    state: &Mutex<State<S>>,
) -> bool {
    let seeks = lock(state).take_reseek();
    for (tp, offset) in &seeks {
        tracing::info!(topic = %tp.topic, partition = tp.partition, offset, "re-seeking to the lake's position");
        if let Err(e) =
            consumer.seek(&tp.topic, tp.partition, rdkafka::Offset::Offset(*offset), Duration::from_secs(10))
        {
            // The partition may have been revoked meanwhile; its next owner starts from the lake.
            tracing::warn!(topic = %tp.topic, partition = tp.partition, cause = %e, "seek failed");
        }
    }
    !seeks.is_empty()
}

/// Whether the cluster knows at least one of the topics. Without any, no partition will ever be
/// assigned, so `--until-idle` has nothing to wait for. When the cluster cannot be asked (broker
/// down), assume yes and wait.
fn any_topic_exists<C: rdkafka::consumer::ConsumerContext + 'static>(
    consumer: &StreamConsumer<C>,
    topics: &Topics,
) -> bool {
    // A blocking metadata request, once at start-up.
    match consumer.fetch_metadata(None, Duration::from_secs(10)) {
        Ok(md) => md.topics().iter().any(|t| topics.kind(t.name()).is_some()),
        Err(e) => {
            tracing::debug!(cause = %e, "cannot list topics yet");
            true
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
