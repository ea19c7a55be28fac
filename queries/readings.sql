-- name: readings
-- description: One row per reading identity (source, reading_id): the highest revision wins, and
--   among copies of the same revision (a file ingested twice, a Kafka batch replayed) the first
--   ingested. This is the table every detection reads; readings_all keeps every copy for audit.
SELECT reading_id, revision, source, worker_id, employer_siret, site, department, dosimeter_id,
       monitoring, position, laterality, quantity, status, dose_msv, recording_threshold_msv,
       period_start, period_end, radiation, ingested_at, origin
FROM (
    SELECT *,
           ROW_NUMBER() OVER (
               PARTITION BY source, reading_id
               ORDER BY revision DESC, ingested_at ASC, origin ASC
           ) AS copy_rank
    FROM readings_all
)
WHERE copy_rank = 1
