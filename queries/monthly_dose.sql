-- name: monthly_dose
-- description: Regulatory dose per worker, quantity, body site and calendar month (the month in
--   which each legal result's wearing period ends, see legal_results): the sum of counted doses
--   (below-threshold results count 0), how many results have a dose and how many are missing
--   (a lost or unreturned badge is never a silent 0), whether the worker was an apprentice and
--   the highest classification in force (category_rank: none 0, B 1, A 2).
--   An eye or extremity result with no laterality counts for every side the worker has
--   lateralised results for at that position (both hands when both are monitored), instead of
--   starting a separate `unspecified` series that would split the 12-month sum; with no
--   lateralised result at that position it stays `position/unspecified`.
WITH sides AS (
    SELECT DISTINCT worker_id, quantity, coalesce(position, 'unspecified') AS position, laterality
    FROM legal_results
    WHERE quantity <> 'Hp10' AND laterality IS NOT NULL
),
sited AS (
    SELECT l.worker_id, l.quantity, l.end_month, l.department, l.counted_msv, l.is_missing, l.period_start,
           l.period_end, l.apprentice, l.category_rank,
           CASE WHEN l.quantity <> 'Hp10' AND l.laterality IS NULL AND s.laterality IS NOT NULL
                THEN concat(s.position, '/', s.laterality)
                ELSE l.body_site
           END AS body_site
    FROM legal_results l
    LEFT JOIN sides s
      ON l.laterality IS NULL AND s.worker_id = l.worker_id AND s.quantity = l.quantity
     AND s.position = coalesce(l.position, 'unspecified')
)
SELECT worker_id, quantity, body_site, end_month,
       MAX(department) AS department,
       coalesce(SUM(counted_msv), 0.0) AS dose_msv,
       COUNT(counted_msv) AS results_count,
       SUM(CASE WHEN is_missing THEN 1 ELSE 0 END) AS missing_results,
       MAX(counted_msv) AS max_result_msv,
       MIN(period_start) AS first_start,
       MAX(period_end) AS last_end,
       bool_or(apprentice) AS apprentice,
       MAX(category_rank) AS category_rank
FROM sited
GROUP BY worker_id, quantity, body_site, end_month
