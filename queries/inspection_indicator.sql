-- name: inspection_indicator
-- description: The inspection's own indicator, "résultats dosimétriques analysés et
--   hétérogénéités éventuelles expliquées" (ASN inspections of interventional practices,
--   DOMAIN.md 7.3), per department and 12-month period: the last 12 months of data (ending with
--   the latest month holding a legal result anywhere in the lake) and the 12 months before, for
--   the comparison with the previous year.
--   results: legal results (legal_results) whose period ends in the period, issued in the
--   department. analysed_share: the share of them that were analysed, i.e. have a dose and could
--   be compared (at least peer_min_workers other workers of the same role and department with a
--   result of that quantity in the quarter, or, for the whole-body badge, operational readings
--   the same month), or that a person covered with an explanation; a lost or unreturned result
--   is not analysed. heterogeneities: the statistical findings of the period in the department
--   (peer_outlier, passive_operational_mismatch, zero_while_peers_exposed), explained or not;
--   explained_share: the share covered by an `alara explain` entry (1 when there is none to
--   explain). band, from the lower of the two shares, as ASNR's inspection summaries band them:
--   satisfactory at or above indicator_satisfactory (85 %), progress from indicator_priority
--   (65 %), priority below.
WITH as_of AS (
    SELECT MAX(end_month) AS month FROM legal_results
),
periods AS (
    SELECT k AS period_index, as_of.month - 12 * k - 11 AS first_month, as_of.month - 12 * k AS last_month
    FROM as_of
    CROSS JOIN (VALUES (0), (1)) AS p(k)
),
results AS (
    SELECT l.*, w.role, (l.end_month - l.end_month % 3) / 3 AS quarter
    FROM legal_results l
    LEFT JOIN workers w ON w.worker_id = l.worker_id
),
group_sizes AS (
    SELECT role, department, quantity, quarter, COUNT(DISTINCT worker_id) AS members
    FROM results
    WHERE NOT is_missing
    GROUP BY role, department, quantity, quarter
),
operational_months AS (
    SELECT DISTINCT worker_id,
           CAST(date_part('year', period_start) * 12 + date_part('month', period_start) - 1 AS BIGINT) AS month
    FROM readings_all
    WHERE monitoring = 'operational'
),
covered_results AS (
    -- Results whose period a person explained.
    SELECT DISTINCT r.source, r.reading_id
    FROM results r
    JOIN explanations e
      ON e.worker_id = r.worker_id AND e.period_start < r.period_end AND e.period_end + INTERVAL '1 day' > r.period_start
),
judged AS (
    SELECT r.department, r.end_month,
           NOT r.is_missing
           AND (coalesce(g.members, 0) - 1 >= p.peer_min_workers
                OR (r.quantity = 'Hp10' AND o.worker_id IS NOT NULL)
                OR c.reading_id IS NOT NULL) AS analysed
    FROM results r
    CROSS JOIN detect_parameters p
    LEFT JOIN group_sizes g
      ON g.role = r.role AND g.department = r.department AND g.quantity = r.quantity AND g.quarter = r.quarter
    LEFT JOIN operational_months o ON o.worker_id = r.worker_id AND o.month = r.end_month
    LEFT JOIN covered_results c ON c.source = r.source AND c.reading_id = r.reading_id
),
result_counts AS (
    SELECT j.department, pr.period_index, COUNT(*) AS results,
           SUM(CASE WHEN j.analysed THEN 1 ELSE 0 END) AS analysed
    FROM judged j
    JOIN periods pr ON j.end_month BETWEEN pr.first_month AND pr.last_month
    GROUP BY j.department, pr.period_index
),
signals AS (
    SELECT worker_id, signal, period_start, period_end, department FROM heterogeneity_signals
    UNION ALL
    SELECT worker_id, signal, period_start, period_end, department FROM missing_badge_signals
    WHERE signal = 'zero_while_peers_exposed'
),
covered_signals AS (
    -- The same matching rule as unexplained_heterogeneity and missing_badge.
    SELECT DISTINCT s.worker_id, s.signal, s.period_start, s.period_end
    FROM signals s
    JOIN explanations e
      ON e.worker_id = s.worker_id AND (e.signal IS NULL OR e.signal = s.signal)
     AND e.period_start < s.period_start + INTERVAL '1 day'
     AND e.period_end + INTERVAL '1 day' > s.period_end
),
judged_signals AS (
    SELECT s.department,
           CAST(date_part('year', s.period_end - INTERVAL '1 microsecond') * 12
                + date_part('month', s.period_end - INTERVAL '1 microsecond') - 1 AS BIGINT) AS end_month,
           c.worker_id IS NOT NULL AS explained
    FROM signals s
    LEFT JOIN covered_signals c
      ON c.worker_id = s.worker_id AND c.signal = s.signal AND c.period_start = s.period_start
     AND c.period_end = s.period_end
),
signal_counts AS (
    SELECT j.department, pr.period_index, COUNT(*) AS heterogeneities,
           SUM(CASE WHEN j.explained THEN 1 ELSE 0 END) AS explained
    FROM judged_signals j
    JOIN periods pr ON j.end_month BETWEEN pr.first_month AND pr.last_month
    GROUP BY j.department, pr.period_index
),
shares AS (
    SELECT r.department, pr.period_index, pr.first_month, pr.last_month, r.results,
           CAST(r.analysed AS DOUBLE) / CAST(r.results AS DOUBLE) AS analysed_share,
           coalesce(s.heterogeneities, 0) AS heterogeneities, coalesce(s.explained, 0) AS explained,
           CASE WHEN coalesce(s.heterogeneities, 0) = 0 THEN 1.0
                ELSE CAST(s.explained AS DOUBLE) / CAST(s.heterogeneities AS DOUBLE) END AS explained_share
    FROM result_counts r
    JOIN periods pr ON pr.period_index = r.period_index
    LEFT JOIN signal_counts s ON s.department = r.department AND s.period_index = r.period_index
)
SELECT s.department,
       arrow_cast(make_date(CAST(s.first_month / 12 AS INT), CAST(s.first_month % 12 + 1 AS INT), 1),
                  'Timestamp(µs, "UTC")') AS period_start,
       arrow_cast(make_date(CAST(s.last_month / 12 AS INT), CAST(s.last_month % 12 + 1 AS INT), 1),
                  'Timestamp(µs, "UTC")') + INTERVAL '1 month' - INTERVAL '1 day' AS period_end,
       CAST(s.results AS BIGINT) AS results, round(s.analysed_share, 4) AS analysed_share,
       CAST(s.heterogeneities AS BIGINT) AS heterogeneities, round(s.explained_share, 4) AS explained_share,
       CASE WHEN least(s.analysed_share, s.explained_share) >= p.indicator_satisfactory THEN 'satisfactory'
            WHEN least(s.analysed_share, s.explained_share) >= p.indicator_priority THEN 'progress'
            ELSE 'priority'
       END AS band,
       CASE s.period_index WHEN 0 THEN 'last 12 months' ELSE 'previous 12 months' END AS period_label,
       CAST(s.explained AS BIGINT) AS explained
FROM shares s
CROSS JOIN detect_parameters p
