//! A watchdog for partitions that stop delivering although messages wait in them.
//!
//! librdkafka resumes fetching by itself after a broker restart or a leader change, but partitions
//! that stay silent afterwards are reported upstream (librdkafka #4492 and #5153, rust-rdkafka
//! #597: a fetcher left waiting in some state after a reconnect), and one end-to-end run here
//! stood still after a broker restart on a loaded machine, with every message acknowledged by the
//! broker. Nothing in the stream says so: the consumer simply receives nothing. So when an
//! assigned partition has received nothing for [`QUIET`], the loop asks the broker for its high
//! watermark; if messages lie beyond what this process received, the partition is seeked to its
//! next offset (which restarts librdkafka's fetcher for it), and the stall is logged and counted.
//! A partition that is merely idle costs one ListOffsets request per [`QUIET`].

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{Consumer, ConsumerContext, StreamConsumer};
use rdkafka::topic_partition_list::Offset;

use super::TopicPartition;
use super::metrics::Metrics;
use super::state::Assigned;

/// How long an assigned partition may receive nothing before the broker is asked whether
/// messages wait in it.
pub(crate) const QUIET: Duration = Duration::from_secs(30);

/// How long the watermark request and the seek may block the loop (only while partitions are
/// quiet, so nothing else is waiting for the loop).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A partition to check: where this process would read next, as far as it knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Quiet {
    pub tp: TopicPartition,
    /// The next offset for the lake (`None`: nothing received yet, read from the beginning).
    pub next: Option<i64>,
    /// The consumer's own position, which also moves past transaction markers.
    pub position: Option<i64>,
}

/// The partitions that received nothing for `quiet` as of `now`. Their quiet clock restarts, so
/// each is checked once per period.
pub(crate) fn due(assigned: &mut BTreeMap<TopicPartition, Assigned>, now: Instant, quiet: Duration) -> Vec<Quiet> {
    let mut out = Vec::new();
    for (tp, a) in assigned.iter_mut() {
        let since = *a.quiet_since.get_or_insert(now);
        if now.saturating_duration_since(since) >= quiet {
            a.quiet_since = Some(now);
            out.push(Quiet { tp: tp.clone(), next: a.next, position: a.position });
        }
    }
    out
}

/// Where the partition would be read from next, given the log's first offset.
fn at(q: &Quiet, low: i64) -> i64 {
    q.next.unwrap_or(low).max(q.position.unwrap_or(-1)).max(low)
}

/// Whether messages wait beyond what was received, given the partition's watermarks.
pub(crate) fn waiting(q: &Quiet, low: i64, high: i64) -> bool {
    high > at(q, low)
}

/// Asks the broker about each quiet partition and re-positions those with messages waiting.
pub(crate) fn unstick<C: ConsumerContext + 'static>(consumer: &StreamConsumer<C>, quiet: &[Quiet], metrics: &Metrics) {
    for q in quiet {
        let (low, high) = match consumer.fetch_watermarks(&q.tp.topic, q.tp.partition, REQUEST_TIMEOUT) {
            Ok(w) => w,
            // The broker is away: librdkafka reports that itself and reconnects.
            Err(e) => {
                tracing::debug!(partition = %q.tp, cause = %e, "quiet partition: watermarks unavailable");
                continue;
            }
        };
        if !waiting(q, low, high) {
            continue;
        }
        let offset = q.next.map(Offset::Offset).unwrap_or(Offset::Beginning);
        tracing::warn!(
            partition = %q.tp,
            next = ?q.next,
            high_watermark = high,
            quiet_secs = QUIET.as_secs(),
            "partition stalled: messages wait in it but none arrived; re-positioning its fetcher"
        );
        metrics.consumer_error();
        if let Err(e) = consumer.seek(&q.tp.topic, q.tp.partition, offset, REQUEST_TIMEOUT) {
            tracing::warn!(partition = %q.tp, cause = %e, "seek of a stalled partition failed; retrying in {QUIET:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("t", p)
    }

    #[test]
    fn a_partition_is_checked_once_per_quiet_period() {
        let t0 = Instant::now();
        let mut assigned = BTreeMap::new();
        assigned.insert(tp(0), Assigned { next: Some(7), ..Assigned::default() });
        assigned.insert(tp(1), Assigned { next: Some(3), quiet_since: Some(t0), ..Assigned::default() });
        let q = Duration::from_secs(30);
        // Partition 0's clock starts at its first look; partition 1 has been quiet since t0.
        assert!(due(&mut assigned, t0 + Duration::from_secs(29), q).is_empty());
        let d = due(&mut assigned, t0 + Duration::from_secs(30), q);
        assert_eq!(d, vec![Quiet { tp: tp(1), next: Some(3), position: None }]);
        assert!(due(&mut assigned, t0 + Duration::from_secs(40), q).is_empty(), "its clock restarted");
        let d = due(&mut assigned, t0 + Duration::from_secs(59), q);
        assert_eq!(
            d.iter().map(|q| q.tp.partition).collect::<Vec<_>>(),
            vec![0],
            "partition 0, 30 s after its first look"
        );
    }

    #[test]
    fn messages_wait_only_beyond_both_the_lake_position_and_the_consumer_position() {
        let q = |next, position| Quiet { tp: tp(0), next, position };
        assert!(waiting(&q(Some(10), Some(10)), 0, 15));
        assert!(!waiting(&q(Some(10), Some(10)), 0, 10), "idle: caught up");
        // A trailing transaction marker: the consumer moved past it, the lake position did not.
        assert!(!waiting(&q(Some(10), Some(11)), 0, 11));
        // Nothing received yet: from the log's first offset.
        assert!(waiting(&q(None, None), 4, 9));
        assert!(!waiting(&q(None, None), 9, 9), "an empty partition");
        // Retention deleted what the lake expected next: what is left still waits.
        assert!(waiting(&q(Some(2), None), 5, 9));
    }
}
