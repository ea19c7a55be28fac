-- name: overexposure
-- description: Doses above a regulatory or configured level, one row per worker, quantity,
--   body site, level and episode. Levels (thresholds from the `thresholds` table, i.e. alara.toml
--   [limits]; apprentices get the apprentice limits):
--   limit: a 12-consecutive-month sum (rolling_12_months) above the annual limit;
--   investigation: a 12-month sum above the investigation level;
--   projected: the dose rate of the last projection_months, extrapolated to 12 months, would be
--   above the limit while the 12-month sum is still at or below it (the early warning);
--   esr: one result at or above esr_fraction of the annual limit (ASN guide 11, criterion 1b);
--   pregnancy: Hp10 results whose wearing period starts on or after the declared pregnancy add up
--   to more than the pregnancy level; the declaration lasts while a version of the worker
--   (worker_history) carries it, and at most pregnancy_months when that parameter is not 0.
--   Reporting: a window level is reported once per episode, an unbroken run of months whose
--   windows exceed, on the FIRST window that crossed (window_start/window_end/dose_msv are that
--   window's: when the level was crossed and by how much), with peak_dose_msv (the largest
--   window of the episode), exceeding_windows and episode_end (end of the last window of the
--   episode) so the twelve overlapping windows of one excess make one row. esr gives one row per
--   result; pregnancy one row per worker and declaration, at the result that crossed.
--   missing_results counts results of the window with no dose (lost, not returned, damaged, no
--   result): the sum may be an underestimate and the row says so.

