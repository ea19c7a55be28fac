#!/usr/bin/env python3
"""The Python half of scripts/bench.sh: DuckDB's reference runs, a metrics poll, bench.json.

    bench-helper.py duckdb-ingest JSONL OUT.parquet
        DuckDB read_json -> Parquet (zstd), the reference for `alara ingest --readings`.
    bench-helper.py duckdb-view LAKE QUERIES_DIR CONFIG_DIR VIEW OUT.csv [SQL]
        DuckDB runs alara's own view files (queries/*.sql, unchanged) over the Parquet files of the
        lake's current Delta snapshots and writes every row of VIEW as CSV. CONFIG_DIR holds
        thresholds.csv and detect_parameters.csv, exported by `alara sql` (they come from
        alara.toml, not from the lake). Exit 3, with the reason on stderr, when DuckDB cannot run
        the view's SQL (or the SQL of a view it reads): the view is not portable. With SQL, the
        rows of that query (which reads VIEW) instead of every row of VIEW.
    bench-helper.py wait-metric URL NAME START_EPOCH TIMEOUT_S
        Polls a Prometheus endpoint every 20 ms until the sum of NAME's samples is > 0; prints the
        seconds since START_EPOCH. Exit 1 on timeout.
    bench-helper.py json RESULTS_TSV OUT.json
        Turns the KEY<TAB>KIND<TAB>VALUE lines bench.sh collected into bench.json.

Each DuckDB run is a process of its own, started and timed by bench.sh, like each alara run.
"""

import glob
import json
import os
import re
import sys
import time
import urllib.request


def duckdb_ingest(jsonl, out):
    import duckdb

    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT * FROM read_json('{jsonl}', format='newline_delimited', ignore_errors=true)) "
        f"TO '{out}' (FORMAT parquet, COMPRESSION zstd)"
    )
    print(con.execute(f"SELECT COUNT(*) FROM read_parquet('{out}')").fetchone()[0])


def register_lake(con, lake):
    """Each Delta table of the lake under `<table>_all`, from exactly its snapshot's files.

    The files come from the Delta log (delta-rs), never from a glob: a file compaction replaced is
    still on disk but in no snapshot. DuckDB reads them with its own Parquet reader; partition
    columns (year=…) stay text, as alara registers them. An empty table goes through the Arrow
    dataset, which carries the schema."""
    from deltalake import DeltaTable

    for log in sorted(glob.glob(os.path.join(lake, "*", "_delta_log"))):
        table = os.path.basename(os.path.dirname(log))
        dt = DeltaTable(os.path.dirname(log))
        files = dt.file_uris()
        name = f"{table}_all"
        if files:
            listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            con.execute(
                f"CREATE VIEW {name} AS SELECT * FROM read_parquet([{listing}], "
                f"hive_partitioning = true, hive_types_autocast = false, union_by_name = true)"
            )
        else:
            con.register(name, dt.to_pyarrow_dataset())


def duckdb_view(lake, queries, config, view, out, sql=None):
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    register_lake(con, lake)
    for t in ("thresholds", "detect_parameters"):
        con.execute(f"CREATE TABLE {t} AS SELECT * FROM read_csv('{config}/{t}.csv', header = true)")
    # DuckDB binds a view when it is created, so create them until no more can be: what is left
    # does not run on DuckDB, or reads a view that does not.
    pending = {os.path.basename(p)[:-4]: open(p).read() for p in glob.glob(os.path.join(queries, "*.sql"))}
    errors = {}
    progress = True
    while pending and progress:
        progress = False
        for name, text in list(pending.items()):
            try:
                con.execute(f"CREATE VIEW {name} AS {text}")
                del pending[name]
                errors.pop(name, None)
                progress = True
            except duckdb.Error as e:
                errors[name] = str(e).splitlines()[0]
    if view in pending:
        # Follow "X does not exist" to the view that really failed.
        seen, name = set(), view
        while name not in seen:
            seen.add(name)
            m = re.search(r"with name (\w+) does not exist", errors.get(name, ""))
            if m and m.group(1) in pending:
                name = m.group(1)
            else:
                break
        print(f"{name}: {errors.get(name, 'unknown error')}", file=sys.stderr)
        sys.exit(3)
    con.execute(f"COPY ({sql or f'SELECT * FROM {view}'}) TO '{out}' (FORMAT csv, HEADER true)")


def wait_metric(url, name, start, timeout):
    deadline = time.time() + float(timeout)
    pattern = re.compile(rf"^{re.escape(name)}(\{{[^}}]*\}})?\s+([0-9.eE+-]+)\s*$", re.M)
    while time.time() < deadline:
        try:
            text = urllib.request.urlopen(url, timeout=1).read().decode()
            if sum(float(v) for _, v in pattern.findall(text)) > 0:
                print(f"{time.time() - float(start):.3f}")
                return
        except OSError:
            pass  # not listening yet: the process is still starting
        time.sleep(0.02)
    sys.exit(1)


def to_json(tsv, out):
    """KIND is num (a number), str (text), null (VALUE is the reason: KEY null, KEY_reason the why)."""
    doc = {}
    for line in open(tsv):
        key, kind, value = line.rstrip("\n").split("\t", 2)
        if kind == "num":
            doc[key] = float(value) if re.search(r"[.eE]", value) else int(value)
        elif kind == "str":
            doc[key] = value
        elif kind == "null":
            doc[key] = None
            doc[f"{key}_reason"] = value
        else:
            sys.exit(f"bad kind {kind!r} for {key}")
    with open(out, "w") as f:
        json.dump(doc, f, indent=2, sort_keys=False)
        f.write("\n")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {"duckdb-ingest": duckdb_ingest, "duckdb-view": duckdb_view, "wait-metric": wait_metric, "json": to_json}[cmd](*args)


if __name__ == "__main__":
    main()
