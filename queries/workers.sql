-- name: workers
-- description: The current version of each worker: the latest valid_from wins (ties: the latest
--   ingested). worker_history keeps every distinct version.
SELECT worker_id, employer_siret, department, role, category, pregnancy_declared_on, apprentice,
       valid_from, ingested_at
FROM (
    SELECT *,
           ROW_NUMBER() OVER (
               PARTITION BY worker_id
               ORDER BY valid_from DESC, ingested_at DESC, origin DESC
           ) AS version_rank
    FROM workers_all
)
WHERE version_rank = 1
