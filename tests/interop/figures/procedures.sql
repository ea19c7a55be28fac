-- One row per (procedure_id, worker_id).
SELECT procedure_id, worker_id, department FROM procedures
