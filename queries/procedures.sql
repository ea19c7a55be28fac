-- name: procedures
-- description: One row per worker present at a procedure (procedure_id, worker_id); a re-sent
--   row replaces the earlier one (the latest ingested wins).
SELECT procedure_id, worker_id, department, room, procedure_type, started_at, ended_at,
       fluoroscopy_s, dap_gycm2, ingested_at
FROM (
    SELECT *,
           ROW_NUMBER() OVER (
               PARTITION BY procedure_id, worker_id
               ORDER BY ingested_at DESC, origin DESC
           ) AS copy_rank
    FROM procedures_all
)
WHERE copy_rank = 1
