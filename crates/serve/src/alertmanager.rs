//! Keeping Alertmanager in step: every minute, and right after an acknowledgement made here,
//! each `alertmanager` hook of the configuration gets every open alert again (Alertmanager
//! resolves alerts that are not re-sent) and the acknowledged or withdrawn ones with `endsAt`.
//! The engine's own delivery posts an alert the moment ingest raises it; this keeps it alive.

use std::sync::Arc;
use std::time::Duration;

use alara_alert::transport::Filter;
use alara_alert::transport::alertmanager::{AlertmanagerNotifier, sync};
use alara_alert::{History, HookConfig, HookKind};

use crate::app::App;
use crate::{Error, Result};

/// How often open alerts are re-sent (Alertmanager's default `resolve_timeout` is 5 minutes).
pub const RESEND: Duration = Duration::from_secs(60);

/// One configured Alertmanager.
pub struct Target {
    name: String,
    notifier: AlertmanagerNotifier,
    filter: Filter,
}

/// The `alertmanager` hooks of a configuration.
pub fn targets(hooks: &[HookConfig]) -> Result<Vec<Arc<Target>>> {
    let names = alara_alert::hook_names(hooks).map_err(Error::Invalid)?;
    let mut out = Vec::new();
    for (h, name) in hooks.iter().zip(names) {
        if h.kind != HookKind::Alertmanager {
            continue;
        }
        let url =
            h.url.as_deref().ok_or_else(|| Error::Invalid(format!("hook '{name}' (alertmanager) needs `url`")))?;
        let timeout = Duration::from_millis(h.timeout_ms.unwrap_or(5_000));
        let notifier = AlertmanagerNotifier::new(url, timeout).map_err(|e| Error::Invalid(e.to_string()))?;
        out.push(Arc::new(Target { name, notifier, filter: Filter::of(h) }));
    }
    Ok(out)
}

/// Sends every target the state of the outbox now. Failures are logged and retried at the
/// next round.
pub async fn sync_all(app: &App) {
    for t in &app.alertmanagers {
        let (t, lake) = (Arc::clone(t), app.lake.clone());
        let done = tokio::task::spawn_blocking(move || {
            let history = History::read(&lake).map_err(|e| e.to_string())?;
            sync(&t.notifier, &history, |a| t.filter.accepts(a), chrono::Utc::now()).map(|s| (t.name.clone(), s))
        })
        .await;
        match done {
            Ok(Ok((name, s))) => tracing::debug!(hook = %name, open = s.open, ended = s.ended, "alertmanager synced"),
            Ok(Err(e)) => tracing::warn!(error = %e, "alertmanager sync failed; retried at the next round"),
            Err(e) => tracing::warn!(error = %e, "alertmanager sync task failed"),
        }
    }
}

/// Re-sends every [`RESEND`] for as long as the application runs.
pub async fn keep_in_step(app: Arc<App>) {
    if app.alertmanagers.is_empty() {
        return;
    }
    let mut tick = tokio::time::interval(RESEND);
    loop {
        tick.tick().await;
        sync_all(&app).await;
    }
}