-- Labels of UNION ALL branches are written concat('label', substr(worker_id, 1, 0)) instead of a
-- bare literal: DataFusion 55 treats a per-branch literal as a constant of the whole union and then
-- rejects an ORDER BY on that column (SanityCheckPlan, apache/datafusion#17372).
WITH window_levels AS (
    SELECT r.*, t.level, t.threshold_msv, lim.threshold_msv AS limit_msv,
           CASE WHEN t.level = 'projected' THEN r.projected_msv > t.threshold_msv AND r.dose_msv <= lim.threshold_msv
                ELSE r.dose_msv > t.threshold_msv
           END AS exceeds
    FROM rolling_12_months r
    JOIN thresholds t
      ON t.population = r.population AND t.quantity = r.quantity AND t.level IN ('limit', 'investigation', 'projected')
    JOIN thresholds lim
      ON lim.population = r.population AND lim.quantity = r.quantity AND lim.level = 'limit'
),
runs AS (
    SELECT *,
           SUM(CASE WHEN exceeds AND NOT coalesce(previous_exceeds, false) THEN 1 ELSE 0 END) OVER (
               PARTITION BY worker_id, quantity, body_site, level ORDER BY end_month ROWS UNBOUNDED PRECEDING
           ) AS episode
    FROM (
        SELECT *,
               LAG(exceeds) OVER (PARTITION BY worker_id, quantity, body_site, level ORDER BY end_month)
                   AS previous_exceeds
        FROM window_levels
    )
),
episodes AS (
    SELECT *,
           ROW_NUMBER() OVER (PARTITION BY worker_id, quantity, body_site, level, episode ORDER BY end_month)
               AS position_in_episode,
           MAX(CASE WHEN level = 'projected' THEN projected_msv ELSE dose_msv END) OVER (
               PARTITION BY worker_id, quantity, body_site, level, episode) AS peak_dose_msv,
           COUNT(*) OVER (PARTITION BY worker_id, quantity, body_site, level, episode) AS exceeding_windows,
           MAX(window_end) OVER (PARTITION BY worker_id, quantity, body_site, level, episode) AS episode_end
    FROM runs
    WHERE exceeds
),
window_rows AS (
    SELECT worker_id, department, quantity, level, body_site, population, window_start, window_end,
           CASE WHEN level = 'projected' THEN projected_msv ELSE dose_msv END AS dose_msv,
           threshold_msv, results_count, missing_results, peak_dose_msv, exceeding_windows, episode_end,
           dose_msv AS sum_12_months_msv, projected_msv,
           concat(
               CASE level
                   WHEN 'projected' THEN concat('last ', CAST(round(recent_msv, 2) AS VARCHAR), ' mSv of ', quantity,
                       ' in the recent months extrapolate to ', CAST(round(projected_msv, 2) AS VARCHAR),
                       ' mSv over 12 months, above the ', population, ' limit of ', CAST(threshold_msv AS VARCHAR),
                       ' mSv; the 12-month sum is ', CAST(round(dose_msv, 2) AS VARCHAR), ' mSv so far')
                   ELSE concat('12-month ', quantity, ' sum ', CAST(round(dose_msv, 2) AS VARCHAR), ' mSv above the ',
                       population, ' ', level, ' level of ', CAST(threshold_msv AS VARCHAR), ' mSv')
               END,
               ' (', to_char(window_start, '%Y-%m'), '..', to_char(window_end, '%Y-%m'),
               CASE WHEN quantity <> 'Hp10' THEN concat(', ', body_site) ELSE '' END,
               ', ', CAST(results_count AS VARCHAR), ' results',
               CASE WHEN missing_results > 0
                    THEN concat(', ', CAST(missing_results AS VARCHAR), ' missing: the sum may be higher')
                    ELSE '' END,
               ')',
               CASE WHEN exceeding_windows > 1
                    THEN concat('; ', CAST(exceeding_windows AS VARCHAR), ' consecutive windows, peak ',
                                CAST(round(peak_dose_msv, 2) AS VARCHAR), ' mSv, until ', to_char(episode_end, '%Y-%m'))
                    ELSE '' END
           ) AS evidence
    FROM episodes
    WHERE position_in_episode = 1
),
esr_rows AS (
    SELECT l.worker_id, l.department, l.quantity, concat('esr', substr(l.worker_id, 1, 0)) AS level, l.body_site,
           CASE WHEN l.apprentice THEN 'apprentice' ELSE 'adult' END AS population,
           l.period_start AS window_start, l.period_end AS window_end, l.counted_msv AS dose_msv,
           t.threshold_msv, CAST(1 AS BIGINT) AS results_count, CAST(0 AS BIGINT) AS missing_results,
           l.counted_msv AS peak_dose_msv, CAST(1 AS BIGINT) AS exceeding_windows, l.period_end AS episode_end,
           CAST(NULL AS DOUBLE) AS sum_12_months_msv, CAST(NULL AS DOUBLE) AS projected_msv,
           concat('one ', l.monitoring, ' ', l.quantity, ' result of ', CAST(l.counted_msv AS VARCHAR), ' mSv (',
                  l.status, ', ', to_char(l.period_start, '%Y-%m-%d'), '..', to_char(l.period_end, '%Y-%m-%d'),
                  ', dosimeter ', l.dosimeter_id, ', ', l.source, ' ', l.reading_id, ' revision ',
                  CAST(l.revision AS VARCHAR), ') at or above ', CAST(t.threshold_msv AS VARCHAR),
                  ' mSv, a quarter of the annual limit: a significant event to declare') AS evidence
    FROM legal_results l
    JOIN thresholds t
      ON t.population = CASE WHEN l.apprentice THEN 'apprentice' ELSE 'adult' END
     AND t.quantity = l.quantity AND t.level = 'esr'
    WHERE l.counted_msv >= t.threshold_msv
),
pregnancies AS (
    -- A declaration lasts while a version of the worker carries it: it ends when a later version
    -- clears or changes it (the birth recorded by HR), or never if the current version has it.
    SELECT worker_id, pregnancy_declared_on,
           arrow_cast(pregnancy_declared_on, 'Timestamp(µs, "UTC")') AS declared_at,
           CASE WHEN bool_or(valid_to IS NULL) THEN NULL ELSE MAX(valid_to) END AS ended_at
    FROM worker_history
    WHERE pregnancy_declared_on IS NOT NULL
    GROUP BY worker_id, pregnancy_declared_on
),
pregnancy_results AS (
    SELECT l.*, g.pregnancy_declared_on,
           round(SUM(l.counted_msv) OVER (
               PARTITION BY l.worker_id, g.pregnancy_declared_on
               ORDER BY l.period_end, l.period_start, l.reading_id ROWS UNBOUNDED PRECEDING
           ), 6) AS since_declaration_msv,
           round(SUM(l.counted_msv) OVER (PARTITION BY l.worker_id, g.pregnancy_declared_on), 6) AS pregnancy_total_msv,
           COUNT(l.counted_msv) OVER (
               PARTITION BY l.worker_id, g.pregnancy_declared_on
               ORDER BY l.period_end, l.period_start, l.reading_id ROWS UNBOUNDED PRECEDING
           ) AS results_so_far,
           SUM(CASE WHEN l.is_missing THEN 1 ELSE 0 END) OVER (
               PARTITION BY l.worker_id, g.pregnancy_declared_on
               ORDER BY l.period_end, l.period_start, l.reading_id ROWS UNBOUNDED PRECEDING
           ) AS missing_so_far
    FROM legal_results l
    JOIN pregnancies g ON g.worker_id = l.worker_id
    CROSS JOIN detect_parameters p
    WHERE l.quantity = 'Hp10'
      AND l.period_start >= g.declared_at
      AND (g.ended_at IS NULL OR l.period_start < g.ended_at)
      AND (p.pregnancy_months = 0
           OR date_part('epoch', l.period_start)
              < date_part('epoch', g.declared_at) + p.pregnancy_months * 30.4375 * 86400)
),
pregnancy_crossings AS (
    SELECT pr.*, t.threshold_msv,
           ROW_NUMBER() OVER (
               PARTITION BY pr.worker_id, pr.pregnancy_declared_on ORDER BY pr.period_end, pr.period_start, pr.reading_id)
               AS crossing_rank
    FROM pregnancy_results pr
    JOIN thresholds t ON t.population = 'pregnancy' AND t.quantity = 'Hp10' AND t.level = 'pregnancy'
    WHERE pr.since_declaration_msv > t.threshold_msv
),
pregnancy_rows AS (
    SELECT worker_id, department, quantity, concat('pregnancy', substr(worker_id, 1, 0)) AS level, body_site,
           concat('pregnancy', substr(worker_id, 1, 0)) AS population,
           arrow_cast(pregnancy_declared_on, 'Timestamp(µs, "UTC")') AS window_start, period_end AS window_end,
           since_declaration_msv AS dose_msv, threshold_msv, results_so_far AS results_count,
           CAST(missing_so_far AS BIGINT) AS missing_results, pregnancy_total_msv AS peak_dose_msv,
           CAST(1 AS BIGINT) AS exceeding_windows, period_end AS episode_end,
           CAST(NULL AS DOUBLE) AS sum_12_months_msv, CAST(NULL AS DOUBLE) AS projected_msv,
           concat('Hp10 since the pregnancy declared on ', CAST(pregnancy_declared_on AS VARCHAR), ': ',
                  CAST(round(since_declaration_msv, 2) AS VARCHAR), ' mSv by ', to_char(period_end, '%Y-%m-%d'),
                  ' (', CAST(results_so_far AS VARCHAR), ' results',
                  CASE WHEN missing_so_far > 0 THEN concat(', ', CAST(missing_so_far AS VARCHAR), ' missing') ELSE '' END,
                  '), above ', CAST(threshold_msv AS VARCHAR), ' mSv for the unborn child; ',
                  CAST(round(pregnancy_total_msv, 2) AS VARCHAR), ' mSv in all') AS evidence
    FROM pregnancy_crossings
    WHERE crossing_rank = 1
),
all_rows AS (
    SELECT * FROM window_rows
    UNION ALL SELECT * FROM esr_rows
    UNION ALL SELECT * FROM pregnancy_rows
)
SELECT a.worker_id, a.quantity, a.level, a.window_start, a.window_end, a.dose_msv, a.threshold_msv,
       a.population, coalesce(w.department, a.department) AS department, a.body_site, a.results_count,
       a.missing_results, a.peak_dose_msv, a.exceeding_windows, a.episode_end, a.sum_12_months_msv,
       a.projected_msv, a.evidence
FROM all_rows a
LEFT JOIN workers w ON w.worker_id = a.worker_id
