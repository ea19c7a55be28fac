-- name: missing_badge_signals
-- description: Every sign that a dosimeter was not worn or not read, before explanations are
--   applied (missing_badge is this view minus what `alara explain` covers). One row per worker,
--   signal and period:
--   not_returned: a legal result (passive Hp10, lens, extremity) that came back lost,
--   not_returned, damaged or with no_result, and that no dose for the same month replaced; one
--   row per wearing period.
--   zero_while_peers_exposed: a run of at least zero_run_min_results consecutive passive Hp10
--   results below the recording threshold while the peers were exposed, scored as the
--   probability of such a run under the peers' distribution. Peers are the other workers with
--   the same role whose badges of the run's months were issued in the same department (at least
--   peer_min_workers of them; smaller groups are not compared); a peer's month without any
--   procedure, in a department that records procedures that month, is left out (away, not
--   comparable). Exposed means their median badge of those months reached the recording
--   threshold. Each peer's share of below-threshold badges over those months is taken with half
--   a badge added on each side (none gives a small but non-zero share), and p is the mean over
--   peers of share^k: the chance of k below-threshold badges in a row for a worker drawn from
--   the peers, so that a group where some people are often below threshold (part-time work,
--   doses straddling the threshold) does not make its quieter members findings. Flagged when p
--   is under zero_run_p_value and passes Benjamini-Hochberg at fdr_rate among everyone tested
--   in the calendar quarter where the run ends (every worker with a passive Hp10 result that
--   quarter), unless the worker attended no procedure in those months while the peers did
--   (away, not unbadged; this test applies only where the dose-archiving system records
--   procedures).
--   procedure_without_dosimeter: days on which the worker attended a fluoroscopy procedure
--   (fluoroscopy time or dose-area product above 0) with no operational dosimeter reading that
--   day (an entry starting or ending that day, UTC); one row per worker and month. Only in
--   departments that use operational dosimeters at all (at least one operational reading).
--   no_lens_dosimeter / no_extremity_dosimeter: a calendar quarter in which the worker's post
--   calls for an eye-lens dosimeter (or a ring) and no such result exists (not even a lost one):
--   an operator at the table (radiologist, cardiologist, surgeon) whose fluoroscopy workload in
--   the department reached lens_call_dap_gycm2 of dose-area product (or, where no DAP is
--   recorded, lens_call_fluoroscopy_min minutes) for the lens, extremity_call_dap_gycm2 for the
--   hands; or anyone whose collar or over-apron dosimeter summed lens_call_surrogate_msv (lens)
--   or extremity_call_surrogate_msv (hands) in the quarter (DOMAIN.md 7.2: R65, R66).
--   evidence says what a person can check: which periods, dosimeters, procedures, peer median.

