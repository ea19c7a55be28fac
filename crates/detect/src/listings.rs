//! The read-only listings the command line prints: the alerts of the outbox (`alara alerts`) and
//! what a demo put in the lake. The SQL is written here, with the views it reads, so that the
//! binary wires and formats but owns no query.

use alara_model::AlertState;

/// Lists the alerts, oldest first, one row per alert (the `alerts` view), optionally only those
/// in one state. `short_ids` shows the first 12 characters of each id (enough to `--ack`), as a
/// table on a terminal does; machine formats get the whole id.
pub fn alerts(state: Option<AlertState>, short_ids: bool) -> String {
    let id = if short_ids { "substr(alert_id, 1, 12) AS alert" } else { "alert_id" };
    // The state is one of the closed vocabulary's spellings, never user text.
    let filter = state.map(|s| format!("WHERE state = '{}'", s.as_str())).unwrap_or_default();
    format!(
        "SELECT {id}, state, raised_at, level, worker_id, department, quantity, round(dose_msv, 3) AS dose_msv, \
         threshold_msv, hooks, acknowledged_by, summary FROM alerts {filter} ORDER BY raised_at, alert_id"
    )
}

/// What is in the lake after a demo: results per monitoring and quantity, rejects per reason,
/// alerts per level and quantity.
pub const LAKE_OVERVIEW: [&str; 3] = [
    "SELECT monitoring, quantity, COUNT(*) AS results, COUNT(DISTINCT worker_id) AS workers, \
     ROUND(SUM(COALESCE(dose_msv, 0)), 2) AS total_dose_msv, \
     MIN(period_start) AS first_period, MAX(period_end) AS last_period \
     FROM readings GROUP BY monitoring, quantity ORDER BY monitoring, quantity",
    "SELECT reason, COUNT(*) AS records FROM rejects GROUP BY reason ORDER BY records DESC, reason",
    "SELECT level, quantity, COUNT(*) AS alerts, COUNT(DISTINCT worker_id) AS workers \
     FROM alerts GROUP BY level, quantity ORDER BY level, quantity",
];
