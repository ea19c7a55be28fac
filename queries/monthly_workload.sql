-- name: monthly_workload
-- description: Workload per worker, department and calendar month from the dose-archiving
--   system (a worker seconded to two services has a row for each): procedures
--   attended, of which with fluoroscopy (fluoroscopy time or dose-area product above 0),
--   fluoroscopy minutes and dose-area product (Gy·cm²). month numbers calendar months as
--   legal_results.end_month does (year * 12 + month - 1), by the procedure's start.
SELECT worker_id, department,
       CAST(date_part('year', started_at) * 12 + date_part('month', started_at) - 1 AS BIGINT) AS month,
       COUNT(*) AS procedures,
       SUM(CASE WHEN coalesce(fluoroscopy_s, 0) > 0 OR coalesce(dap_gycm2, 0) > 0 THEN 1 ELSE 0 END)
           AS fluoroscopy_procedures,
       coalesce(SUM(fluoroscopy_s), 0.0) / 60.0 AS fluoroscopy_min,
       coalesce(SUM(dap_gycm2), 0.0) AS dap_gycm2
FROM procedures
GROUP BY worker_id, department, CAST(date_part('year', started_at) * 12 + date_part('month', started_at) - 1 AS BIGINT)
