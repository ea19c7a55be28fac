-- name: dose_classes
-- description: How many workers of each category (A, B, none: the highest in force over the
--   period) fall in each class of 12-month effective dose (Hp10, legal record) over the last 12
--   months of data and the 12 before, in the classes of the national statistics (DOMAIN.md 7.1):
--   `< 0.1` (below the recording level of the national statistics), `0.1-1`, `1-6`, `6-20`,
--   `> 20` mSv. class_order sorts the classes; workers_with_missing counts workers of the class
--   with a result missing (their dose may be higher).
WITH as_of AS (
    SELECT MAX(end_month) AS month FROM legal_results
),
per_worker AS (
    SELECT l.worker_id, CASE WHEN l.end_month > as_of.month - 12 THEN 0 ELSE 1 END AS period_index,
           SUM(coalesce(l.counted_msv, 0.0)) AS dose_msv, MAX(l.category_rank) AS category_rank,
           bool_or(l.is_missing) AS any_missing
    FROM legal_results l
    CROSS JOIN as_of
    WHERE l.quantity = 'Hp10' AND l.end_month > as_of.month - 24
    GROUP BY l.worker_id, CASE WHEN l.end_month > as_of.month - 12 THEN 0 ELSE 1 END
),
classed AS (
    SELECT *,
           CASE WHEN dose_msv < 0.1 THEN 1 WHEN dose_msv <= 1 THEN 2 WHEN dose_msv <= 6 THEN 3
                WHEN dose_msv <= 20 THEN 4 ELSE 5 END AS class_order
    FROM per_worker
)
SELECT coalesce(CASE category_rank WHEN 2 THEN 'A' WHEN 1 THEN 'B' WHEN 0 THEN 'none' END, 'unknown') AS category,
       CASE period_index WHEN 0 THEN 'last 12 months' ELSE 'previous 12 months' END AS period_label,
       arrow_cast(make_date(CAST((as_of.month - 12 * period_index - 11) / 12 AS INT),
                            CAST((as_of.month - 12 * period_index - 11) % 12 + 1 AS INT), 1),
                  'Timestamp(µs, "UTC")') AS period_start,
       arrow_cast(make_date(CAST((as_of.month - 12 * period_index) / 12 AS INT),
                            CAST((as_of.month - 12 * period_index) % 12 + 1 AS INT), 1),
                  'Timestamp(µs, "UTC")') + INTERVAL '1 month' - INTERVAL '1 day' AS period_end,
       CASE class_order WHEN 1 THEN '< 0.1' WHEN 2 THEN '0.1-1' WHEN 3 THEN '1-6' WHEN 4 THEN '6-20' ELSE '> 20' END
           AS dose_class,
       class_order, COUNT(*) AS workers, SUM(CASE WHEN any_missing THEN 1 ELSE 0 END) AS workers_with_missing,
       round(SUM(dose_msv), 6) AS collective_dose_msv
FROM classed
CROSS JOIN as_of
GROUP BY category_rank, period_index, class_order, as_of.month
