-- name: heterogeneity_signals
-- description: Doses that differ from what comparable evidence predicts, before explanations
--   are applied (unexplained_heterogeneity is this view minus what `alara explain` covers).
--   peer_outlier: per worker, quantity, body site (each eye, each hand: scored separately) and
--   calendar quarter, the legal dose divided by the
--   workload of the quarter (dose-area product when every member of the peer group has one,
--   else the number of procedures), compared on a log scale with the other workers of the same
--   role and department in that quarter. Robust score: z = (log ratio - median) / scale, where
--   scale is the largest of the group's robust spread (1.4826 * MAD), the hospital's (the median
--   absolute deviation of every scored worker from their group's median, same quantity and
--   quarter: a small group's own MAD is too noisy to trust) and outlier_min_spread (0.25), so
--   that persistent person-to-person differences of habits and procedure mix, which published
--   operator studies show are wide, do not become findings; p_value = 2 * normal_sf(|z|).
--   Groups with fewer than peer_min_workers other members are not compared; a worker who
--   attended fewer than outlier_min_procedures procedures is not scored. Flagged when p_value
--   is under outlier_p_value and passes Benjamini-Hochberg at fdr_rate over every score of the
--   quarter (everyone tested, all quantities and body sites), so the expected share of false
--   findings among those flagged stays at or below fdr_rate. Below-threshold results are values censored in
--   [0, threshold]: half the threshold for the peers' median and spread, and the score of a
--   worker is taken at the end of that interval nearest the median (a high outlier must be one
--   with its below-threshold results at 0), so censoring alone never makes an outlier. A low
--   outlier is reported only when every result of the quarter was measured (runs of zeros
--   belong to missing_badge).
--   reference_msv is the dose at the peers' median rate for the worker's workload; score is z.
--   The department is the one the quarter's results were issued in (it follows a worker who
--   moved), the role the worker's current one.
--   passive_operational_mismatch: each passive Hp10 badge against the sum of the worker's
--   operational Hp10 readings that entered during its wearing period (through the end of its last
--   day; an entry belongs to the latest badge started before it; at least one entry needed),
--   scaled by the department's usual badge/operational ratio for that operational position (so an
--   operational dosimeter worn over the apron is compared fairly; 1 when there is too little
--   data). A below-threshold badge is read as anywhere in [0, recording threshold], a
--   below-threshold operational reading likewise. Flagged when one side exceeds the other by more
--   than mismatch_factor and by more than mismatch_min_msv beyond those bounds. score is
--   log2(passive / expected) (positive: the badge saw more than the worker, e.g. left in the
--   room), dose_msv the badge, reference_msv the expected badge dose from the operational sum.

