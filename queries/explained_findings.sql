-- name: explained_findings
-- description: The audit trail of suppressed findings: every missing_badge or
--   unexplained_heterogeneity row that an explanation covers (and that the two views therefore
--   no longer show), with the explanation: who wrote it (explained_by), when (explained_at),
--   the period it covers and why. Same matching rule as the two views: same worker, signal equal
--   or NULL, explanation period containing the finding's period with a day's slack at each end.
--   A finding covered by several explanations appears once per explanation. Overexposure is never
--   suppressed: a dose above a limit stays a fact whatever its cause.

-- label('text') is the literal 'text', hidden from DataFusion's constant folding: see crates/detect/src/udf.rs.
WITH signals AS (
    SELECT label('missing_badge') AS kind, signal, worker_id, department, quantity, period_start, period_end,
           value_msv, reference_msv, evidence
    FROM missing_badge_signals
    UNION ALL
    SELECT label('unexplained_heterogeneity') AS kind, signal, worker_id, department, quantity, period_start, period_end,
           dose_msv AS value_msv, reference_msv, evidence
    FROM heterogeneity_signals
)
SELECT s.kind, s.signal AS level_or_signal, s.worker_id, s.department, s.quantity, s.period_start, s.period_end,
       s.value_msv, s.reference_msv, s.evidence,
       e.explanation_id, e.period_start AS explained_from, e.period_end AS explained_to, e.signal AS explained_signal,
       e.reason, e.author AS explained_by, e.recorded_at AS explained_at
FROM signals s
JOIN explanations e
  ON e.worker_id = s.worker_id
 AND (e.signal IS NULL OR e.signal = s.signal)
 AND e.period_start < s.period_start + INTERVAL '1 day'
 AND e.period_end + INTERVAL '1 day' > s.period_end
