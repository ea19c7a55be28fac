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
--   peer_min_workers of them); exposed means their median badge of those months reached the
--   recording threshold; p is the typical peer's share of below-threshold badges over those months (the median over
--   peers, each share with half a badge added on each side so that none gives a small but
--   non-zero p: a pooled share would let one heavily exposed peer make a whole group of
--   near-zero colleagues look exposed), and the score binomial_sf(k, k, p) = p^k is the chance
--   of k below-threshold badges in a row; flagged under zero_run_p_value,
--   unless the worker attended no procedure in those months while the peers did (away, not
--   unbadged; this test applies only where the dose-archiving system records procedures).
--   procedure_without_dosimeter: days on which the worker attended a fluoroscopy procedure
--   (fluoroscopy time or dose-area product above 0) with no operational dosimeter reading that
--   day (an entry starting or ending that day, UTC); one row per worker and month. Only in
--   departments that use operational dosimeters at all (at least one operational reading).
--   evidence says what a person can check: which periods, dosimeters, procedures, peer median.

-- Labels of UNION ALL branches are written concat('label', substr(worker_id, 1, 0)) instead of a
-- bare literal: DataFusion 55 treats a per-branch literal as a constant of the whole union and then
-- rejects an ORDER BY on that column (SanityCheckPlan, apache/datafusion#17372).
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
    SELECT worker_id, concat('not_returned', substr(worker_id, 1, 0)) AS signal, quantities AS quantity, period_start, period_end,
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
peer_badges AS (
    -- The badges of the other workers with the same role and department in the run's months, each
    -- with its peer's share of below-threshold badges over those months (half a badge added on
    -- each side, so that a peer with none gives a small but non-zero share).
    SELECT r.worker_id, r.run_length, r.run_dose_msv, r.period_start, r.period_end, w.role, r.department,
           ph.worker_id AS peer_id, ph.counted_msv, ph.below, ph.recording_threshold_msv,
           (SUM(CASE WHEN ph.below THEN 1 ELSE 0 END) OVER (PARTITION BY r.worker_id, r.period_start, ph.worker_id) + 0.5)
           / (COUNT(*) OVER (PARTITION BY r.worker_id, r.period_start, ph.worker_id) + 1.0) AS peer_below_share
    FROM runs r
    JOIN workers w ON w.worker_id = r.worker_id
    JOIN hp10 ph
      ON ph.department = r.department AND ph.worker_id <> r.worker_id
     AND ph.end_month BETWEEN r.first_month AND r.last_month
    JOIN workers pw ON pw.worker_id = ph.worker_id AND pw.role = w.role
    CROSS JOIN detect_parameters p
    WHERE r.run_length >= p.zero_run_min_results
),
scored_runs AS (
    SELECT worker_id, run_length, run_dose_msv, period_start, period_end, role, department,
           COUNT(DISTINCT peer_id) AS peers,
           COUNT(*) AS peer_badges,
           SUM(CASE WHEN below THEN 1 ELSE 0 END) AS peer_below,
           median(counted_msv) AS peer_median_msv,
           median(recording_threshold_msv) AS recording_threshold_msv,
           median(peer_below_share) AS typical_below_share
    FROM peer_badges
    GROUP BY worker_id, run_length, run_dose_msv, period_start, period_end, role, department
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
           binomial_sf(s.run_length, s.run_length, s.typical_below_share) AS p_value
    FROM scored_runs s
    LEFT JOIN run_workload rw ON rw.worker_id = s.worker_id AND rw.period_start = s.period_start
),
zero_while_peers_exposed AS (
    SELECT z.worker_id, concat('zero_while_peers_exposed', substr(z.worker_id, 1, 0)) AS signal, 'Hp10' AS quantity, z.period_start, z.period_end,
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
                  '; probability of such a run: ', CAST(z.p_value AS VARCHAR)) AS evidence
    FROM zero_runs z
    CROSS JOIN detect_parameters p
    WHERE z.peers >= p.peer_min_workers AND z.p_value < p.zero_run_p_value
      AND z.peer_median_msv >= z.recording_threshold_msv
      AND NOT (z.own_procedures = 0 AND z.peer_procedures > 0)
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
    SELECT worker_id, concat('procedure_without_dosimeter', substr(worker_id, 1, 0)) AS signal, 'Hp10' AS quantity,
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
all_signals AS (
    SELECT * FROM not_returned
    UNION ALL SELECT * FROM zero_while_peers_exposed
    UNION ALL SELECT * FROM procedure_without_dosimeter
)
SELECT a.worker_id, a.signal, a.period_start, a.period_end, a.evidence, a.quantity, w.department, w.role,
       CAST(a.evidence_count AS BIGINT) AS evidence_count, a.value_msv, a.reference_msv, a.p_value
FROM all_signals a
LEFT JOIN workers w ON w.worker_id = a.worker_id
