#!/usr/bin/env python3
"""Latency from a reading's arrival in Kafka to a webhook receiving its alert (issue 5).

Streams readings into a fresh topic at a steady rate (kcat producing), with a few readings per
second that each raise one operational alarm (a unique worker and entry), while
`alara ingest --kafka` runs with a webhook hook pointing at a receiver in this process. The
latency of an alert is the time its webhook POST arrived minus the time the broker acknowledged
its reading (kcat returned); both clocks are this process's. Prints count, p50, p90, p99 and max, and exits 1 when
an alert is missing or p99 is above --goal.

    scripts/alert-latency.py --alara target/release/alara [--rate 5000] [--seconds 20] [--json FILE]

Without --flush-latency-ms the ingest runs with the configuration's default `[kafka] latency_ms`
(the issue's "default configuration").

Needs kcat and the project's broker (scripts/kafka.sh start). Meant for scripts/bench.sh, never
for the tests: it measures time.
"""

import argparse
import hashlib
import hmac
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

SIRET = "73282932000074"
SECRET = b"alert-latency-bench"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alara", default="target/release/alara")
    ap.add_argument("--broker", default=None, help="bootstrap servers (default: scripts/kafka.sh start)")
    ap.add_argument("--rate", type=int, default=5000, help="readings per second")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--alarms-per-second", type=float, default=5.0)
    ap.add_argument("--flush-latency-ms", type=int, default=None,
                    help="[kafka] latency_ms of the ingest (default: not set, the configuration's default)")
    ap.add_argument("--json", default=None, help="also write the figures (seconds) to this JSON file")
    ap.add_argument("--goal", type=float, default=1.0, help="p99 goal in seconds")
    args = ap.parse_args()

    broker = args.broker or subprocess.run(
        ["scripts/kafka.sh", "start"], check=True, capture_output=True, text=True
    ).stdout.strip().splitlines()[-1]
    # Letters between the numbers: ids like "latency-28448-1795677606-12345" hold a digit run in
    # which a valid NIR (15 digits, hyphens allowed) turns up by chance, and alara then refuses
    # the record (no pseudonymisation key configured) and stops.
    run = f"latency-p{os.getpid()}t{int(time.time())}"
    work = tempfile.mkdtemp(prefix="alara-latency.")

    received = {}  # reading_id -> arrival time
    bad = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            t = time.time()
            want = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(want, self.headers.get("X-Alara-Signature", "")):
                bad.append(body)
            d = json.loads(body)
            for a in [d] + d.get("grouped", []):
                for r in a.get("readings", []):
                    received.setdefault(r["reading_id"], t)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    topics = {k: f"{run}.{k}" for k in ("readings", "workers", "procedures")}
    # One valid record per topic creates it (the broker auto-creates) before the consumer joins.
    first = {
        "workers": {"worker_id": "W0", "employer_siret": SIRET, "department": "interventional-cardiology",
                    "role": "cardiologist", "category": "A", "valid_from": "2024-01-01"},
        "procedures": {"procedure_id": "P0", "worker_id": "W0", "department": "interventional-cardiology",
                       "started_at": "2025-03-01T10:00:00Z", "ended_at": "2025-03-01T11:00:00Z"},
        "readings": {"reading_id": f"{run}-seed", "source": "EPD", "worker_id": "W0", "employer_siret": SIRET,
                     "department": "interventional-cardiology", "dosimeter_id": "EPD-0", "monitoring": "operational",
                     "quantity": "Hp10", "status": "measured", "dose_msv": 0.01,
                     "period_start": "2025-03-01T08:00:00Z", "period_end": "2025-03-01T09:00:00Z"},
    }
    for kind, t in topics.items():
        subprocess.run(["kcat", "-b", broker, "-P", "-t", t], input=json.dumps(first[kind]).encode(), check=True)
    config = os.path.join(work, "alara.toml")
    with open(config, "w") as f:
        f.write(
            "[kafka]\n"
            + (f"latency_ms = {args.flush_latency_ms}\n" if args.flush_latency_ms is not None else "")
            + f"""[kafka.topics]
readings = "{topics['readings']}"
workers = "{topics['workers']}"
procedures = "{topics['procedures']}"

[[hooks]]
kind = "webhook"
url = "http://127.0.0.1:{server.server_address[1]}/alara"
secret_env = "ALARA_LATENCY_SECRET"
levels = ["alarm"]
"""
        )
    env = dict(os.environ, ALARA_LATENCY_SECRET=SECRET.decode())
    ingest = subprocess.Popen(
        [args.alara, "--config", config, "ingest", "--lake", os.path.join(work, "lake"), "--kafka", broker,
         "--group", run],
        env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "ingest.log"), "w"),
    )
    def produce(lines):
        """One kcat per chunk (kcat sends only at the end of its input); returns once acked."""
        data = "".join(f"{k}\t{v}\n" for k, v in lines).encode()
        subprocess.run(["kcat", "-b", broker, "-P", "-t", topics["readings"], "-K", "\t"], input=data, check=True)
        return time.time()

    def reading(i, worker, dose):
        start = f"2025-03-{1 + i % 28:02d}T{8 + i % 10:02d}:00:00Z"
        end = f"2025-03-{1 + i % 28:02d}T{9 + i % 10:02d}:30:00Z"
        return json.dumps({
            "reading_id": f"{run}-r{i}", "source": "EPD", "worker_id": worker, "employer_siret": SIRET,
            "department": "interventional-cardiology", "dosimeter_id": f"EPD-{i % 50}",
            "monitoring": "operational", "quantity": "Hp10", "status": "measured", "dose_msv": dose,
            "period_start": start, "period_end": end,
        })

    sent = {}
    try:
        # Warm-up: one alarm, to know the consumer has joined before the clock starts.
        warm = f"{run}-r0"
        produce([("WARM", reading(0, "WARM", 0.9))])
        deadline = time.time() + 120
        while warm not in received:
            if time.time() > deadline or ingest.poll() is not None:
                sys.exit(f"no warm-up alert within 120 s; see {work}/ingest.log")
            time.sleep(0.05)

        # Chunks of a tenth of a second: an alarm's time in Kafka is its chunk's acknowledgement.
        every = max(1, int(args.rate / args.alarms_per_second))
        total = int(args.rate * args.seconds)
        chunk = max(1, args.rate // 10)
        t0 = time.time()
        for first in range(1, total + 1, chunk):
            lines, alarms = [], []
            for i in range(first, min(total + 1, first + chunk)):
                alarm = i % every == 0
                worker = f"A{i}" if alarm else f"W{i % 500}"
                lines.append((worker, reading(i, worker, 0.9 if alarm else 0.02)))
                if alarm:
                    alarms.append(f"{run}-r{i}")
            acked = produce(lines)
            for r in alarms:
                sent[r] = acked
            ahead = t0 + (first + chunk - 1) / args.rate - time.time()
            if ahead > 0:
                time.sleep(ahead)
        achieved = total / (time.time() - t0)
        deadline = time.time() + 60
        while any(r not in received for r in sent) and time.time() < deadline:
            time.sleep(0.1)
    finally:
        ingest.terminate()
        ingest.wait()
        server.shutdown()

    lat = sorted(received[r] - t for r, t in sent.items() if r in received)
    missing = len(sent) - len(lat)

    def pct(p):
        return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] if lat else float("nan")

    rate = round(achieved)
    flush = "default" if args.flush_latency_ms is None else f"{args.flush_latency_ms} ms"
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rate": rate, "seconds": args.seconds, "flush_latency": flush, "alerts": len(lat),
                       "missing": missing, "bad_signatures": len(bad),
                       "p50": pct(50) if lat else None, "p90": pct(90) if lat else None,
                       "p99": pct(99) if lat else None, "max": max(lat) if lat else None}, f)
    print(f"alert latency at {rate} readings/s over {args.seconds:g} s (flush latency {flush}): "
          f"{len(lat)} alerts, p50 {pct(50):.3f} s, p90 {pct(90):.3f} s, p99 {pct(99):.3f} s, max {max(lat, default=float('nan')):.3f} s, "
          f"{missing} missing, {len(bad)} bad signatures")
    ok = missing == 0 and not bad and lat and pct(99) <= args.goal
    if ok:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"kept {work} (alara.toml, ingest.log)", file=sys.stderr)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
