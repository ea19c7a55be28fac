-- name: worker_history
-- description: Every distinct version of every worker (re-sent copies removed), with the date
--   each version stops applying (valid_to, null for the current one).
SELECT worker_id, employer_siret, department, role, category, pregnancy_declared_on, apprentice,
       valid_from,
       LEAD(valid_from) OVER (PARTITION BY worker_id ORDER BY valid_from) AS valid_to
FROM (
    SELECT *,
           ROW_NUMBER() OVER (
               PARTITION BY worker_id, valid_from
               ORDER BY ingested_at DESC, origin DESC
           ) AS copy_rank
    FROM workers_all
)
WHERE copy_rank = 1
