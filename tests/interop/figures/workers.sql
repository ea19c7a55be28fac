-- One row per worker: the attributes of the version with the latest valid_from.
SELECT worker_id, employer_siret, department, role, category FROM workers
