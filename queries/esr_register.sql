-- name: esr_register
-- description: Significant radiation-protection events (ESR) to investigate, and the decision
--   taken on each. Candidates are the overexposure rows that meet a declaration criterion: a
--   limit exceeded or likely exceeded (R4451-74; levels limit and pregnancy), a dose above what
--   the worker's classification allows (ASN guide 11 criterion 1a; level classification) and
--   one result at or above a quarter of an annual limit (criterion 1b; level esr). They are
--   worded "to investigate": whether an event is declared is a person's decision, recorded with
--   `alara explain --decision declared|not_esr --signal LEVEL` for the worker and a period that
--   contains the finding's window_end; status then reads `declared` or `not an ESR`, with who
--   decided (decided_by), when (decided_at) and why (reason); the latest decision wins.
--   detected_at is when the latest result of the finding's window entered the lake (ingested);
--   declare_by adds esr_declaration_working_days working days (ASN guide 11: 2, commonly
--   quoted, DOMAIN.md 5 [U]); report_by adds esr_report_months months to declare_by for the
--   event report (CRES). overdue says that no decision is recorded and declare_by has passed
--   (against the clock of the query).
WITH candidates AS (
    SELECT o.*
    FROM overexposure o
    WHERE o.level IN ('limit', 'pregnancy', 'classification', 'esr') AND o.basis = 'measured'
),
detected AS (
    SELECT c.worker_id, c.quantity, c.level, c.body_site, c.window_start, c.window_end,
           MAX(l.ingested_at) AS detected_at
    FROM candidates c
    JOIN legal_results l
      ON l.worker_id = c.worker_id AND l.quantity = c.quantity
     AND l.period_end <= c.window_end + INTERVAL '1 day' AND l.period_end > c.window_start
    GROUP BY c.worker_id, c.quantity, c.level, c.body_site, c.window_start, c.window_end
),
deadlines AS (
    SELECT d.*,
           -- Monday 0 .. Sunday 6; a weekend detection counts from the Friday before.
           (CAST(date_part('dow', d.detected_at) AS BIGINT) + 6) % 7 AS weekday,
           p.esr_declaration_working_days AS n, p.esr_report_months AS report_months
    FROM detected d
    CROSS JOIN detect_parameters p
),
due AS (
    -- Base day: the detection day, or the Friday before for a weekend; then n working days.
    SELECT *,
           arrow_cast(to_timestamp_micros(CAST((date_part('epoch', date_trunc('day', detected_at))
                 - 86400 * greatest(weekday - 4, 0)
                 + 86400 * (n + 2 * floor((least(weekday, 4) + n) / 5))) * 1000000 AS BIGINT)),
                      'Timestamp(µs, "UTC")') AS declare_by
    FROM deadlines
),
decisions AS (
    SELECT c.worker_id, c.quantity, c.level, c.body_site, c.window_start, c.window_end,
           e.decision, e.author, e.recorded_at, e.reason,
           ROW_NUMBER() OVER (PARTITION BY c.worker_id, c.quantity, c.level, c.body_site, c.window_start, c.window_end
                              ORDER BY e.recorded_at DESC, e.explanation_id DESC) AS recency
    FROM candidates c
    JOIN explanations e
      ON e.worker_id = c.worker_id AND e.decision IS NOT NULL
     AND (e.signal IS NULL OR e.signal = c.level)
     AND e.period_start <= c.window_end AND e.period_end + INTERVAL '1 day' > c.window_end
)
SELECT c.worker_id, c.department, c.level, c.quantity, c.body_site, c.window_start, c.window_end, c.dose_msv,
       c.threshold_msv,
       CASE c.level WHEN 'esr' THEN 'ASN guide 11 criterion 1b: one result at or above a quarter of an annual limit'
                    WHEN 'classification' THEN 'ASN guide 11 criterion 1a: above what the classification allows'
                    WHEN 'pregnancy' THEN 'R4451-7 and R4451-74: above 1 mSv for the unborn child'
                    ELSE 'R4451-74: an annual limit exceeded over 12 consecutive months' END AS criterion,
       CASE d.decision WHEN 'declared' THEN 'declared' WHEN 'not_esr' THEN 'not an ESR' ELSE 'to investigate' END
           AS status,
       f.detected_at, f.declare_by,
       arrow_cast(to_timestamp_micros(CAST((date_part('epoch', f.declare_by) + f.report_months * 30.4375 * 86400)
                                           * 1000000 AS BIGINT)), 'Timestamp(µs, "UTC")') AS report_by,
       d.decision IS NULL AND f.declare_by < arrow_cast(now(), 'Timestamp(µs, "UTC")') AS overdue,
       d.author AS decided_by, d.recorded_at AS decided_at, d.reason,
       concat(CASE d.decision WHEN 'declared' THEN 'declared as a significant event'
                              WHEN 'not_esr' THEN 'judged not a significant event'
                              ELSE 'to investigate: a possible significant event' END,
              ' (', c.level, '): ', c.evidence) AS evidence
FROM candidates c
LEFT JOIN due f
  ON f.worker_id = c.worker_id AND f.quantity = c.quantity AND f.level = c.level AND f.body_site = c.body_site
 AND f.window_start = c.window_start AND f.window_end = c.window_end
LEFT JOIN decisions d
  ON d.worker_id = c.worker_id AND d.quantity = c.quantity AND d.level = c.level AND d.body_site = c.body_site
 AND d.window_start = c.window_start AND d.window_end = c.window_end AND d.recency = 1