-- label('text') is the literal 'text', hidden from DataFusion's constant folding: see crates/detect/src/udf.rs.
WITH missing AS (
    SELECT worker_id, period_start, period_end,
           string_agg(DISTINCT quantity, ', ') AS quantities,
           COUNT(*) AS evidence_count,
           string_agg(concat(monitoring, ' ', quantity, ' dosimeter ', dosimeter_id, ' (', source, ' ', reading_id,
                             '): ', status), '; ') AS detail
    FROM legal_results
    WHERE is_missing
    GROUP BY worker_id, period_start, period_end
),
not_returned AS (
    SELECT worker_id, label('not_returned') AS signal, quantities AS quantity, period_start, period_end,
           evidence_count, CAST(NULL AS DOUBLE) AS value_msv, CAST(NULL AS DOUBLE) AS reference_msv,
           CAST(NULL AS DOUBLE) AS p_value,
           concat('no dose for ', to_char(period_start, '%Y-%m-%d'), '..', to_char(period_end, '%Y-%m-%d'), ': ',
                  detail, '; the dose of the period is unknown, not 0') AS evidence
    FROM missing
),
hp10 AS (
    SELECT worker_id, department, period_start, period_end, end_month, counted_msv, recording_threshold_msv,
           counted_msv < recording_threshold_msv AS below
    FROM legal_results
    WHERE quantity = 'Hp10' AND NOT is_missing
),
islands AS (
    SELECT *,
           ROW_NUMBER() OVER (PARTITION BY worker_id ORDER BY period_end, period_start)
           - ROW_NUMBER() OVER (PARTITION BY worker_id, below ORDER BY period_end, period_start) AS island
    FROM hp10
),
runs AS (
    -- department: where the badges of the run were issued (the department of the readings, which
    -- follows a worker who moved, unlike the current reference data).
    SELECT worker_id, MAX(department) AS department, island, COUNT(*) AS run_length, SUM(counted_msv) AS run_dose_msv, MIN(period_start) AS period_start,
           MAX(period_end) AS period_end, MIN(end_month) AS first_month, MAX(end_month) AS last_month
    FROM islands
    WHERE below
    GROUP BY worker_id, island
),
dept_months_with_procedures AS (
    SELECT DISTINCT department, month FROM monthly_workload
),
peer_badges AS (
    -- The badges of the other workers with the same role and department in the run's months, each
    -- with its peer's share of below-threshold badges over those months (half a badge added on
    -- each side, so that a peer with none gives a small but non-zero share). A peer's month
    -- without procedures where the department records them is left out.
    SELECT r.worker_id, r.run_length, r.run_dose_msv, r.period_start, r.period_end, r.last_month, w.role, r.department,
           ph.worker_id AS peer_id, ph.counted_msv, ph.below, ph.recording_threshold_msv,
           (SUM(CASE WHEN ph.below THEN 1 ELSE 0 END) OVER (PARTITION BY r.worker_id, r.period_start, ph.worker_id) + 0.5)
           / (COUNT(*) OVER (PARTITION BY r.worker_id, r.period_start, ph.worker_id) + 1.0) AS peer_below_share
    FROM runs r
    JOIN workers w ON w.worker_id = r.worker_id
    JOIN hp10 ph
      ON ph.department = r.department AND ph.worker_id <> r.worker_id
     AND ph.end_month BETWEEN r.first_month AND r.last_month
    JOIN workers pw ON pw.worker_id = ph.worker_id AND pw.role = w.role
    LEFT JOIN monthly_workload pm
      ON pm.worker_id = ph.worker_id AND pm.month = ph.end_month AND pm.department = ph.department
    LEFT JOIN dept_months_with_procedures dm ON dm.department = ph.department AND dm.month = ph.end_month
    CROSS JOIN detect_parameters p
    WHERE r.run_length >= p.zero_run_min_results
      AND (pm.worker_id IS NOT NULL OR dm.department IS NULL)
),
scored_runs AS (
    SELECT worker_id, run_length, run_dose_msv, period_start, period_end, last_month, role, department,
           COUNT(DISTINCT peer_id) AS peers,
           COUNT(*) AS peer_badges,
           SUM(CASE WHEN below THEN 1 ELSE 0 END) AS peer_below,
           median(counted_msv) AS peer_median_msv,
           median(recording_threshold_msv) AS recording_threshold_msv,
           median(peer_below_share) AS typical_below_share
    FROM peer_badges
    GROUP BY worker_id, run_length, run_dose_msv, period_start, period_end, last_month, role, department
),
run_mixture AS (
    -- p = mean over peers of share^k.
    SELECT worker_id, period_start, AVG(power(share, CAST(run_length AS DOUBLE))) AS p_value
    FROM (SELECT DISTINCT worker_id, period_start, run_length, peer_id, peer_below_share AS share FROM peer_badges)
    GROUP BY worker_id, period_start
),
run_workload AS (
    -- Procedures the worker and the peers attended in the run's months: a worker who attended
    -- none while the peers worked was away (leave, stopped exposed work), not without a badge.
    SELECT r.worker_id, r.period_start,
           coalesce(SUM(CASE WHEN mw.worker_id = r.worker_id THEN mw.procedures END), 0) AS own_procedures,
           coalesce(SUM(CASE WHEN mw.worker_id <> r.worker_id THEN mw.procedures END), 0) AS peer_procedures
    FROM runs r
    JOIN workers w ON w.worker_id = r.worker_id
    JOIN monthly_workload mw
      ON mw.month BETWEEN r.first_month AND r.last_month
     AND (mw.worker_id = r.worker_id OR mw.department = r.department)
    JOIN workers pw ON pw.worker_id = mw.worker_id AND pw.role = w.role
    GROUP BY r.worker_id, r.period_start
),
zero_runs AS (
    SELECT s.*, coalesce(rw.own_procedures, 0) AS own_procedures, coalesce(rw.peer_procedures, 0) AS peer_procedures,
           m.p_value, (s.last_month - s.last_month % 3) / 3 AS quarter
    FROM scored_runs s
    JOIN run_mixture m ON m.worker_id = s.worker_id AND m.period_start = s.period_start
    LEFT JOIN run_workload rw ON rw.worker_id = s.worker_id AND rw.period_start = s.period_start
),
zero_tests AS (
    -- Runs that can be reported, ranked by p within the quarter where they end; everyone with a
    -- passive Hp10 result that quarter counts as tested (the others have p = 1).
    SELECT z.*,
           ROW_NUMBER() OVER (PARTITION BY z.quarter ORDER BY z.p_value, z.worker_id, z.period_start) AS p_rank,
           t.tested
    FROM zero_runs z
    CROSS JOIN detect_parameters p
    JOIN (SELECT (end_month - end_month % 3) / 3 AS quarter, COUNT(DISTINCT worker_id) AS tested
          FROM hp10 GROUP BY (end_month - end_month % 3) / 3) t ON t.quarter = z.quarter
    WHERE z.peers >= p.peer_min_workers AND z.peer_median_msv >= z.recording_threshold_msv
      AND NOT (z.own_procedures = 0 AND z.peer_procedures > 0)
),
zero_bh AS (
    SELECT z.*,
           MAX(CASE WHEN z.p_value <= p.fdr_rate * z.p_rank / z.tested THEN z.p_value END) OVER (PARTITION BY z.quarter)
               AS bh_cutoff
    FROM zero_tests z
    CROSS JOIN detect_parameters p
),
zero_while_peers_exposed AS (
    SELECT z.worker_id, label('zero_while_peers_exposed') AS signal, 'Hp10' AS quantity, z.period_start, z.period_end,
           z.run_length AS evidence_count, z.run_dose_msv AS value_msv, z.peer_median_msv AS reference_msv, z.p_value,
           concat(CAST(z.run_length AS VARCHAR), ' consecutive below-threshold passive Hp10 badges ',
                  to_char(z.period_start, '%Y-%m'), '..', to_char(z.period_end, '%Y-%m'), ' while ',
                  CAST(z.peers AS VARCHAR), ' peers (', z.role, ', ', z.department, ') had median ',
                  CAST(round(z.peer_median_msv, 3) AS VARCHAR), ' mSv per badge, ',
                  CAST(z.peer_below AS VARCHAR), ' of their ', CAST(z.peer_badges AS VARCHAR),
                  ' badges of those months below threshold',
                  CASE WHEN z.own_procedures > 0
                       THEN concat('; the worker attended ', CAST(z.own_procedures AS VARCHAR), ' procedures meanwhile')
                       ELSE '' END,
                  '; probability of such a run: ', CAST(z.p_value AS VARCHAR), ', among ', CAST(z.tested AS VARCHAR),
                  ' workers tested in the quarter (false discovery rate ', CAST(p.fdr_rate AS VARCHAR), ')') AS evidence
    FROM zero_bh z
    CROSS JOIN detect_parameters p
    WHERE z.p_value < p.zero_run_p_value AND z.p_value <= z.bh_cutoff
),
operational_days AS (
    -- Days on which the worker had an operational reading (day of entry and day of exit). Any
    -- copy at the identity's highest revision proves the dosimeter was worn: a hash aggregate
    -- here instead of the `readings` window keeps this cheap over millions of entries.
    SELECT DISTINCT a.worker_id,
           unnest(make_array(date_trunc('day', a.period_start), date_trunc('day', a.period_end))) AS day
    FROM readings_all a
    JOIN (SELECT source, reading_id, MAX(revision) AS revision
          FROM readings_all GROUP BY source, reading_id) latest
      ON a.source = latest.source AND a.reading_id = latest.reading_id AND a.revision = latest.revision
    WHERE a.monitoring = 'operational'
),
uncovered AS (
    SELECT p.worker_id, p.procedure_id, p.started_at, p.ended_at, date_trunc('day', p.started_at) AS day,
           date_trunc('month', p.started_at) AS month
    FROM procedures p
    LEFT JOIN operational_days o ON o.worker_id = p.worker_id AND o.day = date_trunc('day', p.started_at)
    WHERE (coalesce(p.fluoroscopy_s, 0) > 0 OR coalesce(p.dap_gycm2, 0) > 0)
      AND o.worker_id IS NULL
      -- Departments with operational dosimetry at all (any copy of any reading says so).
      AND p.department IN (SELECT DISTINCT department FROM readings_all WHERE monitoring = 'operational')
),
uncovered_days AS (
    SELECT worker_id, month, day, COUNT(*) AS procedures, MAX(ended_at) AS last_end,
           string_agg(procedure_id, ' ' ORDER BY started_at) AS procedure_ids
    FROM uncovered
    GROUP BY worker_id, month, day
),
procedure_without_dosimeter AS (
    SELECT worker_id, label('procedure_without_dosimeter') AS signal, 'Hp10' AS quantity,
           arrow_cast(MIN(day), 'Timestamp(µs, "UTC")') AS period_start,
           arrow_cast(MAX(last_end), 'Timestamp(µs, "UTC")') AS period_end,
           SUM(procedures) AS evidence_count, CAST(NULL AS DOUBLE) AS value_msv,
           CAST(NULL AS DOUBLE) AS reference_msv, CAST(NULL AS DOUBLE) AS p_value,
           concat(CAST(SUM(procedures) AS VARCHAR), ' fluoroscopy procedures on ', CAST(COUNT(*) AS VARCHAR),
                  ' days of ', to_char(MIN(day), '%Y-%m'), ' with no operational dosimeter reading that day (',
                  string_agg(to_char(day, '%d'), ', ' ORDER BY day), '); procedures ',
                  string_agg(procedure_ids, ' ' ORDER BY day)) AS evidence
    FROM uncovered_days
    GROUP BY worker_id, month
),
quarter_load AS (
    SELECT worker_id, (month - month % 3) / 3 AS quarter, MAX(department) AS department,
           SUM(fluoroscopy_procedures) AS fluoroscopy_procedures, SUM(fluoroscopy_min) AS fluoroscopy_min,
           SUM(dap_gycm2) AS dap_gycm2
    FROM monthly_workload
    GROUP BY worker_id, (month - month % 3) / 3
),
quarter_surrogate AS (
    SELECT worker_id, (end_month - end_month % 3) / 3 AS quarter, SUM(dose_msv) AS surrogate_msv
    FROM (
        SELECT worker_id,
               CAST(date_part('year', period_end - INTERVAL '1 microsecond') * 12
                    + date_part('month', period_end - INTERVAL '1 microsecond') - 1 AS BIGINT) AS end_month,
               MAX(CASE WHEN status IN ('measured', 'estimated') THEN dose_msv ELSE 0.0 END) AS dose_msv
        FROM readings
        WHERE monitoring <> 'operational' AND quantity IN ('Hp10', 'Hp007') AND position IN ('collar', 'over_apron')
        GROUP BY 1, 2
    )
    GROUP BY worker_id, (end_month - end_month % 3) / 3
),
quarter_worn AS (
    -- Lens and ring dosimeters issued in the quarter (any status: a lost one was issued).
    SELECT worker_id, (end_month - end_month % 3) / 3 AS quarter,
           bool_or(quantity = 'Hp3') AS lens,
           bool_or(quantity = 'Hp007' AND coalesce(position, '') IN ('finger', 'wrist', '')) AS ring
    FROM legal_results
    GROUP BY worker_id, (end_month - end_month % 3) / 3
),
quarter_calls AS (
    SELECT coalesce(l.worker_id, s.worker_id) AS worker_id, coalesce(l.quarter, s.quarter) AS quarter,
           l.department, coalesce(l.fluoroscopy_procedures, 0) AS fluoroscopy_procedures,
           coalesce(l.fluoroscopy_min, 0.0) AS fluoroscopy_min, coalesce(l.dap_gycm2, 0.0) AS dap_gycm2,
           coalesce(s.surrogate_msv, 0.0) AS surrogate_msv, w.role,
           coalesce(q.lens, false) AS has_lens, coalesce(q.ring, false) AS has_ring,
           w.role IN ('radiologist', 'cardiologist', 'surgeon') AS operator
    FROM quarter_load l
    FULL OUTER JOIN quarter_surrogate s ON s.worker_id = l.worker_id AND s.quarter = l.quarter
    JOIN workers w ON w.worker_id = coalesce(l.worker_id, s.worker_id)
    LEFT JOIN quarter_worn q ON q.worker_id = coalesce(l.worker_id, s.worker_id) AND q.quarter = coalesce(l.quarter, s.quarter)
),
coverage AS (
    SELECT c.*,
           (c.operator AND (c.dap_gycm2 >= p.lens_call_dap_gycm2
                            OR (c.dap_gycm2 = 0 AND c.fluoroscopy_min >= p.lens_call_fluoroscopy_min)))
               OR c.surrogate_msv >= p.lens_call_surrogate_msv AS lens_called,
           (c.operator AND c.dap_gycm2 >= p.extremity_call_dap_gycm2)
               OR c.surrogate_msv >= p.extremity_call_surrogate_msv AS ring_called,
           arrow_cast(make_date(CAST(c.quarter / 4 AS INT), CAST((c.quarter % 4) * 3 + 1 AS INT), 1),
                      'Timestamp(µs, "UTC")') AS period_start,
           arrow_cast(make_date(CAST(c.quarter / 4 AS INT), CAST((c.quarter % 4) * 3 + 1 AS INT), 1),
                      'Timestamp(µs, "UTC")') + INTERVAL '3 months' - INTERVAL '1 day' AS period_end,
           concat(c.role, coalesce(concat(', ', c.department), ''), ': ',
                  CAST(c.fluoroscopy_procedures AS VARCHAR), ' fluoroscopy procedures, ',
                  CAST(CAST(round(c.fluoroscopy_min, 0) AS BIGINT) AS VARCHAR), ' min of fluoroscopy, ',
                  CAST(CAST(round(c.dap_gycm2, 0) AS BIGINT) AS VARCHAR), ' Gy.cm2 of dose-area product in ',
                  CAST(CAST(c.quarter / 4 AS BIGINT) AS VARCHAR), '-Q', CAST(c.quarter % 4 + 1 AS VARCHAR),
                  CASE WHEN c.surrogate_msv > 0
                       THEN concat(', ', CAST(round(c.surrogate_msv, 2) AS VARCHAR),
                                   ' mSv at the collar or over the apron') ELSE '' END) AS workload_text
    FROM quarter_calls c
    CROSS JOIN detect_parameters p
),
no_lens_dosimeter AS (
    SELECT worker_id, label('no_lens_dosimeter') AS signal,
           label('Hp3') AS quantity, period_start, period_end,
           fluoroscopy_procedures AS evidence_count, surrogate_msv AS value_msv,
           CAST(NULL AS DOUBLE) AS reference_msv, CAST(NULL AS DOUBLE) AS p_value,
           concat(workload_text, '; this calls for an eye-lens dosimeter and no lens result exists for the quarter',
                  ' (the lens limit is 20 mSv in 12 months; see lens_estimate for an estimate)') AS evidence
    FROM coverage
    WHERE lens_called AND NOT has_lens
),
no_extremity_dosimeter AS (
    SELECT worker_id, label('no_extremity_dosimeter') AS signal,
           label('Hp007') AS quantity, period_start, period_end,
           fluoroscopy_procedures AS evidence_count, surrogate_msv AS value_msv,
           CAST(NULL AS DOUBLE) AS reference_msv, CAST(NULL AS DOUBLE) AS p_value,
           concat(workload_text, '; this calls for a ring (extremity dosimeter) and no ring result exists for the',
                  ' quarter (hands near the beam can exceed 500 mSv unseen: Pitie-Salpetriere 2017)') AS evidence
    FROM coverage
    WHERE ring_called AND NOT has_ring
),
all_signals AS (
    SELECT * FROM not_returned
    UNION ALL SELECT * FROM zero_while_peers_exposed
    UNION ALL SELECT * FROM procedure_without_dosimeter
    UNION ALL SELECT * FROM no_lens_dosimeter
    UNION ALL SELECT * FROM no_extremity_dosimeter
)
SELECT a.worker_id, a.signal, a.period_start, a.period_end, a.evidence, a.quantity, w.department, w.role,
       CAST(a.evidence_count AS BIGINT) AS evidence_count, a.value_msv, a.reference_msv, a.p_value
FROM all_signals a
LEFT JOIN workers w ON w.worker_id = a.worker_id
