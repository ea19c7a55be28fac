-- name: overexposure
-- description: Doses above a regulatory or configured level, one row per worker, quantity,
--   body site, level and episode. Levels (thresholds from the `thresholds` table, i.e. alara.toml
--   [limits]; apprentices get the apprentice limits):
--   limit: a 12-consecutive-month sum (rolling_12_months) above the annual limit;
--   investigation: a 12-month sum above the investigation level;
--   projected: the dose rate of the last projection_months, extrapolated to 12 months, would be
--   above the limit while the 12-month sum is still at or below it (the early warning);
--   esr: one result at or above esr_fraction of the annual limit (ASN guide 11, criterion 1b);
--   pregnancy: Hp10 results since the declared pregnancy add up to more than the pregnancy level
--   (1 mSv); a badge straddling the declaration (or the end of the episode) counts pro rata of
--   its wearing period inside it; the episode lasts while a version of the worker
--   (worker_history) carries the declaration and ends at the latest at the expected date,
--   pregnancy_months (9) after the declaration;
--   pregnancy_warning: the same sum above pregnancy_warning_msv (0.5 mSv), the warning before;
--   classification: a 12-month sum above what the worker's category allows (ASN guide 11
--   criterion 1a): a non-classified worker above 1 mSv effective (50 extremities, 15 lens), a
--   category B worker above the category A thresholds of R4451-57 (6 / 15 / 150); the category is
--   the highest in force over the window (rolling_12_months.category); A has no such level;
--   lens_estimate: a 12-month eye-lens sum estimated from collar or over-apron dosimeters for
--   months without a lens result (lens_estimate view) above the investigation level (15 mSv;
--   the evidence says when it is also above the limit), never part of the legal record.
--   basis is `estimated` for lens_estimate rows, `measured` for every other row; category the
--   classification in force (window levels: the highest over the window).
--   Reporting: a window level is reported once per episode, an unbroken run of months whose
--   windows exceed, on the FIRST window that crossed (window_start/window_end/dose_msv are that
--   window's: when the level was crossed and by how much), with peak_dose_msv (the largest
--   window of the episode), exceeding_windows and episode_end (end of the last window of the
--   episode) so the twelve overlapping windows of one excess make one row. esr gives one row per
--   result; pregnancy one row per worker and declaration, at the result that crossed.
--   missing_results counts results of the window with no dose (lost, not returned, damaged, no
--   result): the sum may be an underestimate and the row says so.

