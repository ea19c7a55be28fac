-- Dose per worker and quantity over the identities (highest revision), in micro-mSv.
SELECT worker_id, quantity, COUNT(*) AS results, SUM(CAST(ROUND(dose_msv * 1000000) AS BIGINT)) AS dose_umsv
FROM readings
GROUP BY worker_id, quantity
