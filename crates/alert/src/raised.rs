//! The alerts already raised, as the engine knows them: to decide whether a condition is new,
//! what it supersedes, and which alerts a correction may withdraw.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::alert::{Alert, Rule, Window};
use crate::rules::SeriesKey;

/// The alerts already raised, per worker × quantity × body site, to decide whether a condition
/// is new, what it supersedes, and which alerts a correction may withdraw.
#[derive(Debug, Default)]
pub(crate) struct RaisedAlerts {
    ids: HashSet<String>,
    pub(crate) withdrawn: HashSet<String>,
    by_series: HashMap<SeriesKey, Vec<Arc<Alert>>>,
}

fn series(a: &Alert) -> SeriesKey {
    (a.worker_id.clone(), a.quantity, a.body_site.clone())
}

fn overlaps(a: &Window, b: &Window) -> bool {
    let end = |w: &Window| w.end.unwrap_or(DateTime::<Utc>::MAX_UTC);
    a.start < end(b) && b.start < end(a)
}

impl RaisedAlerts {
    pub(crate) fn insert(&mut self, a: &Arc<Alert>) {
        // Idempotent: the alerts this process wrote come back when it follows the table.
        if !self.ids.insert(a.alert_id.clone()) {
            return;
        }
        self.by_series.entry(series(a)).or_default().push(Arc::clone(a));
    }

    /// Undoes what an attempt at raising changed when its outbox write failed (another process
    /// raised first, or the write itself failed): the alerts and notices it raised are forgotten,
    /// so that the next attempt or the replayed flush raises them again; the alerts it meant to
    /// withdraw stand again, but stay known as raised. Forgetting those too (as once done) let
    /// the next attempt raise again an alert another process had raised (seen in the
    /// three-consumer test: one alert id raised twice).
    pub(crate) fn undo(&mut self, raised: &[Arc<Alert>], withdrawn: &[(Arc<Alert>, String)]) {
        let ids: HashSet<&str> = raised.iter().map(|a| a.alert_id.as_str()).collect();
        self.ids.retain(|id| !ids.contains(id.as_str()));
        for v in self.by_series.values_mut() {
            v.retain(|a| !ids.contains(a.alert_id.as_str()));
        }
        for (a, _) in withdrawn {
            self.withdrawn.remove(&a.alert_id);
        }
    }

    /// Whether a candidate is to be raised: not raised before, and no higher level of the same
    /// rule already raised for the very same window. Fills in what it supersedes: lower levels
    /// of the same rule on overlapping windows.
    pub(crate) fn admit(&self, a: &mut Alert) -> bool {
        if self.ids.contains(&a.alert_id) {
            return false;
        }
        let same = self.by_series.get(&series(a)).map(Vec::as_slice).unwrap_or_default();
        if same.iter().any(|c| c.rule == a.rule && c.window == a.window && c.level > a.level) {
            return false;
        }
        a.supersedes = same
            .iter()
            .filter(|c| c.rule == a.rule && c.level < a.level && overlaps(&c.window, &a.window))
            .map(|c| c.alert_id.clone())
            .collect();
        true
    }

    /// Alerts of a series that stand: neither withdrawn nor themselves withdrawal notices.
    pub(crate) fn standing(&self, key: &SeriesKey) -> impl Iterator<Item = &Arc<Alert>> {
        self.by_series
            .get(key)
            .into_iter()
            .flatten()
            .filter(|a| a.rule != Rule::Withdrawal && !self.withdrawn.contains(&a.alert_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Level;
    use alara_model::Quantity;

    fn alert(id: &str, rule: Rule) -> Arc<Alert> {
        let start = "2025-01-01T00:00:00Z".parse().unwrap();
        Arc::new(Alert {
            alert_id: id.into(),
            worker_id: "W1".into(),
            department: "cardio".into(),
            rule,
            level: Level::Investigation,
            quantity: Quantity::Hp10,
            body_site: "whole_body".into(),
            dose_msv: 7.0,
            threshold_msv: 6.0,
            window: Window { start, end: None },
            missing_results: 0,
            readings: Vec::new(),
            summary: String::new(),
            supersedes: Vec::new(),
            withdraws: None,
            raised_at: start,
        })
    }

    #[test]
    fn a_failed_withdrawal_leaves_the_alert_known_as_raised() {
        let mut known = RaisedAlerts::default();
        // Raised by another process, read from the outbox.
        let theirs = alert("theirs", Rule::Rolling12Months);
        known.insert(&theirs);
        // This attempt withdraws it (with a notice) and raises one of its own; the write fails.
        let notice = alert("notice", Rule::Withdrawal);
        let ours = alert("ours", Rule::SingleResult);
        known.withdrawn.insert(theirs.alert_id.clone());
        known.insert(&notice);
        known.insert(&ours);
        known.undo(&[notice, Arc::clone(&ours)], &[(Arc::clone(&theirs), "why".into())]);

        let mut again = (*theirs).clone();
        assert!(!known.admit(&mut again), "still known as raised: the next attempt must not raise it again");
        assert_eq!(known.standing(&series(&theirs)).count(), 1, "and standing again");
        let mut ours_again = (*ours).clone();
        assert!(known.admit(&mut ours_again), "ours was not raised: the next attempt raises it");
    }
}