-- label('text') is the literal 'text', hidden from DataFusion's constant folding: see crates/detect/src/udf.rs.
WITH windows AS (
    SELECT worker_id, quantity, body_site, end_month, population, category, department, window_start, window_end,
           dose_msv, results_count, missing_results, recent_msv, projected_msv,
           CAST(0 AS BIGINT) AS estimated_months, label('measured') AS basis
    FROM rolling_12_months
    UNION ALL
    SELECT worker_id, quantity, body_site, end_month, population, category, department, window_start, window_end,
           dose_msv, results_count, missing_results, recent_msv, projected_msv,
           estimated_months, label('estimated') AS basis
    FROM lens_estimate
),
window_levels AS (
    SELECT r.*, CASE WHEN r.basis = 'estimated' THEN 'lens_estimate' ELSE t.level END AS level,
           t.threshold_msv, lim.threshold_msv AS limit_msv,
           CASE WHEN t.level = 'projected' THEN r.projected_msv > t.threshold_msv AND r.dose_msv <= lim.threshold_msv
                ELSE r.dose_msv > t.threshold_msv
           END AS exceeds
    FROM windows r
    JOIN thresholds t
      ON t.quantity = r.quantity
     AND ((r.basis = 'measured' AND t.population = r.population AND t.level IN ('limit', 'investigation', 'projected'))
          OR (r.basis = 'measured' AND t.population = concat('category_', r.category) AND t.level = 'classification')
          OR (r.basis = 'estimated' AND t.population = r.population AND t.level = 'investigation'))
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
           dose_msv AS sum_12_months_msv, projected_msv, category, basis,
           concat(
               CASE level
                   WHEN 'projected' THEN concat('last ', CAST(round(recent_msv, 2) AS VARCHAR), ' mSv of ', quantity,
                       ' in the recent months extrapolate to ', CAST(round(projected_msv, 2) AS VARCHAR),
                       ' mSv over 12 months, above the ', population, ' limit of ', CAST(threshold_msv AS VARCHAR),
                       ' mSv; the 12-month sum is ', CAST(round(dose_msv, 2) AS VARCHAR), ' mSv so far')
                   WHEN 'lens_estimate' THEN concat('estimated 12-month eye lens Hp3 ',
                       CAST(round(dose_msv, 2) AS VARCHAR), ' mSv, ', CAST(estimated_months AS VARCHAR),
                       ' months without a lens result estimated from the collar or over-apron dosimeter, above the ',
                       population, ' investigation level of ', CAST(threshold_msv AS VARCHAR), ' mSv',
                       CASE WHEN dose_msv > limit_msv
                            THEN concat(' and the limit of ', CAST(limit_msv AS VARCHAR), ' mSv') ELSE '' END,
                       ': an estimate, not part of the legal record; give this worker a lens dosimeter')
                   WHEN 'classification' THEN concat('12-month ', quantity, ' sum ', CAST(round(dose_msv, 2) AS VARCHAR),
                       ' mSv above ', CAST(threshold_msv AS VARCHAR), ' mSv, more than a ',
                       CASE category WHEN 'none' THEN 'non-classified' ELSE concat('category ', category) END,
                       ' worker may receive (ASN guide 11 criterion 1a): a significant event to investigate',
                       CASE category WHEN 'none' THEN '' ELSE ' and a classification to review' END)
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
    SELECT l.worker_id, l.department, l.quantity, label('esr') AS level, l.body_site,
           CASE WHEN l.apprentice THEN 'apprentice' ELSE 'adult' END AS population,
           l.period_start AS window_start, l.period_end AS window_end, l.counted_msv AS dose_msv,
           t.threshold_msv, CAST(1 AS BIGINT) AS results_count, CAST(0 AS BIGINT) AS missing_results,
           l.counted_msv AS peak_dose_msv, CAST(1 AS BIGINT) AS exceeding_windows, l.period_end AS episode_end,
           CAST(NULL AS DOUBLE) AS sum_12_months_msv, CAST(NULL AS DOUBLE) AS projected_msv, l.category,
           label('measured') AS basis,
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
    -- clears or changes it (the birth recorded by HR), and at the latest at the expected end,
    -- pregnancy_months after the declaration (0: only when HR clears it).
    SELECT g.*,
           CASE WHEN p.pregnancy_months > 0
                THEN arrow_cast(to_timestamp_micros(CAST((date_part('epoch', g.declared_at)
                                                          + p.pregnancy_months * 30.4375 * 86400) * 1000000 AS BIGINT)),
                                'Timestamp(µs, "UTC")')
           END AS expected_end
    FROM (
        SELECT worker_id, pregnancy_declared_on,
               arrow_cast(pregnancy_declared_on, 'Timestamp(µs, "UTC")') AS declared_at,
               CASE WHEN bool_or(valid_to IS NULL) THEN NULL ELSE MAX(valid_to) END AS ended_at
        FROM worker_history
        WHERE pregnancy_declared_on IS NOT NULL
        GROUP BY worker_id, pregnancy_declared_on
    ) g
    CROSS JOIN detect_parameters p
),
pregnancy_episodes AS (
    SELECT *,
           CASE WHEN ended_at IS NULL THEN expected_end
                WHEN expected_end IS NULL THEN ended_at
                ELSE least(ended_at, expected_end)
           END AS episode_until
    FROM pregnancies
),
pregnancy_overlap AS (
    -- A badge that straddles the declaration (or the end of the episode) counts pro rata of the
    -- part of its wearing period inside the episode.
    SELECT l.*, g.pregnancy_declared_on, g.episode_until,
           CASE WHEN l.period_end <= l.period_start THEN 1.0
                ELSE (date_part('epoch', CASE WHEN g.episode_until IS NOT NULL AND g.episode_until < l.period_end
                                              THEN g.episode_until ELSE l.period_end END)
                      - date_part('epoch', greatest(l.period_start, g.declared_at)))
                     / (date_part('epoch', l.period_end) - date_part('epoch', l.period_start))
           END AS share_in_episode
    FROM legal_results l
    JOIN pregnancy_episodes g ON g.worker_id = l.worker_id
    WHERE l.quantity = 'Hp10'
      AND l.period_end > g.declared_at
      AND (g.episode_until IS NULL OR l.period_start < g.episode_until)
),
pregnancy_results AS (
    SELECT o.*, o.counted_msv * o.share_in_episode AS prorated_msv,
           round(SUM(o.counted_msv * o.share_in_episode) OVER (
               PARTITION BY o.worker_id, o.pregnancy_declared_on
               ORDER BY o.period_end, o.period_start, o.reading_id ROWS UNBOUNDED PRECEDING
           ), 6) AS since_declaration_msv,
           round(SUM(o.counted_msv * o.share_in_episode) OVER (PARTITION BY o.worker_id, o.pregnancy_declared_on), 6)
               AS pregnancy_total_msv,
           COUNT(o.counted_msv) OVER (
               PARTITION BY o.worker_id, o.pregnancy_declared_on
               ORDER BY o.period_end, o.period_start, o.reading_id ROWS UNBOUNDED PRECEDING
           ) AS results_so_far,
           SUM(CASE WHEN o.is_missing THEN 1 ELSE 0 END) OVER (
               PARTITION BY o.worker_id, o.pregnancy_declared_on
               ORDER BY o.period_end, o.period_start, o.reading_id ROWS UNBOUNDED PRECEDING
           ) AS missing_so_far,
           MIN(o.share_in_episode) OVER (PARTITION BY o.worker_id, o.pregnancy_declared_on) < 1.0 AS any_prorated
    FROM pregnancy_overlap o
),
pregnancy_crossings AS (
    SELECT pr.*, t.threshold_msv, t.level,
           ROW_NUMBER() OVER (
               PARTITION BY pr.worker_id, pr.pregnancy_declared_on, t.level
               ORDER BY pr.period_end, pr.period_start, pr.reading_id)
               AS crossing_rank
    FROM pregnancy_results pr
    JOIN thresholds t
      ON t.population = 'pregnancy' AND t.quantity = 'Hp10' AND t.level IN ('pregnancy', 'pregnancy_warning')
    WHERE pr.since_declaration_msv > t.threshold_msv
),
pregnancy_rows AS (
    SELECT worker_id, department, quantity, level, body_site,
           label('pregnancy') AS population,
           arrow_cast(pregnancy_declared_on, 'Timestamp(µs, "UTC")') AS window_start, period_end AS window_end,
           since_declaration_msv AS dose_msv, threshold_msv, results_so_far AS results_count,
           CAST(missing_so_far AS BIGINT) AS missing_results, pregnancy_total_msv AS peak_dose_msv,
           CAST(1 AS BIGINT) AS exceeding_windows, coalesce(episode_until, period_end) AS episode_end,
           CAST(NULL AS DOUBLE) AS sum_12_months_msv, CAST(NULL AS DOUBLE) AS projected_msv, category,
           label('measured') AS basis,
           concat('Hp10 since the pregnancy declared on ', CAST(pregnancy_declared_on AS VARCHAR), ': ',
                  CAST(round(since_declaration_msv, 2) AS VARCHAR), ' mSv by ', to_char(period_end, '%Y-%m-%d'),
                  ' (', CAST(results_so_far AS VARCHAR), ' results',
                  CASE WHEN missing_so_far > 0 THEN concat(', ', CAST(missing_so_far AS VARCHAR), ' missing') ELSE '' END,
                  CASE WHEN any_prorated THEN ', a badge straddling the declaration or the expected end counted pro rata'
                       ELSE '' END,
                  '), above ', CAST(threshold_msv AS VARCHAR),
                  CASE WHEN level = 'pregnancy_warning'
                       THEN ' mSv, the warning level before the 1 mSv for the unborn child; '
                       ELSE ' mSv for the unborn child; ' END,
                  CAST(round(pregnancy_total_msv, 2) AS VARCHAR), ' mSv in all',
                  CASE WHEN episode_until IS NOT NULL
                       THEN concat(' until ', to_char(episode_until, '%Y-%m-%d')) ELSE '' END) AS evidence
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
       a.projected_msv, a.category, a.basis, a.evidence
FROM all_rows a
LEFT JOIN workers w ON w.worker_id = a.worker_id
