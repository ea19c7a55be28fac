-- name: explanations
-- description: Why a finding for a worker and period is understood, as recorded by `alara explain`
--   (who: author; when: recorded_at; the period covered, inclusive; signal: the one signal or
--   level it is about, NULL for every finding of the period; decision: `declared` or `not_esr` when
--   the entry records the decision on a possible significant event, see esr_register). One row
--   per explanation: the table
--   is append-only, so a statement recorded twice (same id) shows once.
SELECT explanation_id, worker_id, period_start, period_end, signal, reason, author, recorded_at, decision
FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY explanation_id ORDER BY recorded_at) AS copy_rank
    FROM explanations_all
)
WHERE copy_rank = 1
