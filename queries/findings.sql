-- name: findings
-- description: Every current finding of the three detection views in one shape, for the report
--   and the alert hooks: kind (overexposure, missing_badge, unexplained_heterogeneity),
--   level_or_signal, worker, department, quantity, period, value_msv (the dose concerned: the
--   window sum, the result, the dose since the declaration, the badge…), threshold_msv (the
--   regulatory or configured level, for overexposure), reference_msv (the peers' or the
--   operational dosimeter's expectation, for heterogeneity; the peers' median badge for
--   zero_while_peers_exposed), score (robust z or log2 ratio; NULL when not scored), p_value, and
--   evidence in words. Explained rows are not here (see explained_findings). finding_key
--   identifies a finding across runs (kind, level or signal, worker, quantity, body site and
--   period start) so that an alert is raised once.

-- label('text') is the literal 'text', hidden from DataFusion's constant folding: see crates/detect/src/udf.rs.
SELECT label('overexposure') AS kind, level AS level_or_signal, worker_id, department, quantity, window_start AS period_start,
       window_end AS period_end, dose_msv AS value_msv, threshold_msv, CAST(NULL AS DOUBLE) AS reference_msv,
       CAST(NULL AS DOUBLE) AS score, CAST(NULL AS DOUBLE) AS p_value, evidence,
       concat_ws('|', 'overexposure', level, worker_id, quantity, body_site, to_char(window_start, '%Y-%m-%d')) AS finding_key
FROM overexposure
UNION ALL
SELECT label('missing_badge'), signal, worker_id, department, quantity, period_start, period_end, value_msv,
       CAST(NULL AS DOUBLE), reference_msv, CAST(NULL AS DOUBLE), p_value, evidence,
       concat_ws('|', 'missing_badge', signal, worker_id, quantity, '', to_char(period_start, '%Y-%m-%d'))
FROM missing_badge
UNION ALL
SELECT label('unexplained_heterogeneity'), signal, worker_id, department, quantity, period_start, period_end, dose_msv,
       CAST(NULL AS DOUBLE), reference_msv, score, p_value, evidence,
       concat_ws('|', 'unexplained_heterogeneity', signal, worker_id, quantity, '', to_char(period_start, '%Y-%m-%d'))
FROM unexplained_heterogeneity
