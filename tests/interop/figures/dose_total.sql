-- Identities and total dose (micro-mSv) over the whole lake.
SELECT COUNT(*) AS identities, SUM(CAST(ROUND(dose_msv * 1000000) AS BIGINT)) AS dose_umsv FROM readings
