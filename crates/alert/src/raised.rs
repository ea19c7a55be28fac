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

    /// Forgets alerts whose outbox write failed, so that the replayed flush raises them again.
    pub(crate) fn forget(&mut self, ids: &HashSet<&str>) {
        self.ids.retain(|id| !ids.contains(id.as_str()));
        self.withdrawn.retain(|id| !ids.contains(id.as_str()));
        for v in self.by_series.values_mut() {
            v.retain(|a| !ids.contains(a.alert_id.as_str()));
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
