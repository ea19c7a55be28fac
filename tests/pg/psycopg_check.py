"""The SQL endpoint of `alara serve --pg`, through a PostgreSQL driver nobody here wrote (psycopg 3,
which speaks the extended query protocol with server-side parameters).

Prints one JSON object: the rows of --query, the rows of a parameterised count for --worker, and
what happened to a write and to a wrong password. The Rust test compares them with `alara sql`.
"""
import argparse
import json

import psycopg

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--user", required=True)
ap.add_argument("--password", required=True)
ap.add_argument("--query", required=True)
ap.add_argument("--worker", required=True)
a = ap.parse_args()

out = {}
dsn = dict(host="127.0.0.1", port=a.port, dbname="alara", user=a.user, connect_timeout=10)
with psycopg.connect(password=a.password, autocommit=True, **dsn) as conn:
    out["rows"] = [list(r) for r in conn.execute(a.query).fetchall()]
    out["count"] = conn.execute(
        "SELECT count(*) FROM readings WHERE worker_id = %s", (a.worker,)
    ).fetchone()[0]
    try:
        conn.execute("CREATE TABLE t AS SELECT 1")
        out["create"] = "accepted"
    except psycopg.Error as e:
        out["create"] = f"{type(e).__name__}: {e}"
try:
    psycopg.connect(password=a.password + "x", **dsn).close()
    out["wrong_password"] = "accepted"
except psycopg.OperationalError as e:
    out["wrong_password"] = str(e)
print(json.dumps(out, default=str))
