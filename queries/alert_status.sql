-- name: alert_status
-- description: The current state of every alert for every hook, derived from the append-only
--   outbox `alerts_all` (events raised, queued, delivered, failed, acknowledged). One row per
--   alert and hook that owes or took it; an alert no hook wanted has one row with hook NULL.
--   delivery: pending (queued, not delivered yet), delivered, or failed (the last round of
--   attempts failed; it is still owed and is re-sent while alara runs, at its next start, or by
--   `alara alerts --retry`); NULL when no hook. state: acknowledged once a person recorded
--   handling it (`alara alerts --ack`), else withdrawn when corrected results no longer support
--   it (withdrawn_because says what they give now; a notice of rule `withdrawal` naming it in
--   its payload went to the same hooks), else the delivery state, or raised when no hook.
--   state_at is when the delivery state was reached, failures how many rounds of attempts failed
--   for that hook, last_error the latest failure's reason. An alert raised twice (the same
--   condition after a replay) shows once, with its first raise.
WITH raised AS (
    SELECT alert_id, worker_id, department, rule, level, quantity, dose_msv, threshold_msv,
           window_start, window_end, summary, payload, event_at AS raised_at
    FROM (
        SELECT *, ROW_NUMBER() OVER (PARTITION BY alert_id ORDER BY event_at) AS copy_rank
        FROM alerts_all
        WHERE event = 'raised'
    )
    WHERE copy_rank = 1
),
hook_events AS (
    SELECT alert_id, hook, event, event_at,
           ROW_NUMBER() OVER (
               PARTITION BY alert_id, hook
               ORDER BY event_at DESC, CASE event WHEN 'delivered' THEN 0 WHEN 'failed' THEN 1 ELSE 2 END
           ) AS recency,
           SUM(CASE WHEN event = 'failed' THEN 1 ELSE 0 END) OVER (PARTITION BY alert_id, hook) AS failures,
           FIRST_VALUE(note) OVER (
               PARTITION BY alert_id, hook
               ORDER BY CASE WHEN event = 'failed' THEN 0 ELSE 1 END, event_at DESC
           ) AS failure_note
    FROM alerts_all
    WHERE hook IS NOT NULL AND event IN ('queued', 'delivered', 'failed')
),
latest AS (
    SELECT alert_id, hook, event, event_at, failures,
           CASE WHEN failures > 0 THEN failure_note END AS last_error
    FROM hook_events
    WHERE recency = 1
),
withdrawals AS (
    SELECT alert_id, note, event_at
    FROM (
        SELECT *, ROW_NUMBER() OVER (PARTITION BY alert_id ORDER BY event_at) AS recency
        FROM alerts_all
        WHERE event = 'withdrawn'
    )
    WHERE recency = 1
),
acks AS (
    SELECT alert_id, author, note, event_at
    FROM (
        SELECT *, ROW_NUMBER() OVER (PARTITION BY alert_id ORDER BY event_at DESC) AS recency
        FROM alerts_all
        WHERE event = 'acknowledged'
    )
    WHERE recency = 1
)
SELECT r.alert_id, h.hook,
       CASE h.event WHEN 'queued' THEN 'pending' ELSE h.event END AS delivery,
       CASE WHEN a.alert_id IS NOT NULL THEN 'acknowledged'
            WHEN x.alert_id IS NOT NULL THEN 'withdrawn'
            WHEN h.event IS NULL THEN 'raised'
            WHEN h.event = 'queued' THEN 'pending'
            ELSE h.event
       END AS state,
       r.worker_id, r.department, r.rule, r.level, r.quantity, r.dose_msv, r.threshold_msv,
       r.window_start, r.window_end, r.summary, r.raised_at,
       h.event_at AS state_at, CAST(coalesce(h.failures, 0) AS BIGINT) AS failures, h.last_error,
       a.author AS acknowledged_by, a.event_at AS acknowledged_at, a.note AS acknowledged_note,
       x.event_at AS withdrawn_at, x.note AS withdrawn_because, r.payload
FROM raised r
LEFT JOIN latest h ON h.alert_id = r.alert_id
LEFT JOIN acks a ON a.alert_id = r.alert_id
LEFT JOIN withdrawals x ON x.alert_id = r.alert_id
