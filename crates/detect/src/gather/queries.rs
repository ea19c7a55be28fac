//! The SQL that gathers a report's data, as plain strings, every time bound written out.
//!
//! Everything is "as of" a date. [`as_of_filters`] lists, for the lake tables that carry dose
//! data, the predicate that hides rows after the report date; [`super::gather`] applies them
//! *below* the views (so the detection views themselves see the lake as it was at the end of the
//! as-of day), and every query below repeats its own time bounds so that it gives the same
//! answer when pasted into `alara sql`. The bounds are literal timestamps computed here, never
//! `now()`.

use alara_model::ReportPeriod;
use chrono::{Months, NaiveDate};

/// One query to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The name the result is filed under (also the CSV file's stem when exported).
    pub name: &'static str,
    /// Tables and views the query reads. When one is missing (a detection view not installed in
    /// this version, an empty `alerts` outbox), the caller skips the query and the report says
    /// the section is unavailable instead of failing.
    pub needs: &'static [&'static str],
    /// The SQL text, with every time bound written out.
    pub sql: String,
}

/// A SQL timestamp literal for midnight UTC of a date.
pub fn ts(d: NaiveDate) -> String {
    format!("TIMESTAMP '{}T00:00:00Z'", d.format("%Y-%m-%d"))
}

/// The predicate, per raw lake table, that keeps the rows known "as of" the report date: dose
/// results whose wearing period ended by the as-of day, procedures that started by then, worker
/// versions valid from before it, explanations of periods that started by then. Tables that
/// record what people and the pipeline did (alerts, rejects) are not cut: their timestamps are
/// the time of loading, not of exposure (see the crate docs).
pub fn as_of_filters(as_of: NaiveDate) -> Vec<(&'static str, String)> {
    let c = ts(ReportPeriod::new(as_of).cutoff);
    vec![
        ("readings_all", format!("period_end < {c}")),
        ("procedures_all", format!("started_at < {c}")),
        ("workers_all", format!("valid_from < {c}")),
        ("explanations_all", format!("period_start < {c}")),
    ]
}

/// The legal dose record, one row per dosimeter and wearing period, with the columns
/// `worker_id, quantity, body_site, status, period_start, period_end, counted_msv, is_missing`.
///
/// When the detection views are installed this is their `legal_results` view, so that the
/// report and the detections count exactly the same results. Otherwise the same rules are
/// applied to `readings` here: whole-body Hp10 from the passive badge not worn over the apron
/// or at the collar, eye-lens Hp3 and extremity Hp007 from any non-operational dosimeter;
/// below-threshold counts 0; lost, not returned, damaged and no-result periods have no dose and
/// are flagged, never a silent 0; Hp3 and Hp007 limits apply per body site (each eye, each hand).
fn legal_record(b: &ReportPeriod, legal_results_view: bool) -> String {
    let cutoff = ts(b.cutoff);
    if legal_results_view {
        format!(
            "SELECT worker_id, quantity, body_site, status, period_start, period_end, counted_msv, is_missing
FROM legal_results
WHERE period_end < {cutoff}"
        )
    } else {
        format!(
            "SELECT worker_id, quantity,
       CASE WHEN quantity = 'Hp10' THEN 'whole_body'
            ELSE concat(coalesce(position, 'unspecified'), '/', coalesce(laterality, 'unspecified')) END AS body_site,
       status, period_start, period_end,
       CASE WHEN status IN ('measured', 'estimated') THEN dose_msv WHEN status = 'below_threshold' THEN 0.0 END
           AS counted_msv,
       status IN ('not_returned', 'lost', 'damaged', 'no_result') AS is_missing
FROM readings
WHERE ((quantity = 'Hp10' AND monitoring = 'passive' AND coalesce(position, '') NOT IN ('over_apron', 'collar'))
       OR (quantity IN ('Hp3', 'Hp007') AND monitoring <> 'operational'))
  AND period_end < {cutoff}"
        )
    }
}

