-- name: department_dose
-- description: Collective effective dose per department over the last 12 months of data (ending
--   with the latest month holding a legal result anywhere in the lake), compared with the 12
--   months before: workers (with a whole-body result in the department), collective_dose_msv (sum
--   of the legal Hp10 results, below threshold counted 0; man.mSv), the same for the previous 12
--   months, the change (mSv and share, NULL when the previous year had no dose), the largest
--   individual sum, and missing_results (no dose: the collective dose may be higher).
WITH as_of AS (
    SELECT MAX(end_month) AS month FROM legal_results
),
per_worker AS (
    SELECT l.department, l.worker_id,
           CASE WHEN l.end_month > as_of.month - 12 THEN 0 ELSE 1 END AS period_index,
           SUM(coalesce(l.counted_msv, 0.0)) AS dose_msv,
           SUM(CASE WHEN l.is_missing THEN 1 ELSE 0 END) AS missing_results
    FROM legal_results l
    CROSS JOIN as_of
    WHERE l.quantity = 'Hp10' AND l.end_month > as_of.month - 24
    GROUP BY l.department, l.worker_id, CASE WHEN l.end_month > as_of.month - 12 THEN 0 ELSE 1 END
),
per_department AS (
    SELECT department, period_index, COUNT(*) AS workers, round(SUM(dose_msv), 6) AS collective_dose_msv,
           MAX(dose_msv) AS max_worker_msv, SUM(missing_results) AS missing_results
    FROM per_worker
    GROUP BY department, period_index
)
SELECT c.department,
       arrow_cast(make_date(CAST((as_of.month - 11) / 12 AS INT), CAST((as_of.month - 11) % 12 + 1 AS INT), 1),
                  'Timestamp(µs, "UTC")') AS period_start,
       arrow_cast(make_date(CAST(as_of.month / 12 AS INT), CAST(as_of.month % 12 + 1 AS INT), 1),
                  'Timestamp(µs, "UTC")') + INTERVAL '1 month' - INTERVAL '1 day' AS period_end,
       c.workers, c.collective_dose_msv, c.max_worker_msv, CAST(c.missing_results AS BIGINT) AS missing_results,
       p.workers AS previous_workers, p.collective_dose_msv AS previous_collective_dose_msv,
       round(c.collective_dose_msv - coalesce(p.collective_dose_msv, 0.0), 6) AS change_msv,
       CASE WHEN p.collective_dose_msv > 0
            THEN round((c.collective_dose_msv - p.collective_dose_msv) / p.collective_dose_msv, 4) END AS change_share
FROM per_department c
CROSS JOIN as_of
LEFT JOIN per_department p ON p.department = c.department AND p.period_index = 1
WHERE c.period_index = 0
