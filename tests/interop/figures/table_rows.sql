-- Rows in every Delta table as committed (every copy, before the identity rules).
SELECT 'readings' AS lake_table, COUNT(*) AS stored_rows FROM readings_all
UNION ALL SELECT 'workers', COUNT(*) FROM workers_all
UNION ALL SELECT 'procedures', COUNT(*) FROM procedures_all
UNION ALL SELECT 'rejects', COUNT(*) FROM rejects_all
UNION ALL SELECT 'alerts', COUNT(*) FROM alerts_all
UNION ALL SELECT 'explanations', COUNT(*) FROM explanations_all
