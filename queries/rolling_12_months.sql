-- name: rolling_12_months
-- description: The 12-consecutive-month sums of R4451-6/-8, one row per worker, quantity, body
--   site and month in which a legal result ends: the window is that month and the 11 before it
--   (calendar months, so a monthly badge belongs to exactly one month whether the lab ends periods
--   on the last day or at midnight of the next, and February of a leap year is not counted twice).
--   Evaluating the window at every month that holds a result finds every maximum: a sum only grows
--   when a result enters it.
--   Sums are rounded to 1e-6 mSv so that a window of two-decimal results that adds up to exactly
--   a limit is not "above" it by a floating-point residue.
--   window_start is the first day of the window's first month, window_end the end of the latest
--   result; first_result_start the start of the earliest result counted. dose_msv counts
--   below-threshold results as 0; missing_results says how many results of the window have no
--   dose. recent_msv sums the last `projection_months` months of the window (detect_parameters),
--   projected_msv extrapolates that rate to 12 months (the `projected` level).
--   population is `apprentice` when the worker was one at the window's last month, else `adult`.
--   category is the highest classification (A > B > none) in force when a result of the window
--   ended: the allowance of the `classification` level (a worker reclassified during the window
--   is held to the more permissive category, so a reclassification alone never raises it).
WITH contributions AS (
    -- Each month's dose contributes to the windows ending in that month and the 11 after it.
    SELECT m.*, o.months_ago, m.end_month + o.months_ago AS window_month
    FROM monthly_dose m
    CROSS JOIN (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11)) AS o(months_ago)
),
windows AS (
    SELECT c.worker_id, c.quantity, c.body_site, c.window_month AS end_month,
           bool_or(c.months_ago = 0) AS has_result_this_month,
           bool_or(c.months_ago = 0 AND c.apprentice) AS apprentice,
           MAX(CASE WHEN c.months_ago = 0 THEN c.department END) AS department,
           MAX(CASE WHEN c.months_ago = 0 THEN c.last_end END) AS window_end,
           MIN(c.first_start) AS first_result_start,
           MAX(c.category_rank) AS category_rank,
           round(SUM(c.dose_msv), 6) AS dose_msv,
           CAST(SUM(c.results_count) AS BIGINT) AS results_count,
           CAST(SUM(c.missing_results) AS BIGINT) AS missing_results,
           COUNT(*) AS months_with_results,
           round(SUM(CASE WHEN c.months_ago < p.projection_months THEN c.dose_msv ELSE 0.0 END), 6) AS recent_msv,
           p.projection_months
    FROM contributions c
    CROSS JOIN detect_parameters p
    GROUP BY c.worker_id, c.quantity, c.body_site, c.window_month, p.projection_months
)
SELECT worker_id, quantity, body_site, end_month,
       CASE WHEN apprentice THEN 'apprentice' ELSE 'adult' END AS population,
       department,
       arrow_cast(make_date(CAST((end_month - 11) / 12 AS INT), CAST((end_month - 11) % 12 + 1 AS INT), 1),
                  'Timestamp(µs, "UTC")') AS window_start,
       CASE category_rank WHEN 2 THEN 'A' WHEN 1 THEN 'B' WHEN 0 THEN 'none' END AS category,
       window_end, first_result_start, dose_msv, results_count, missing_results, months_with_results,
       recent_msv, recent_msv * 12.0 / projection_months AS projected_msv
FROM windows
WHERE has_result_this_month