-- label('text') is the literal 'text', hidden from DataFusion's constant folding: see crates/detect/src/udf.rs.
WITH quarter_dose AS (
    SELECT worker_id, quantity, body_site, (end_month - end_month % 3) / 3 AS quarter, MAX(department) AS department,
           MIN(period_start) AS period_start, MAX(period_end) AS period_end,
           SUM(counted_msv) AS dose_msv,
           SUM(CASE WHEN counted_msv < recording_threshold_msv THEN recording_threshold_msv / 2.0
                    ELSE counted_msv END) AS censored_dose_msv,
           SUM(CASE WHEN counted_msv < recording_threshold_msv THEN recording_threshold_msv
                    ELSE counted_msv END) AS upper_dose_msv,
           bool_or(counted_msv < recording_threshold_msv) AS any_below
    FROM legal_results
    WHERE NOT is_missing
    GROUP BY worker_id, quantity, body_site, (end_month - end_month % 3) / 3
),
quarter_workload AS (
    SELECT worker_id, (month - month % 3) / 3 AS quarter, SUM(procedures) AS procedures,
           SUM(dap_gycm2) AS dap_gycm2
    FROM monthly_workload
    GROUP BY worker_id, (month - month % 3) / 3
),
ratios AS (
    SELECT d.*, w.role, q.procedures, q.dap_gycm2,
           MIN(CASE WHEN q.dap_gycm2 > 0 THEN 1 ELSE 0 END) OVER (
               PARTITION BY w.role, d.department, d.quantity, d.body_site, d.quarter) = 1 AS use_dap
    FROM quarter_dose d
    JOIN quarter_workload q ON q.worker_id = d.worker_id AND q.quarter = d.quarter
    JOIN workers w ON w.worker_id = d.worker_id
    CROSS JOIN detect_parameters p
    WHERE q.procedures >= p.outlier_min_procedures
),
logs AS (
    SELECT *,
           CASE WHEN use_dap THEN dap_gycm2 ELSE CAST(procedures AS DOUBLE) END AS workload,
           CASE WHEN use_dap THEN 'Gy.cm2 of dose-area product' ELSE 'procedures' END AS workload_unit
    FROM ratios
),
log_ratios AS (
    SELECT *,
           ln(censored_dose_msv / workload) AS log_ratio,
           -- The bounds of the censored dose: below-threshold results at 0 and at the threshold.
           CASE WHEN dose_msv > 0 THEN ln(dose_msv / workload) END AS low_log_ratio,
           ln(upper_dose_msv / workload) AS high_log_ratio
    FROM logs
),
centred AS (
    SELECT *,
           median(log_ratio) OVER (PARTITION BY role, department, quantity, body_site, quarter) AS median_log_ratio,
           COUNT(*) OVER (PARTITION BY role, department, quantity, body_site, quarter) AS members
    FROM log_ratios
),
eligible AS (
    SELECT c.*
    FROM centred c
    CROSS JOIN detect_parameters p
    WHERE c.members - 1 >= p.peer_min_workers
),
spread AS (
    SELECT c.*,
           greatest(1.4826 * median(abs(c.log_ratio - c.median_log_ratio)) OVER (
                        PARTITION BY c.role, c.department, c.quantity, c.body_site, c.quarter),
                    1.4826 * median(abs(c.log_ratio - c.median_log_ratio)) OVER (PARTITION BY c.quantity, c.quarter),
                    p.outlier_min_spread) AS scale
    FROM eligible c
    CROSS JOIN detect_parameters p
),
scored AS (
    -- A high outlier must be one even with its below-threshold results at 0, a low one even
    -- with them at the threshold: censoring alone never makes an outlier.
    SELECT *,
           CASE WHEN (low_log_ratio - median_log_ratio) / scale > 0 THEN (low_log_ratio - median_log_ratio) / scale
                WHEN (high_log_ratio - median_log_ratio) / scale < 0 THEN (high_log_ratio - median_log_ratio) / scale
                ELSE 0.0
           END AS z
    FROM spread
),
tested AS (
    -- Benjamini-Hochberg over every score of the quarter; a score that cannot be reported (a low
    -- one with below-threshold results) is a test with p = 1.
    SELECT *,
           CASE WHEN z > 0 OR NOT any_below THEN least(1.0, 2.0 * normal_sf(abs(z))) ELSE 1.0 END AS p_test
    FROM scored
),
ranked AS (
    SELECT t.*,
           ROW_NUMBER() OVER (PARTITION BY t.quarter ORDER BY t.p_test, t.worker_id, t.quantity, t.body_site) AS p_rank,
           COUNT(*) OVER (PARTITION BY t.quarter) AS tests
    FROM tested t
),
bh AS (
    SELECT r.*,
           MAX(CASE WHEN r.p_test <= p.fdr_rate * r.p_rank / r.tests THEN r.p_test END) OVER (PARTITION BY r.quarter)
               AS bh_cutoff
    FROM ranked r
    CROSS JOIN detect_parameters p
),
peer_outlier AS (
    SELECT s.worker_id, label('peer_outlier') AS signal, s.quantity, s.period_start, s.period_end, s.dose_msv,
           exp(s.median_log_ratio) * s.workload AS reference_msv, s.z AS score,
           s.p_test AS p_value,
           concat(s.quantity, CASE WHEN s.quantity <> 'Hp10' THEN concat(' (', s.body_site, ')') ELSE '' END, ' ',
                  CAST(round(s.dose_msv, 2) AS VARCHAR), ' mSv in ',
                  CAST(CAST(s.quarter / 4 AS BIGINT) AS VARCHAR), '-Q', CAST(s.quarter % 4 + 1 AS VARCHAR), ' for ',
                  CAST(round(s.workload, 1) AS VARCHAR), ' ', s.workload_unit, ' (', CAST(s.procedures AS VARCHAR),
                  ' procedures): ', CAST(round(exp(s.log_ratio - s.median_log_ratio), 2) AS VARCHAR),
                  ' times the median rate of ', CAST(s.members - 1 AS VARCHAR), ' peers (', s.role, ', ', s.department,
                  '), who would have received ', CAST(round(exp(s.median_log_ratio) * s.workload, 2) AS VARCHAR),
                  ' mSv; robust z ', CAST(round(s.z, 1) AS VARCHAR), ', p ', CAST(s.p_test AS VARCHAR),
                  ', among ', CAST(s.tests AS VARCHAR), ' scores of the quarter (false discovery rate ',
                  CAST(p.fdr_rate AS VARCHAR), ')') AS evidence
    FROM bh s
    CROSS JOIN detect_parameters p
    WHERE s.p_test < p.outlier_p_value AND s.p_test <= s.bh_cutoff
),
badges AS (
    SELECT worker_id, department, source, reading_id, dosimeter_id, status, period_start, period_end, counted_msv,
           CASE WHEN status = 'below_threshold' THEN recording_threshold_msv ELSE counted_msv END AS upper_msv,
           recording_threshold_msv
    FROM legal_results
    WHERE quantity = 'Hp10' AND NOT is_missing
),
entries AS (
    SELECT worker_id, source, reading_id, period_start, coalesce(position, 'unspecified') AS position,
           CASE WHEN status IN ('measured', 'estimated') THEN dose_msv ELSE 0.0 END AS dose_msv,
           CASE WHEN status = 'below_threshold' THEN recording_threshold_msv
                WHEN status IN ('measured', 'estimated') THEN dose_msv ELSE 0.0 END AS upper_msv
    FROM readings
    WHERE monitoring = 'operational' AND quantity = 'Hp10'
),
assigned AS (
    SELECT e.dose_msv AS entry_msv, e.upper_msv AS entry_upper_msv, e.position AS entry_position, b.*,
           ROW_NUMBER() OVER (PARTITION BY e.source, e.reading_id ORDER BY b.period_start DESC) AS badge_rank
    FROM entries e
    JOIN badges b
      ON b.worker_id = e.worker_id AND e.period_start >= b.period_start
     AND e.period_start < b.period_end + INTERVAL '1 day'
),
compared AS (
    SELECT worker_id, department, source, reading_id, dosimeter_id, status, period_start, period_end, counted_msv,
           upper_msv, recording_threshold_msv, MAX(entry_position) AS operational_position, COUNT(*) AS entries,
           SUM(entry_msv) AS operational_msv, SUM(entry_upper_msv) AS operational_upper_msv
    FROM assigned
    WHERE badge_rank = 1
    GROUP BY worker_id, department, source, reading_id, dosimeter_id, status, period_start, period_end, counted_msv,
             upper_msv, recording_threshold_msv
),
calibrated AS (
    -- The usual ratio of badge to operational sum in the department for that operational
    -- position (median over badges where both measured something; 1 when fewer than 5 such
    -- badges): an operational dosimeter worn over the apron reads many times the badge under
    -- it, and only a departure from the usual ratio says something about one badge.
    SELECT c.*,
           CASE WHEN COUNT(CASE WHEN c.status = 'measured' AND c.operational_msv > 0 THEN 1 END) OVER w >= 5
                THEN exp(median(CASE WHEN c.status = 'measured' AND c.operational_msv > 0
                                     THEN ln(c.counted_msv / c.operational_msv) END) OVER w)
                ELSE 1.0
           END AS usual_ratio
    FROM compared c
    WINDOW w AS (PARTITION BY c.department, c.operational_position)
),
expected AS (
    SELECT *, operational_msv * usual_ratio AS expected_msv, operational_upper_msv * usual_ratio AS expected_upper_msv
    FROM calibrated
),
passive_operational_mismatch AS (
    SELECT c.worker_id, label('passive_operational_mismatch') AS signal, 'Hp10' AS quantity, c.period_start, c.period_end,
           c.counted_msv AS dose_msv, c.expected_msv AS reference_msv,
           log2(greatest(CASE WHEN c.status = 'below_threshold' THEN c.recording_threshold_msv / 2.0
                              ELSE c.counted_msv END, 0.001)
                / greatest(c.expected_msv, 0.001)) AS score,
           CAST(NULL AS DOUBLE) AS p_value,
           concat('passive Hp10 badge ', c.dosimeter_id, ' (', c.source, ' ', c.reading_id, ') ',
                  CASE WHEN c.status = 'below_threshold'
                       THEN concat('below the ', CAST(c.recording_threshold_msv AS VARCHAR), ' mSv recording threshold')
                       ELSE concat(CAST(c.counted_msv AS VARCHAR), ' mSv') END,
                  ' for ', to_char(c.period_start, '%Y-%m-%d'), '..', to_char(c.period_end, '%Y-%m-%d'),
                  ' against ', CAST(round(c.operational_msv, 3) AS VARCHAR), ' mSv summed over ',
                  CAST(c.entries AS VARCHAR), ' operational entries',
                  CASE WHEN abs(ln(c.usual_ratio)) > 0.1
                       THEN concat(' (', CAST(round(c.expected_msv, 3) AS VARCHAR), ' mSv at the usual badge/operational ratio ',
                                   CAST(round(c.usual_ratio, 3) AS VARCHAR), ' of ', c.department, ')')
                       ELSE '' END,
                  ': ',
                  CASE WHEN c.counted_msv > c.expected_upper_msv
                       THEN 'the badge recorded more than the worker (left in the room, exposed while not worn?)'
                       ELSE 'the worker recorded more than the badge (badge not worn?)' END) AS evidence
    FROM expected c
    CROSS JOIN detect_parameters p
    WHERE (c.counted_msv > p.mismatch_factor * c.expected_upper_msv
           AND c.counted_msv - c.expected_upper_msv > p.mismatch_min_msv)
       OR (c.expected_msv > p.mismatch_factor * c.upper_msv
           AND c.expected_msv - c.upper_msv > p.mismatch_min_msv)
),
all_signals AS (
    SELECT * FROM peer_outlier
    UNION ALL SELECT * FROM passive_operational_mismatch
)
SELECT a.worker_id, a.signal, a.quantity, a.period_start, a.period_end, a.dose_msv, a.reference_msv, a.score,
       a.p_value, w.department, w.role, a.evidence
FROM all_signals a
LEFT JOIN workers w ON w.worker_id = a.worker_id