/// Every query of a report for a date. `legal_results_view` says whether the lake's session has
/// the detections' `legal_results` view (see `legal_record`).
pub fn queries(as_of: NaiveDate, legal_results_view: bool) -> Vec<Query> {
    let b = ReportPeriod::new(as_of);
    let cutoff = ts(b.cutoff);
    let from_12 = ts(b.from_12);
    let legal = legal_record(&b, legal_results_view);
    let legal_needs: &'static [&'static str] = if legal_results_view { &["legal_results"] } else { &["readings"] };
    let mut q = Vec::new();
    let mut add = |name: &'static str, needs: &'static [&'static str], sql: String| {
        q.push(Query { name, needs, sql });
    };

    add(
        "lake_overview",
        &["readings"],
        format!(
            "SELECT COUNT(*) AS readings,
       COUNT(DISTINCT worker_id) AS workers,
       COUNT(DISTINCT department) AS departments,
       MIN(period_start) AS first_period_start,
       MAX(period_end) AS last_period_end,
       SUM(CASE WHEN ingested_at >= {cutoff} THEN 1 ELSE 0 END) AS loaded_after_as_of,
       MAX(ingested_at) AS last_ingested_at
FROM readings
WHERE period_end < {cutoff}"
        ),
    );

    add(
        "thresholds",
        &["thresholds"],
        "SELECT population, quantity, level, threshold_msv FROM thresholds ORDER BY population, quantity, level".into(),
    );

    add(
        "people",
        &["workers", "readings"],
        format!(
            "WITH last_department AS (
    SELECT worker_id, department FROM (
        SELECT worker_id, department,
               ROW_NUMBER() OVER (PARTITION BY worker_id ORDER BY period_end DESC, department) AS rn
        FROM readings WHERE period_end < {cutoff}
    ) WHERE rn = 1
)
SELECT COALESCE(w.worker_id, d.worker_id) AS worker_id,
       COALESCE(w.department, d.department) AS department,
       w.role, w.category, w.apprentice, w.pregnancy_declared_on
FROM workers w FULL OUTER JOIN last_department d ON w.worker_id = d.worker_id
ORDER BY worker_id"
        ),
    );

    add(
        "worker_doses",
        legal_needs,
        format!(
            "WITH legal AS ({legal})
SELECT worker_id, quantity, body_site,
       ROUND(SUM(CASE WHEN period_end > {year_start} THEN COALESCE(counted_msv, 0) ELSE 0 END), 6) AS year_to_date_msv,
       ROUND(SUM(CASE WHEN period_end > {from_12} THEN COALESCE(counted_msv, 0) ELSE 0 END), 6) AS rolling_12_months_msv,
       ROUND(SUM(COALESCE(counted_msv, 0)), 6) AS career_msv,
       SUM(CASE WHEN period_end > {from_12} AND is_missing THEN 1 ELSE 0 END) AS missing_12_months,
       SUM(CASE WHEN period_end > {from_12} THEN 1 ELSE 0 END) AS results_12_months,
       COUNT(*) AS results,
       MIN(period_start) AS first_period_start,
       MAX(period_end) AS last_period_end
FROM legal
GROUP BY worker_id, quantity, body_site
ORDER BY worker_id, quantity, body_site",
            year_start = ts(b.year_start),
        ),
    );

    add(
        "dose_by_period",
        legal_needs,
        format!(
            "WITH legal AS ({legal})
SELECT worker_id, quantity, body_site, period_start, period_end, status, counted_msv, is_missing
FROM legal
WHERE period_end > {from_36}
ORDER BY worker_id, quantity, body_site, period_start, period_end, status, counted_msv",
            from_36 = ts(b.from_36),
        ),
    );

    // The detection views are dumped whole and sorted by the report, not in SQL: DataFusion 55
    // mis-plans an ORDER BY over their UNION ALL (a SanityCheckPlan error).
    add("overexposure", &["overexposure"], "SELECT * FROM overexposure".into());
    add("missing_badge", &["missing_badge"], "SELECT * FROM missing_badge".into());
    add("unexplained_heterogeneity", &["unexplained_heterogeneity"], "SELECT * FROM unexplained_heterogeneity".into());
    add("explained_findings", &["explained_findings"], "SELECT * FROM explained_findings".into());
    add(
        "explanations",
        &["explanations_all"],
        format!(
            "SELECT DISTINCT explanation_id, worker_id, period_start, period_end, signal, reason, author, recorded_at
FROM explanations_all
WHERE period_start < {cutoff}
ORDER BY worker_id, period_start, period_end, explanation_id"
        ),
    );

    add(
        "badges_not_returned",
        &["readings"],
        format!(
            "SELECT worker_id, department, dosimeter_id, monitoring, quantity, position, status,
       period_start, period_end, source, reading_id
FROM readings
WHERE status IN ('not_returned', 'lost', 'damaged', 'no_result')
  AND period_end > {from_12} AND period_end < {cutoff}
ORDER BY period_end DESC, worker_id, dosimeter_id, source, reading_id"
        ),
    );

    add(
        "department_compliance",
        &["readings", "procedures"],
        format!(
            "WITH badges AS (
    SELECT department,
           COUNT(DISTINCT worker_id) AS workers,
           COUNT(*) AS badges_issued,
           SUM(CASE WHEN status IN ('measured', 'below_threshold') THEN 1 ELSE 0 END) AS badges_read,
           SUM(CASE WHEN status IN ('not_returned', 'lost', 'damaged', 'no_result') THEN 1 ELSE 0 END) AS badges_not_returned
    FROM readings
    WHERE monitoring <> 'operational' AND period_end > {from_12} AND period_end < {cutoff}
    GROUP BY department
),
operational_days AS (
    SELECT DISTINCT worker_id, CAST(period_start AS DATE) AS day
    FROM readings
    WHERE monitoring = 'operational' AND period_end < {cutoff}
),
attendance AS (
    SELECT p.department,
           COUNT(*) AS fluoroscopy_attendances,
           SUM(CASE WHEN o.worker_id IS NOT NULL THEN 1 ELSE 0 END) AS attendances_with_dosimeter
    FROM procedures p
    LEFT JOIN operational_days o ON o.worker_id = p.worker_id AND o.day = CAST(p.started_at AS DATE)
    WHERE p.started_at >= {from_12} AND p.started_at < {cutoff}
      AND (COALESCE(p.fluoroscopy_s, 0) > 0 OR COALESCE(p.dap_gycm2, 0) > 0)
    GROUP BY p.department
)
SELECT COALESCE(b.department, a.department) AS department,
       COALESCE(b.workers, 0) AS workers,
       COALESCE(b.badges_issued, 0) AS badges_issued,
       COALESCE(b.badges_read, 0) AS badges_read,
       COALESCE(b.badges_not_returned, 0) AS badges_not_returned,
       COALESCE(a.fluoroscopy_attendances, 0) AS fluoroscopy_attendances,
       COALESCE(a.attendances_with_dosimeter, 0) AS attendances_with_dosimeter
FROM badges b FULL OUTER JOIN attendance a ON a.department = b.department
ORDER BY department"
        ),
    );

    add(
        "missing_results",
        &["readings"],
        format!(
            "WITH series AS (
    SELECT worker_id, department, source, monitoring, quantity, position, laterality, period_start, period_end,
           LEAD(period_start) OVER (
               PARTITION BY worker_id, monitoring, quantity, COALESCE(position, ''), COALESCE(laterality, '')
               ORDER BY period_start, period_end, department, source) AS next_start,
           MAX(period_end) OVER (
               PARTITION BY worker_id, monitoring, quantity, COALESCE(position, ''), COALESCE(laterality, '')
               ) AS series_end
    FROM (SELECT DISTINCT worker_id, department, source, monitoring, quantity, position, laterality,
                          period_start, period_end
          FROM readings
          WHERE monitoring <> 'operational' AND period_end < {cutoff} AND period_end > {from_36})
),
gaps AS (
    SELECT worker_id, department, source, monitoring, quantity, position, laterality,
           period_end + INTERVAL '1 day' AS missing_from,
           next_start - INTERVAL '1 day' AS missing_to,
           'gap between two results' AS kind
    FROM series
    WHERE next_start > period_end + INTERVAL '1 day'
),
overdue AS (
    SELECT worker_id, department, source, monitoring, quantity, position, laterality,
           period_end + INTERVAL '1 day' AS missing_from,
           period_end + (period_end - period_start) + INTERVAL '1 day' AS missing_to,
           'next result not received' AS kind
    FROM series
    WHERE next_start IS NULL AND period_end = series_end
      AND period_end >= {recent}
)
SELECT worker_id, department, source, monitoring, quantity, position, laterality, missing_from, missing_to, kind,
       CAST(FLOOR(date_part('epoch', {cutoff} - missing_to) / 86400) AS BIGINT) AS days_since_period_end
FROM (SELECT * FROM gaps UNION ALL SELECT * FROM overdue)
WHERE missing_to + INTERVAL '20 days' < {cutoff}
ORDER BY missing_to DESC, worker_id, monitoring, quantity, position, laterality, missing_from, department, source",
            recent = ts(b.cutoff.checked_sub_months(Months::new(6)).unwrap_or(b.cutoff)),
            from_36 = ts(b.from_36),
        ),
    );

    add(
        "late_results",
        &["readings"],
        format!(
            "SELECT worker_id, department, source, reading_id, dosimeter_id, monitoring, quantity, period_start, period_end,
       ingested_at,
       CAST(FLOOR(date_part('epoch', ingested_at - period_end) / 86400) AS BIGINT) AS days_after_period_end
FROM readings
WHERE monitoring <> 'operational'
  AND period_end > {from_12} AND period_end < {cutoff}
  AND ingested_at < {cutoff}
  AND ingested_at > period_end + INTERVAL '20 days'
ORDER BY period_end DESC, worker_id, source, reading_id"
        ),
    );

    add(
        "ingest_lag",
        &["readings"],
        format!(
            "SELECT source,
       COUNT(*) AS results,
       ROUND(MEDIAN(date_part('epoch', ingested_at - period_end) / 86400), 1) AS median_days,
       ROUND(MAX(date_part('epoch', ingested_at - period_end) / 86400), 1) AS max_days,
       SUM(CASE WHEN ingested_at > period_end + INTERVAL '20 days' THEN 1 ELSE 0 END) AS later_than_20_days,
       MAX(ingested_at) AS last_ingested_at
FROM readings
WHERE monitoring <> 'operational'
  AND period_end > {from_12} AND period_end < {cutoff}
  AND ingested_at < {cutoff}
GROUP BY source
ORDER BY source"
        ),
    );

    add(
        "rejects_by_reason",
        &["rejects"],
        "SELECT kind, reason, COUNT(*) AS records, MIN(origin) AS first_origin, MAX(rejected_at) AS last_rejected_at
FROM rejects
GROUP BY kind, reason
ORDER BY records DESC, kind, reason"
            .into(),
    );

    // The alert-state view of the alerts engine (one row per alert); filtered and sorted here.
    add("alerts", &["alerts"], "SELECT * FROM alerts".into());
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_bounds_are_literal_timestamps() {
        let b = ReportPeriod::new(NaiveDate::from_ymd_opt(2026, 2, 28).unwrap());
        assert_eq!(ts(b.cutoff), "TIMESTAMP '2026-03-01T00:00:00Z'");
    }

    #[test]
    fn no_query_reads_the_clock() {
        for q in queries(NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(), false) {
            let sql = q.sql.to_lowercase();
            assert!(!sql.contains("now()") && !sql.contains("current_"), "{} reads the clock", q.name);
        }
    }
}
