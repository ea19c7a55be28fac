-- name: classification_review
-- description: Workers whose 12-month doses no longer fit their classification (R4451-57), as a
--   prompt for the employer and the occupational physician, one row per worker:
--   up: a window ending in the last 12 months of data (the latest month holding a legal result
--   anywhere in the lake) holds more than the current category allows, the thresholds of the
--   `classification` level (non-classified: 1 mSv effective, 15 lens, 50 extremities; category
--   B: the category A thresholds 6 / 15 / 150 mSv): suggested_category is A when the sum is also
--   above the A thresholds, else B. The row shows the window with the largest dose relative to
--   its threshold.
--   down: a category A worker, classified A by every version in force over the last 24 months,
--   with results reaching back that far, whose every 12-month window of those 24 months stays at
--   or below the A thresholds (doses compatible with B): suggested_category B; window_start and
--   window_end span the 24 months, dose_msv is the largest 12-month effective dose (Hp10) of
--   them, evidence gives the largest of each quantity.
--   category is the worker's current one; quantity the quantity concerned (up) or Hp10 (down).

-- label('text') is the literal 'text', hidden from DataFusion's constant folding: see crates/detect/src/udf.rs.
WITH as_of AS (
    SELECT MAX(end_month) AS month FROM legal_results
),
a_levels AS (
    SELECT quantity, threshold_msv FROM thresholds WHERE population = 'category_B' AND level = 'classification'
),
allowed AS (
    -- What each current category may receive: none up to the category_none thresholds, B up to
    -- the A thresholds.
    SELECT concat(substr(population, 10), '') AS category, quantity, threshold_msv
    FROM thresholds
    WHERE level = 'classification'
),
up_windows AS (
    SELECT r.worker_id, w.category, r.quantity, r.body_site, r.window_start, r.window_end, r.dose_msv,
           al.threshold_msv AS allowed_msv, a.threshold_msv AS a_msv,
           ROW_NUMBER() OVER (PARTITION BY r.worker_id
                              ORDER BY r.dose_msv / al.threshold_msv DESC, r.end_month DESC, r.quantity) AS pick,
           bool_or(r.dose_msv > a.threshold_msv) OVER (PARTITION BY r.worker_id) AS above_a
    FROM rolling_12_months r
    JOIN workers w ON w.worker_id = r.worker_id
    JOIN allowed al ON al.category = w.category AND al.quantity = r.quantity
    JOIN a_levels a ON a.quantity = r.quantity
    CROSS JOIN as_of
    WHERE r.end_month > as_of.month - 12 AND r.dose_msv > al.threshold_msv
),
up AS (
    SELECT worker_id, category, CASE WHEN above_a THEN 'A' ELSE 'B' END AS suggested_category, quantity,
           window_start, window_end, dose_msv,
           concat('12-month ', quantity, CASE WHEN quantity <> 'Hp10' THEN concat(' (', body_site, ')') ELSE '' END,
                  ' sum ', CAST(round(dose_msv, 2) AS VARCHAR), ' mSv (', to_char(window_start, '%Y-%m'), '..',
                  to_char(window_end, '%Y-%m'), ') above the ', CAST(allowed_msv AS VARCHAR), ' mSv that ',
                  CASE category WHEN 'none' THEN 'a non-classified worker' ELSE concat('category ', category) END,
                  ' allows: classify ', CASE WHEN above_a THEN 'A' ELSE 'B' END,
                  ' (R4451-57), after the occupational physician''s opinion') AS evidence
    FROM up_windows
    WHERE pick = 1
),
a_throughout AS (
    -- Category A in force over the whole of the last 24 months.
    SELECT h.worker_id
    FROM worker_history h
    CROSS JOIN as_of
    WHERE h.valid_to IS NULL
       OR CAST(date_part('year', h.valid_to) * 12 + date_part('month', h.valid_to) - 1 AS BIGINT) > as_of.month - 24
    GROUP BY h.worker_id, as_of.month
    HAVING bool_and(h.category = 'A')
       AND MIN(CAST(date_part('year', h.valid_from) * 12 + date_part('month', h.valid_from) - 1 AS BIGINT))
           <= as_of.month - 23
),
down_windows AS (
    SELECT r.worker_id, r.quantity, MAX(r.dose_msv) AS max_msv, bool_or(r.dose_msv > a.threshold_msv) AS above_a,
           MIN(r.first_result_start) AS first_start, MAX(r.window_end) AS last_end
    FROM rolling_12_months r
    JOIN a_levels a ON a.quantity = r.quantity
    CROSS JOIN as_of
    WHERE r.end_month > as_of.month - 24
    GROUP BY r.worker_id, r.quantity
),
down AS (
    SELECT w.worker_id, w.category, label('B') AS suggested_category,
           label('Hp10') AS quantity,
           arrow_cast(make_date(CAST((as_of.month - 23) / 12 AS INT), CAST((as_of.month - 23) % 12 + 1 AS INT), 1),
                      'Timestamp(µs, "UTC")') AS window_start,
           MAX(d.last_end) AS window_end,
           coalesce(MAX(CASE WHEN d.quantity = 'Hp10' THEN d.max_msv END), 0.0) AS dose_msv,
           concat('category A for the last 24 months, but no 12-month window of them above the A thresholds: ',
                  string_agg(concat(d.quantity, ' at most ', CAST(round(d.max_msv, 2) AS VARCHAR), ' mSv'), ', '
                             ORDER BY d.quantity),
                  '; doses compatible with category B (R4451-57): review the classification with the',
                  ' occupational physician') AS evidence
    FROM workers w
    JOIN a_throughout t ON t.worker_id = w.worker_id
    JOIN down_windows d ON d.worker_id = w.worker_id
    CROSS JOIN as_of
    WHERE w.category = 'A'
    GROUP BY w.worker_id, w.category, as_of.month
    HAVING NOT bool_or(d.above_a)
       AND MIN(CAST(date_part('year', d.first_start) * 12 + date_part('month', d.first_start) - 1 AS BIGINT))
           <= as_of.month - 23
)
SELECT worker_id, category, suggested_category, window_start, window_end, dose_msv, evidence, quantity,
       CASE WHEN suggested_category = 'B' AND category = 'A' THEN 'down' ELSE 'up' END AS direction
FROM up
UNION ALL
SELECT worker_id, category, suggested_category, window_start, window_end, dose_msv, evidence, quantity,
       CASE WHEN suggested_category = 'B' AND category = 'A' THEN 'down' ELSE 'up' END AS direction
FROM down
