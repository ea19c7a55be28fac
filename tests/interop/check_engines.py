#!/usr/bin/env python3
"""Open alara's Delta lake with engines alara did not write and report what they find.

For each engine (Apache Spark with delta-spark, the PyPI `deltalake` reader feeding DuckDB, and
polars), this script:
  1. opens every lake table (readings, workers, procedures, rejects, alerts, explanations) as a
     Delta table and registers it under the raw name alara's views read (`readings_all`, ...);
  2. runs alara's own identity views from queries/ (readings.sql, workers.sql, procedures.sql,
     rejects.sql) -- the identity rules, literally the same text alara runs;
  3. runs every figure query in tests/interop/figures/ (identities, dose sums per worker and
     quantity, the total, rows per table) and prints the results as JSON.

Doses are compared as integers in micro-mSv (CAST(ROUND(dose_msv * 1e6) AS BIGINT)), so sums are
exact in every engine. The exit status is 0 when every engine agrees with every other, 1 when
they differ (the JSON says where), 2 on bad usage or a missing engine.

Usage:
  check_engines.py LAKE [--engines spark,deltalake,polars] [--out FILE]

LAKE is a directory or an s3:// URL. For s3://, credentials and the endpoint come from the
environment only (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL;
`scripts/s3.sh env` prints them for the local test server).

Spark needs Java 17+, the `pyspark` wheel and the delta-spark jars from scripts/delta-spark.sh
(and, for s3://, the hadoop-aws jars from `scripts/delta-spark.sh fetch-s3`).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
QUERIES = REPO / "queries"
FIGURES = HERE / "figures"
SCRIPTS = REPO / "scripts"

# Every lake table, and the raw name alara's views read it under (crates/detect/src/session.rs).
TABLES = ["readings", "workers", "procedures", "rejects", "alerts", "explanations"]
# The identity views: alara's own files, run unchanged by every engine.
VIEWS = ["readings", "workers", "procedures", "rejects"]
ENGINES = ["spark", "deltalake", "polars"]


def raw_name(table: str) -> str:
    return f"{table}_all"


def read_sql(path: Path) -> str:
    """A query file as one statement (comments kept; a trailing semicolon dropped)."""
    return path.read_text().strip().rstrip(";")


def figures() -> dict[str, str]:
    return {p.stem: read_sql(p) for p in sorted(FIGURES.glob("*.sql"))}


def table_uri(lake: str, table: str) -> str:
    return f"{lake.rstrip('/')}/{table}"


def storage_options(lake: str) -> dict[str, str] | None:
    """object_store options for delta-rs/polars on s3:// -- from the environment only."""
    if not lake.startswith("s3://"):
        return None
    opts = {}
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_ENDPOINT_URL"):
        if os.environ.get(key):
            opts[key] = os.environ[key]
    if opts.get("AWS_ENDPOINT_URL", "").startswith("http://"):
        opts["AWS_ALLOW_HTTP"] = "true"
    return opts


def normalise(rows: list[dict]) -> list[dict]:
    """Rows as plain JSON values, sorted, so engines can be compared row for row."""
    out = []
    for r in rows:
        n = {}
        for k, v in r.items():
            if v is not None and not isinstance(v, (str, int, float, bool)):
                v = int(v) if hasattr(v, "__int__") and not isinstance(v, float) else str(v)
            n[k] = v
        out.append(n)
    return sorted(out, key=lambda r: json.dumps(r, sort_keys=True))


# ----------------------------------------------------------------------------------- engines


def run_deltalake(lake: str) -> dict[str, list[dict]]:
    """The PyPI delta-rs reader (`deltalake`) opens each table; DuckDB runs the SQL on the Arrow data."""
    import duckdb
    from deltalake import DeltaTable

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    opts = storage_options(lake)
    for t in TABLES:
        dt = DeltaTable(table_uri(lake, t), storage_options=opts)
        con.register(raw_name(t), dt.to_pyarrow_dataset())
    for v in VIEWS:
        con.execute(f"CREATE VIEW {v} AS {read_sql(QUERIES / f'{v}.sql')}")
    out = {}
    for name, sql in figures().items():
        cur = con.execute(sql)
        cols = [d[0] for d in cur.description]
        out[name] = [dict(zip(cols, row)) for row in cur.fetchall()]
    return out


def run_polars(lake: str) -> dict[str, list[dict]]:
    """polars opens each table with scan_delta and runs the SQL with its own SQL engine."""
    import polars as pl

    ctx = pl.SQLContext()
    opts = storage_options(lake)
    for t in TABLES:
        ctx.register(raw_name(t), pl.scan_delta(table_uri(lake, t), storage_options=opts))
    for v in VIEWS:
        ctx.register(v, ctx.execute(read_sql(QUERIES / f"{v}.sql")))
    return {name: ctx.execute(sql).collect().to_dicts() for name, sql in figures().items()}


