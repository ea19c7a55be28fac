#!/usr/bin/env python3
"""Independent computation of alara's 12-month rolling sums and overexposure levels.

Reads the lake's Parquet files with DuckDB (nothing from alara's SQL views), applies the rules of
CONTRACT.md section 3 and DOMAIN.md section 1 in plain Python, and prints JSON:

  {"windows": [...], "levels": [...]}

windows: one per worker, quantity, body site and calendar month in which a legal result ends:
  the sum over that month and the 11 before it (below-threshold counts 0), results with a dose,
  missing results.
levels: the `limit`, `investigation` and `esr` rows alara's `overexposure` view must hold:
  window levels once per run of consecutive exceeding windows, on the first window that crossed
  (with the run's peak and length); esr once per result at or above a quarter of the limit.

The rules, written from the contract and the domain notes rather than from the SQL:
  * a reading's identity is (source, reading_id); the highest revision wins, then the first
    ingested copy, then the smallest origin;
  * legal results: Hp10 from passive badges not worn over the apron or at the collar; Hp3 and
    Hp007 from any non-operational dosimeter, per body site (position/laterality);
  * one result per dosimeter and wearing period (a result with a dose beats one without, then the
    highest revision, then the latest ingested, then the largest origin);
  * a result without dose (lost, not_returned, damaged, no_result) is dropped when a result with a
    dose exists for the same worker, quantity and body site over an overlapping period, from the
    same dosimeter or estimated (by the occupational physician) for the same employer;
  * an eye or extremity result with no laterality counts for every side the worker has
    lateralised results for at that position (else it stays "unspecified");
  * a result belongs to the calendar month holding the last microsecond of its period;
  * a window is 12 consecutive calendar months, evaluated at every month holding a result;
  * limits by population (apprentice at the result's end, from the worker version valid then,
    else the earliest version): adult 20/20/500, apprentice 6/15/150 mSv (Hp10/Hp3/Hp007);
    investigation 6/15/150 capped at the limit; esr = a quarter of the limit.

Usage: rolling.py LAKE_DIR
"""

import datetime as dt
import json
import sys
from collections import defaultdict

import duckdb

LIMIT = {"adult": {"Hp10": 20.0, "Hp3": 20.0, "Hp007": 500.0},
         "apprentice": {"Hp10": 6.0, "Hp3": 15.0, "Hp007": 150.0}}
INVESTIGATION = {"Hp10": 6.0, "Hp3": 15.0, "Hp007": 150.0}
ESR_FRACTION = 0.25
MISSING = {"not_returned", "lost", "damaged", "no_result"}
EPOCH = dt.datetime(1970, 1, 1)


def rows(con, sql):
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def month_of(end_us):
    """Calendar month (year * 12 + month - 1) holding the last microsecond of a period."""
    last = EPOCH + dt.timedelta(microseconds=end_us - 1)
    return last.year * 12 + last.month - 1


