-- name: unexplained_heterogeneity
-- description: Doses that differ from their peers (peer_outlier) or from the worker's own
--   operational dosimeter (passive_operational_mismatch) and that nobody has explained yet: the
--   rows of heterogeneity_signals (which says how each is scored) minus those covered by an
--   `explanations` row for the same worker, for this signal or for every signal (NULL), whose
--   period contains the finding's period (a day's slack at each end absorbs the two conventions
--   for the end of a wearing period). Covered rows stay auditable in explained_findings.
SELECT s.*
FROM heterogeneity_signals s
WHERE NOT EXISTS (
    SELECT 1 FROM explanations e
    WHERE e.worker_id = s.worker_id
      AND (e.signal IS NULL OR e.signal = s.signal)
      AND e.period_start < s.period_start + INTERVAL '1 day'
      AND e.period_end + INTERVAL '1 day' > s.period_end
)