def artifact(jar: str) -> str:
    """`delta-spark_2.13-4.4.0.jar` -> `delta-spark_2.13`."""
    return re.sub(r"-[0-9][^-]*(-[A-Za-z0-9.]+)?\.jar$", "", os.path.basename(jar))


def spark_jars(s3: bool) -> list[str]:
    """The delta-spark jars (and hadoop-aws for s3://) minus anything pyspark already ships."""
    import pyspark

    shipped = {artifact(j) for j in os.listdir(os.path.join(os.path.dirname(pyspark.__file__), "jars"))}
    jars = []
    for cmd in ["dir"] + (["dir-s3"] if s3 else []):
        d = subprocess.run([str(SCRIPTS / "delta-spark.sh"), cmd], check=True, capture_output=True, text=True)
        found = sorted(glob.glob(os.path.join(d.stdout.strip(), "*.jar")))
        jars += [j for j in found if artifact(j) not in shipped]
    return jars


def run_spark(lake: str) -> dict[str, list[dict]]:
    """Apache Spark (pyspark) with the delta-spark connector reads each table from its Delta log."""
    from pyspark.sql import SparkSession

    s3 = lake.startswith("s3://")
    b = (
        SparkSession.builder.master("local[2]")
        .appName("alara-interop")
        .config("spark.jars", ",".join(spark_jars(s3)))
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.session.timeZone", "UTC")
        # alara's views quote the column names "partition" and "offset" the standard way.
        .config("spark.sql.ansi.enabled", "true")
        .config("spark.sql.ansi.doubleQuotedIdentifiers", "true")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.memory", "1g")
    )
    if s3:
        endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
        b = (
            b.config("spark.hadoop.fs.s3.impl", "org.apache.hadoop.fs.s3a.S3AFileSystem")
            .config("spark.hadoop.fs.s3a.aws.credentials.provider", "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider")
            .config("spark.hadoop.fs.s3a.access.key", os.environ.get("AWS_ACCESS_KEY_ID", ""))
            .config("spark.hadoop.fs.s3a.secret.key", os.environ.get("AWS_SECRET_ACCESS_KEY", ""))
            .config("spark.hadoop.fs.s3a.endpoint.region", os.environ.get("AWS_REGION", "us-east-1"))
            .config("spark.hadoop.fs.s3a.path.style.access", "true")
        )
        if endpoint:
            b = b.config("spark.hadoop.fs.s3a.endpoint", endpoint).config(
                "spark.hadoop.fs.s3a.connection.ssl.enabled", str(endpoint.startswith("https://")).lower()
            )
    spark = b.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    try:
        for t in TABLES:
            spark.read.format("delta").load(table_uri(lake, t)).createOrReplaceTempView(raw_name(t))
        for v in VIEWS:
            spark.sql(f"CREATE OR REPLACE TEMPORARY VIEW {v} AS {read_sql(QUERIES / f'{v}.sql')}")
        return {name: [r.asDict() for r in spark.sql(sql).collect()] for name, sql in figures().items()}
    finally:
        spark.stop()


RUNNERS = {"spark": run_spark, "deltalake": run_deltalake, "polars": run_polars}


# ----------------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("lake", help="lake directory or s3:// URL")
    ap.add_argument("--engines", default=",".join(ENGINES), help="comma-separated subset of " + ",".join(ENGINES))
    ap.add_argument("--out", help="also write the JSON here")
    args = ap.parse_args()
    engines = [e for e in args.engines.split(",") if e]
    unknown = [e for e in engines if e not in RUNNERS]
    if unknown:
        print(f"unknown engine(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    lake = args.lake if "://" in args.lake else str(Path(args.lake).resolve())

    result: dict = {"lake": lake, "figures": sorted(figures()), "engines": {}}
    for e in engines:
        t0 = time.monotonic()
        try:
            figs = {k: normalise(v) for k, v in RUNNERS[e](lake).items()}
        except ImportError as err:
            print(f"engine {e} is not installed ({err}); run scripts/test-deps.sh", file=sys.stderr)
            return 2
        result["engines"][e] = {"seconds": round(time.monotonic() - t0, 1), "figures": figs}
        print(f"[check_engines] {e}: {time.monotonic() - t0:.1f} s", file=sys.stderr)

    # Every engine against the first one, figure by figure.
    differences = []
    if engines:
        ref = result["engines"][engines[0]]["figures"]
        for e in engines[1:]:
            for name, rows in result["engines"][e]["figures"].items():
                if rows != ref.get(name):
                    differences.append({"figure": name, "engines": [engines[0], e]})
    result["agree"] = not differences
    result["differences"] = differences
    text = json.dumps(result, indent=1, sort_keys=True)
    if args.out:
        Path(args.out).write_text(text)
    print(text)
    return 0 if not differences else 1


if __name__ == "__main__":
    rc = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Without the interpreter's teardown, where pyarrow's and delta-rs's thread pools have been
    # seen to abort the process after the answer was printed.
    os._exit(rc)