def main(lake):
    con = duckdb.connect()
    # Timestamps as integer microseconds since the epoch (UTC): no time-zone library involved.
    readings = rows(con, f"""
        SELECT source, reading_id, revision, worker_id, employer_siret, dosimeter_id, monitoring, position, laterality,
               quantity, status, dose_msv, origin,
               epoch_us(period_start) AS period_start, epoch_us(period_end) AS period_end,
               epoch_us(ingested_at) AS ingested_at
        FROM read_parquet('{lake}/readings/**/*.parquet', hive_partitioning = true)""")
    try:
        workers = rows(con, f"""
            SELECT worker_id, apprentice, epoch_us(valid_from) AS valid_from
            FROM read_parquet('{lake}/workers/**/*.parquet', hive_partitioning = true)""")
    except duckdb.Error:
        workers = []

    # Identity: highest revision, then first ingested, then smallest origin.
    best = {}
    for r in readings:
        key = (r["source"], r["reading_id"])
        rank = (-r["revision"], r["ingested_at"], r["origin"])
        if key not in best or rank < best[key][0]:
            best[key] = (rank, r)
    current = [r for _, r in best.values()]

    # Legal results with their body site.
    legal = []
    for r in current:
        q, m, pos = r["quantity"], r["monitoring"], r["position"] or ""
        if q == "Hp10":
            if m != "passive" or pos in ("over_apron", "collar"):
                continue
            site = "whole_body"
        elif q in ("Hp3", "Hp007") and m != "operational":
            site = f"{r['position'] or 'unspecified'}/{r['laterality'] or 'unspecified'}"
        else:
            continue
        missing = r["status"] in MISSING
        if r["status"] in ("measured", "estimated"):
            counted = r["dose_msv"]
        elif r["status"] == "below_threshold":
            counted = 0.0
        else:
            counted = None
        legal.append(dict(r, site=site, missing=missing, counted=counted, month=month_of(r["period_end"])))

    # One result per dosimeter and period.
    per_period = {}
    for r in legal:
        key = (r["worker_id"], r["quantity"], r["site"], r["dosimeter_id"], r["period_start"], r["period_end"])
        rank = (r["missing"], -r["revision"], -r["ingested_at"], _neg_str(r["origin"]))
        if key not in per_period or rank < per_period[key][0]:
            per_period[key] = (rank, r)
    legal = [r for _, r in per_period.values()]

    # A missing result is dropped when its own dosimeter or a physician's estimate gives the dose.
    def stands_for(d, m):
        return (not d["missing"] and d["worker_id"] == m["worker_id"] and d["quantity"] == m["quantity"]
                and d["site"] == m["site"] and d["period_start"] < m["period_end"]
                and d["period_end"] > m["period_start"]
                and (d["dosimeter_id"] == m["dosimeter_id"]
                     or (d["status"] == "estimated" and d["employer_siret"] == m["employer_siret"])))
    by_worker = defaultdict(list)
    for r in legal:
        by_worker[r["worker_id"]].append(r)
    legal = [r for r in legal if not (r["missing"] and any(stands_for(d, r) for d in by_worker[r["worker_id"]]))]

    # Sides: a result with no laterality counts for each side seen at its position.
    sides = defaultdict(set)
    for r in legal:
        if r["quantity"] != "Hp10" and r["laterality"]:
            sides[(r["worker_id"], r["quantity"], r["position"] or "unspecified")].add(r["laterality"])
    expanded = []
    for r in legal:
        seen = sides.get((r["worker_id"], r["quantity"], r["position"] or "unspecified"))
        if r["quantity"] != "Hp10" and not r["laterality"] and seen:
            for side in sorted(seen):
                expanded.append(dict(r, site=f"{r['position'] or 'unspecified'}/{side}"))
        else:
            expanded.append(r)

    # Population at the end of each result.
    versions = defaultdict(dict)
    for w in workers:
        versions[w["worker_id"]][w["valid_from"]] = w  # same valid_from: any copy (same content)
    def apprentice_at(worker, ts):
        vs = sorted(versions.get(worker, {}).items())
        if not vs:
            return False
        valid = [v for start, v in vs if start <= ts]
        return bool((valid[-1] if valid else vs[0][1])["apprentice"])

    months = defaultdict(lambda: {"dose": 0.0, "results": 0, "missing": 0, "apprentice": False})
    for r in expanded:
        m = months[(r["worker_id"], r["quantity"], r["site"], r["month"])]
        if r["counted"] is not None:
            m["dose"] += r["counted"]
            m["results"] += 1
        if r["missing"]:
            m["missing"] += 1
        m["apprentice"] = m["apprentice"] or apprentice_at(r["worker_id"], r["period_end"])

    series = defaultdict(dict)
    for (w, q, s, month), v in months.items():
        series[(w, q, s)][month] = v

    windows, levels = [], []
    for (w, q, s), by_month in sorted(series.items()):
        previous = {}
        run = {}
        for month in sorted(by_month):
            inside = [by_month[k] for k in range(month - 11, month + 1) if k in by_month]
            # Rounded to 1e-6 mSv: a floating-point residue must not push a sum above a limit.
            dose = round(sum(x["dose"] for x in inside), 6)
            population = "apprentice" if by_month[month]["apprentice"] else "adult"
            windows.append({"worker_id": w, "quantity": q, "body_site": s, "end_month": month,
                            "population": population, "dose_msv": dose,
                            "results_count": sum(x["results"] for x in inside),
                            "missing_results": sum(x["missing"] for x in inside)})
            limit = LIMIT[population][q]
            for level, threshold in (("limit", limit), ("investigation", min(INVESTIGATION[q], limit))):
                exceeds = dose > threshold
                if exceeds and not previous.get(level, False):
                    run[level] = {"worker_id": w, "quantity": q, "body_site": s, "level": level,
                                  "end_month": month, "dose_msv": dose, "threshold_msv": threshold,
                                  "peak_dose_msv": dose, "exceeding_windows": 0}
                    levels.append(run[level])
                if exceeds:
                    run[level]["peak_dose_msv"] = max(run[level]["peak_dose_msv"], dose)
                    run[level]["exceeding_windows"] += 1
                previous[level] = exceeds

    for r in legal:
        if r["counted"] is None:
            continue
        population = "apprentice" if apprentice_at(r["worker_id"], r["period_end"]) else "adult"
        threshold = LIMIT[population][r["quantity"]] * ESR_FRACTION
        if r["counted"] >= threshold:
            levels.append({"worker_id": r["worker_id"], "quantity": r["quantity"], "body_site": r["site"],
                           "level": "esr", "end_month": r["month"], "dose_msv": r["counted"],
                           "threshold_msv": threshold, "peak_dose_msv": r["counted"], "exceeding_windows": 1})

    json.dump({"windows": windows, "levels": levels}, sys.stdout)


def _neg_str(s):
    # Largest first for strings: compare code points negated.
    return tuple(-ord(c) for c in s) + (1,)


if __name__ == "__main__":
    main(sys.argv[1])
