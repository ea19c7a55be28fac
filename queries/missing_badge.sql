-- name: missing_badge
-- description: Signs that a dosimeter was not worn or not read (see missing_badge_signals for
--   the three signals and how each is scored), minus those an explanation covers: an
--   `explanations` row for the same worker, for this signal or for every signal (NULL), whose
--   period contains the finding's period (a day's slack at each end absorbs the two conventions
--   for the end of a wearing period). Covered rows are listed, with who explained them and why,
--   in explained_findings.
SELECT s.*
FROM missing_badge_signals s
WHERE NOT EXISTS (
    SELECT 1 FROM explanations e
    WHERE e.worker_id = s.worker_id
      AND (e.signal IS NULL OR e.signal = s.signal)
      AND e.period_start < s.period_start + INTERVAL '1 day'
      AND e.period_end + INTERVAL '1 day' > s.period_end
)
