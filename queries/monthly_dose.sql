-- name: monthly_dose
-- description: Regulatory dose per worker, quantity, body site and calendar month (the month in
--   which each legal result's wearing period ends, see legal_results): the sum of counted doses
--   (below-threshold results count 0), how many results have a dose and how many are missing
--   (a lost or unreturned badge is never a silent 0), and whether the worker was an apprentice.
SELECT worker_id, quantity, body_site, end_month,
       MAX(department) AS department,
       coalesce(SUM(counted_msv), 0.0) AS dose_msv,
       COUNT(counted_msv) AS results_count,
       SUM(CASE WHEN is_missing THEN 1 ELSE 0 END) AS missing_results,
       MAX(counted_msv) AS max_result_msv,
       MIN(period_start) AS first_start,
       MAX(period_end) AS last_end,
       bool_or(apprentice) AS apprentice
FROM legal_results
GROUP BY worker_id, quantity, body_site, end_month
