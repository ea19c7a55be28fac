-- name: rejects
-- description: Rejected input, one row per distinct record and origin (re-ingesting the same
--   file does not double its rejects). raw_text shows the record with any NIR masked.
SELECT kind, origin, file, line, topic, "partition", "offset", reason, raw, raw_text, rejected_at
FROM (
    SELECT *,
           ROW_NUMBER() OVER (PARTITION BY kind, origin, raw_text ORDER BY rejected_at ASC) AS copy_rank
    FROM rejects_all
)
WHERE copy_rank = 1
