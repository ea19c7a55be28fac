//! The progress line on a terminal: records per second, what is durable, lag per partition.

use std::io::Write;
use std::time::Instant;

use super::metrics::Snapshot;

/// Redraws one stderr line at most once per second, only when stderr is a terminal.
pub(crate) struct Progress {
    enabled: bool,
    last: Instant,
    last_received: u64,
    drawn: bool,
}

impl Progress {
    pub fn new(enabled: bool) -> Self {
        Progress { enabled, last: Instant::now(), last_received: 0, drawn: false }
    }

    /// Redraws the line if a second has passed.
    pub fn tick(&mut self, s: &Snapshot, buffered: usize) {
        if !self.enabled {
            return;
        }
        let elapsed = self.last.elapsed().as_secs_f64();
        if elapsed < 1.0 {
            return;
        }
        let rate = (s.received.saturating_sub(self.last_received)) as f64 / elapsed;
        self.last = Instant::now();
        self.last_received = s.received;
        let line = line(s, buffered, rate);
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[K{line}");
        let _ = err.flush();
        self.drawn = true;
    }

    /// Ends the line so that what follows starts on its own.
    pub fn finish(&mut self) {
        if self.drawn {
            eprintln!();
            self.drawn = false;
        }
    }
}

/// The text of the progress line.
pub(crate) fn line(s: &Snapshot, buffered: usize, rate: f64) -> String {
    let total_lag: i64 = s.lag.values().sum();
    let mut text = format!(
        "{rate:>8.0} rec/s  {} durable  {} rejected  {buffered} buffered  lag {total_lag}",
        s.durable_accepted, s.durable_rejected
    );
    if s.lag.len() <= 6 {
        let parts: Vec<String> = s.lag.iter().map(|(tp, l)| format!("{}/{}={l}", tp.topic, tp.partition)).collect();
        if !parts.is_empty() {
            text.push_str(&format!(" ({})", parts.join(" ")));
        }
    } else if let Some((tp, l)) = s.lag.iter().max_by_key(|(_, l)| **l) {
        text.push_str(&format!(" (max {}/{}={l})", tp.topic, tp.partition));
    }
    if s.consumer_errors > 0 {
        text.push_str(&format!("  {} Kafka errors", s.consumer_errors));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::TopicPartition;

    #[test]
    fn the_line_shows_rate_counts_and_lag() {
        let mut s = Snapshot { received: 10, durable_accepted: 8, durable_rejected: 1, ..Snapshot::default() };
        s.lag.insert(TopicPartition::new("r", 0), 5);
        s.lag.insert(TopicPartition::new("r", 1), 0);
        let l = line(&s, 1, 123.4);
        assert_eq!(l, "     123 rec/s  8 durable  1 rejected  1 buffered  lag 5 (r/0=5 r/1=0)");
    }
}
