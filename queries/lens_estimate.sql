-- name: lens_estimate
-- description: 12-month eye-lens Hp3 estimated for workers who have months without any lens
--   result, from the dosimeters they wear at the collar or over the apron, never part of the
--   legal record (legal_results, rolling_12_months ignore it; overexposure shows it at level
--   `lens_estimate` with basis `estimated`). One row per worker and month that ends a window
--   holding at least one estimated month, in the shape of rolling_12_months (body_site
--   `eye/estimated`).
--   A month's estimate is lens_surrogate_factor (detect_parameters, default 1.0) times the
--   largest collar or over-apron result of the month, Hp0.07 or Hp10 (below threshold: 0):
--   the larger collar reading is the usual Hp(3) surrogate (JHPS, DOMAIN.md 7.2 R68) and neck
--   badges tend to overestimate the eye (R61), so the factor 1.0 errs on the safe side (the
--   generator's own calibration is 0.9 x collar Hp0.07). A month with a lens result (the most
--   exposed eye) uses that result; a month with neither counts 0 and the window says how many
--   months it estimated.

-- label('text') is the literal 'text', hidden from DataFusion's constant folding: see crates/detect/src/udf.rs.
WITH surrogate_results AS (
    SELECT worker_id, department,
           CAST(date_part('year', period_end - INTERVAL '1 microsecond') * 12
                + date_part('month', period_end - INTERVAL '1 microsecond') - 1 AS BIGINT) AS end_month,
           CASE WHEN status IN ('measured', 'estimated') THEN dose_msv ELSE 0.0 END AS dose_msv,
           period_start, period_end
    FROM readings
    WHERE monitoring <> 'operational' AND quantity IN ('Hp10', 'Hp007') AND position IN ('collar', 'over_apron')
      AND status IN ('measured', 'estimated', 'below_threshold')
),
surrogate_months AS (
    SELECT s.worker_id, s.end_month, MAX(s.department) AS department,
           MAX(s.dose_msv) * MAX(p.lens_surrogate_factor) AS estimate_msv,
           MIN(s.period_start) AS first_start, MAX(s.period_end) AS last_end
    FROM surrogate_results s
    CROSS JOIN detect_parameters p
    GROUP BY s.worker_id, s.end_month
),
lens_months AS (
    -- The most exposed eye of each month with a lens dose.
    SELECT worker_id, end_month, MAX(dose_msv) AS dose_msv, MIN(first_start) AS first_start, MAX(last_end) AS last_end
    FROM monthly_dose
    WHERE quantity = 'Hp3' AND results_count > 0
    GROUP BY worker_id, end_month
),
months AS (
    SELECT coalesce(l.worker_id, s.worker_id) AS worker_id, coalesce(l.end_month, s.end_month) AS end_month,
           s.department,
           CASE WHEN l.worker_id IS NOT NULL THEN l.dose_msv ELSE s.estimate_msv END AS dose_msv,
           l.worker_id IS NULL AS estimated,
           coalesce(l.first_start, s.first_start) AS first_start, coalesce(l.last_end, s.last_end) AS last_end
    FROM lens_months l
    FULL OUTER JOIN surrogate_months s ON s.worker_id = l.worker_id AND s.end_month = l.end_month
),
estimated_workers AS (
    SELECT DISTINCT worker_id FROM months WHERE estimated
),
contributions AS (
    SELECT m.*, o.months_ago, m.end_month + o.months_ago AS window_month
    FROM months m
    JOIN estimated_workers e ON e.worker_id = m.worker_id
    CROSS JOIN (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11)) AS o(months_ago)
),
windows AS (
    SELECT c.worker_id, c.window_month AS end_month,
           bool_or(c.months_ago = 0) AS has_result_this_month,
           MAX(CASE WHEN c.months_ago = 0 THEN c.department END) AS department,
           MAX(CASE WHEN c.months_ago = 0 THEN c.last_end END) AS window_end,
           MIN(c.first_start) AS first_result_start,
           round(SUM(c.dose_msv), 6) AS dose_msv,
           round(SUM(CASE WHEN c.estimated THEN c.dose_msv ELSE 0.0 END), 6) AS estimated_msv,
           CAST(SUM(CASE WHEN c.estimated THEN 1 ELSE 0 END) AS BIGINT) AS estimated_months,
           CAST(COUNT(*) AS BIGINT) AS months_with_results,
           round(SUM(CASE WHEN c.months_ago < p.projection_months THEN c.dose_msv ELSE 0.0 END), 6) AS recent_msv,
           p.projection_months
    FROM contributions c
    CROSS JOIN detect_parameters p
    GROUP BY c.worker_id, c.window_month, p.projection_months
)
SELECT w.worker_id, label('Hp3') AS quantity,
       label('eye/estimated') AS body_site, w.end_month,
       CASE WHEN coalesce(k.apprentice, false) THEN 'apprentice' ELSE 'adult' END AS population,
       k.category, coalesce(w.department, k.department) AS department,
       arrow_cast(make_date(CAST((w.end_month - 11) / 12 AS INT), CAST((w.end_month - 11) % 12 + 1 AS INT), 1),
                  'Timestamp(µs, "UTC")') AS window_start,
       w.window_end, w.first_result_start, w.dose_msv, w.months_with_results AS results_count,
       CAST(0 AS BIGINT) AS missing_results, w.months_with_results, w.recent_msv,
       w.recent_msv * 12.0 / w.projection_months AS projected_msv, w.estimated_months, w.estimated_msv
FROM windows w
LEFT JOIN workers k ON k.worker_id = w.worker_id
WHERE w.has_result_this_month AND w.estimated_months > 0
