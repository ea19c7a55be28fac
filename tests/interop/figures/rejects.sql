-- One row per distinct rejected record and origin.
SELECT kind, origin, reason FROM rejects
