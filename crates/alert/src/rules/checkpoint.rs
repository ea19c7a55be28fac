//! A checkpoint of the rules' state, so that an ingest process starts from it and the commits
//! after it instead of replaying the whole lake.
//!
//! The state is the legal results and worker versions held (workers × months, never operational
//! entries), with the versions of `readings` and `workers` it covers. Every process of a group
//! writes it now and then into a side file of the `readings` table (`_alara/`, which Delta
//! readers and vacuum ignore); any process's checkpoint is a valid start for any other, since all
//! follow the same lake. A process starts from it only when it is recent: after the vacuum
//! retention, the files of the commits that follow it may be gone (compaction rewrote them), and
//! a full replay is then the safe start.

use alara_lake::{Lake, Table};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::replay::Seen;
use super::{Key, LegalResult, Rules, WorkerVersion};
use crate::config::RuleConfig;
use crate::{Error, Result};

/// The side file's name.
const NAME: &str = "alert-state.json";

/// Format version: a checkpoint of another format is ignored (full replay).
const FORMAT: u32 = 1;

/// How old a checkpoint may be to start from: well within the default vacuum retention (7 days).
const MAX_AGE: chrono::Duration = chrono::Duration::hours(24);

/// The side file. It is written from borrowed state (`R`, `W` references): a copy of the state
/// for the time of the write was, with the JSON text, the one spike of an ingest's memory at
/// the end of a run (measured: +57 MB over 396 MB of resident memory on a 5.7 M backlog). It is
/// read back owned.
#[derive(Serialize, Deserialize)]
struct Checkpoint<R, W> {
    format: u32,
    written_at: DateTime<Utc>,
    seen: Seen,
    results: Vec<R>,
    workers: Vec<W>,
}

/// A checkpoint as read back.
type Owned = Checkpoint<(Key, LegalResult), (String, DateTime<Utc>, WorkerVersion)>;

/// Writes the state and the versions it covers.
pub fn save(lake: &Lake, rules: &Rules, seen: Seen) -> Result<()> {
    let c = Checkpoint {
        format: FORMAT,
        written_at: Utc::now(),
        seen,
        results: rules.results_held.iter().collect(),
        workers: rules
            .workers
            .iter()
            .flat_map(|(id, versions)| versions.iter().map(move |(from, v)| (id, *from, v)))
            .collect(),
    };
    let bytes = serde_json::to_vec(&c).map_err(|e| Error::Encode(format!("alert state checkpoint: {e}")))?;
    lake.put_side_file(Table::Readings, NAME, Bytes::from(bytes))?;
    Ok(())
}

/// The state of a recent checkpoint, or `None` (no checkpoint, another format, too old, or
/// unreadable: the caller replays the lake).
pub fn load(lake: &Lake, config: RuleConfig) -> Result<Option<(Rules, Seen)>> {
    let Some(bytes) = lake.side_file(Table::Readings, NAME)? else { return Ok(None) };
    let c: Owned = match serde_json::from_slice(&bytes) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(reason = %e, "alert state checkpoint unreadable; replaying the lake");
            return Ok(None);
        }
    };
    if c.format != FORMAT || Utc::now() - c.written_at > MAX_AGE {
        tracing::info!(written_at = %c.written_at, "alert state checkpoint too old; replaying the lake");
        return Ok(None);
    }
    let mut rules = Rules::new(config);
    for (id, from, v) in c.workers {
        rules.upsert_worker(id, from, v);
    }
    for (key, r) in c.results {
        let revision = r.revision;
        rules.take(key, revision, Some(r));
    }
    Ok(Some((rules, c.seen)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_restores_the_state_and_the_versions_it_covers() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path()).unwrap();
        assert!(load(&lake, RuleConfig::default()).unwrap().is_none(), "no checkpoint yet");
        let mut rules = Rules::new(RuleConfig::default());
        let t = |s: &str| alara_model::records::parse_timestamp(s).unwrap();
        let result = LegalResult {
            worker_id: "W1".into(),
            department: "cardio".into(),
            quantity: alara_model::Quantity::Hp10,
            monitoring: alara_model::Monitoring::Passive,
            body_site: "whole_body".into(),
            dosimeter_id: "D1".into(),
            status: alara_model::Status::Measured,
            revision: 2,
            counted: Some(1.5),
            period_start: t("2025-01-01"),
            period_end: t("2025-01-31"),
            ingested_at: t("2025-02-03"),
            origin: "f:1".into(),
        };
        rules.take(("LAB".into(), "R1".into()), 2, Some(result));
        let version = WorkerVersion {
            ingested_at: t("2025-01-01"),
            department: "cardio".into(),
            apprentice: true,
            pregnancy_declared_on: None,
        };
        rules.upsert_worker("W1".into(), t("2024-01-01"), version);
        let seen = Seen { readings: Some(7), workers: Some(3) };
        save(&lake, &rules, seen).unwrap();
        let (back, seen_back) = load(&lake, RuleConfig::default()).unwrap().expect("the checkpoint");
        assert_eq!(seen_back, seen);
        assert_eq!(back.results_held, rules.results_held);
        assert_eq!(back.workers, rules.workers);
        assert_eq!(back.series, rules.series, "the index by series is rebuilt");
    }
}
