-- name: alerts
-- description: One row per alert raised by the streaming rules (see alert_status for the state
--   per hook). state: acknowledged, else withdrawn (corrected results no longer support it), else
--   failed if any hook's last attempts failed, else pending if any hook still owes it, else
--   delivered (every hook took it), else raised (no hook wanted it). rule `withdrawal` marks the
--   notice sent when an alert was withdrawn (its payload's `withdraws` names the alert). hooks lists `name:delivery` for each hook. payload is the alert as delivered (JSON:
--   the readings that caused it, what it supersedes, body_site, missing_results).
SELECT alert_id, raised_at,
       CASE WHEN bool_or(state = 'acknowledged') THEN 'acknowledged'
            WHEN bool_or(state = 'withdrawn') THEN 'withdrawn'
            WHEN bool_or(delivery = 'failed') THEN 'failed'
            WHEN bool_or(delivery = 'pending') THEN 'pending'
            WHEN bool_or(delivery = 'delivered') THEN 'delivered'
            ELSE 'raised'
       END AS state,
       worker_id, department, rule, level, quantity, dose_msv, threshold_msv, window_start, window_end,
       summary,
       string_agg(CASE WHEN hook IS NOT NULL THEN concat(hook, ':', delivery) END, ' ' ORDER BY hook) AS hooks,
       CAST(SUM(failures) AS BIGINT) AS failures,
       MAX(acknowledged_by) AS acknowledged_by, MAX(acknowledged_at) AS acknowledged_at,
       MAX(acknowledged_note) AS acknowledged_note, MAX(withdrawn_because) AS withdrawn_because,
       MAX(payload) AS payload
FROM alert_status
GROUP BY alert_id, raised_at, worker_id, department, rule, level, quantity, dose_msv, threshold_msv,
         window_start, window_end, summary
