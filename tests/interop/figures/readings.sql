-- One row per reading identity (source, reading_id) with the revision that won and its dose in
-- micro-millisievert (an integer, so every engine's sum is exact and comparable).
SELECT source, reading_id, revision, CAST(ROUND(dose_msv * 1000000) AS BIGINT) AS dose_umsv
FROM readings
