-- name: legal_results
-- description: The results that count toward the regulatory limits, one row per dosimeter and
--   wearing period: whole-body Hp10 from the passive badge (the legal record; a badge worn over
--   the apron or at the collar is not the effective dose), eye-lens Hp3 and extremity/skin Hp007
--   from any non-operational dosimeter. Each result carries the body site it measures (Hp3 and
--   Hp007 limits apply to each eye, each hand, not to their sum; a result with no laterality is
--   `position/unspecified` here and counts for both sides in monthly_dose), the dose that counts
--   in regulatory sums (counted_msv: below_threshold counts 0; NULL for a result with no dose)
--   and whether it is missing (not_returned, lost, damaged, no_result).
--   Two safeguards on top of the one-row-per-identity `readings`: the same dosimeter and period
--   sent twice under different ids count once (a result with a dose wins over one without, then
--   the highest revision, then the latest ingested); and a missing result is dropped only when
--   the dose it stands for is known: a result with a dose for the same worker, quantity and body
--   site whose period overlaps it, from the same dosimeter (a late or re-read result) or
--   `estimated` by the occupational physician for the same employer (the assigned dose replaces
--   the missing one). A lost left ring is not hidden by the right ring, nor one employer's lost
--   badge by another employer's badge.
--   end_month numbers the calendar month holding the last moment of the wearing period
--   (year * 12 + month - 1), whichever convention the lab uses for period_end (last day, or
--   midnight of the next day): rolling windows count whole calendar months.
--   apprentice and category: whether the worker was an apprentice (16-18, lower limits) and their
--   classification (A, B, none) when the period ended, from the worker version valid then (the
--   earliest version for results older than every version; false and NULL for a worker with no
--   reference data); category_rank orders categories (none 0, B 1, A 2).
WITH current_revision AS (
    -- The `readings` view restricted to identities with a non-operational revision: the same
    -- rule as queries/readings.sql (highest revision, then first ingested), applied only to the
    -- few identities that can be legal results instead of to every operational entry, which
    -- makes every detection view several times faster. A correction that changes monitoring or
    -- quantity is still seen, since all revisions of such an identity are ranked.
    SELECT *
    FROM (
        SELECT a.*,
               ROW_NUMBER() OVER (
                   PARTITION BY a.source, a.reading_id
                   ORDER BY a.revision DESC, a.ingested_at ASC, a.origin ASC
               ) AS copy_rank
        FROM readings_all a
        WHERE EXISTS (
            SELECT 1 FROM readings_all b
            WHERE b.monitoring <> 'operational' AND b.source = a.source AND b.reading_id = a.reading_id
        )
    )
    WHERE copy_rank = 1
),
legal AS (
    SELECT r.reading_id, r.revision, r.source, r.worker_id, r.employer_siret, r.department, r.dosimeter_id, r.monitoring,
           r.position, r.laterality, r.quantity, r.status, r.dose_msv, r.recording_threshold_msv,
           r.period_start, r.period_end, r.ingested_at, r.origin,
           CASE WHEN r.quantity = 'Hp10' THEN 'whole_body'
                ELSE concat(coalesce(r.position, 'unspecified'), '/', coalesce(r.laterality, 'unspecified'))
           END AS body_site,
           r.status IN ('not_returned', 'lost', 'damaged', 'no_result') AS is_missing,
           CASE WHEN r.status IN ('measured', 'estimated') THEN r.dose_msv
                WHEN r.status = 'below_threshold' THEN 0.0
           END AS counted_msv
    FROM current_revision r
    WHERE (r.quantity = 'Hp10' AND r.monitoring = 'passive'
           AND coalesce(r.position, '') NOT IN ('over_apron', 'collar'))
       OR (r.quantity IN ('Hp3', 'Hp007') AND r.monitoring <> 'operational')
),
one_per_dosimeter_period AS (
    SELECT *
    FROM (
        SELECT *,
               ROW_NUMBER() OVER (
                   PARTITION BY worker_id, quantity, body_site, dosimeter_id, period_start, period_end
                   ORDER BY is_missing ASC, revision DESC, ingested_at DESC, origin DESC
               ) AS period_rank
        FROM legal
    )
    WHERE period_rank = 1
),
flagged AS (
    SELECT *,
           CAST(date_part('year', period_end - INTERVAL '1 microsecond') * 12
                + date_part('month', period_end - INTERVAL '1 microsecond') - 1 AS BIGINT) AS end_month
    FROM one_per_dosimeter_period
),
superseded AS (
    -- Missing results whose dose is known from the same dosimeter or a physician's estimate.
    SELECT m.worker_id, m.quantity, m.body_site, m.dosimeter_id, m.period_start, m.period_end
    FROM flagged m
    JOIN flagged d
      ON d.worker_id = m.worker_id AND d.quantity = m.quantity AND d.body_site = m.body_site
     AND NOT d.is_missing
     AND d.period_start < m.period_end AND d.period_end > m.period_start
     AND (d.dosimeter_id = m.dosimeter_id OR (d.status = 'estimated' AND d.employer_siret = m.employer_siret))
    WHERE m.is_missing
    GROUP BY m.worker_id, m.quantity, m.body_site, m.dosimeter_id, m.period_start, m.period_end
)
SELECT l.worker_id, l.department, l.employer_siret,
       coalesce(h.apprentice, first_version.apprentice, false) AS apprentice,
       coalesce(h.category, first_version.category) AS category,
       CASE coalesce(h.category, first_version.category) WHEN 'A' THEN 2 WHEN 'B' THEN 1 WHEN 'none' THEN 0 END
           AS category_rank,
       l.source, l.reading_id, l.revision, l.dosimeter_id, l.monitoring,
       l.position, l.laterality, l.quantity, l.body_site, l.status, l.dose_msv, l.counted_msv,
       l.is_missing, l.recording_threshold_msv, l.period_start, l.period_end, l.end_month, l.ingested_at
FROM flagged l
LEFT JOIN worker_history h
       ON h.worker_id = l.worker_id AND h.valid_from <= l.period_end
      AND (h.valid_to IS NULL OR h.valid_to > l.period_end)
LEFT JOIN (
    SELECT worker_id, apprentice, category
    FROM (SELECT worker_id, apprentice, category,
                 ROW_NUMBER() OVER (PARTITION BY worker_id ORDER BY valid_from) AS version
          FROM worker_history)
    WHERE version = 1
) first_version ON first_version.worker_id = l.worker_id
WHERE NOT EXISTS (
    SELECT 1 FROM superseded x
    WHERE x.worker_id = l.worker_id AND x.quantity = l.quantity AND x.body_site = l.body_site
      AND x.dosimeter_id = l.dosimeter_id AND x.period_start = l.period_start AND x.period_end = l.period_end
)
