#!/usr/bin/env python3
"""capture.py: live capture against the targets of issue 13, as whole processes.

    python3 benches/capture.py            # needs target/release/logpack (cargo build --release)

1. Latency: a writer appends one logv2 entry every 10 ms, each carrying the time it was written;
   the reader stamps each record as it arrives on `logpack capture`'s stdout. Median and p99 of
   the difference (targets: <= 50 ms, <= 250 ms).
2. Throughput: 300,000 entries appended as fast as Python can write them, into a capture running
   on one thread; entries per second from the first write to the last record (target >= 100,000).
3. Memory: 50 files followed while each is written to; peak RSS from GNU time (target <= 32 MiB).
Exit status 0 when every target holds, 3 when one does not.
"""
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOGPACK = os.environ.get("LOGPACK", os.path.join(ROOT, "target/release/logpack"))


def entry(n, note=""):
    return ('{"t":{"$date":"2026-11-20T10:00:00.000+00:00"},"s":"I","c":"NETWORK","id":%d,'
            '"ctx":"conn%d","msg":"Connection accepted%s","attr":{"remote":"10.1.2.3:5000",'
            '"connectionId":%d,"connectionCount":12}}\n' % (n, n, note, n))


def request(tmp, logs):
    procs = [{"type": "mongod", "replicaSet": "rs0", "port": 20000 + i, "logPath": p}
             for i, p in enumerate(logs)]
    path = os.path.join(tmp, "request.json")
    with open(path, "w") as f:
        json.dump({"hosts": [{"hostname": "db1.example.net", "processes": procs}]}, f)
    return path


def start(req, seconds, timed=False):
    cmd = [LOGPACK, "capture", req, "--duration", str(seconds), "--quiet"]
    if timed:
        cmd = ["/usr/bin/time", "-f", "%M"] + cmd
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def latency(tmp):
    log = os.path.join(tmp, "lat.log")
    open(log, "w").close()
    proc = start(request(tmp, [log]), 9)
    got = []

    def read():
        for line in proc.stdout:
            now = time.time()
            rec = json.loads(line)
            sent = float(rec["Message"].split("@")[1])
            got.append(now - sent)

    t = threading.Thread(target=read)
    t.start()
    time.sleep(1.0)
    with open(log, "a") as f:
        for n in range(600):
            f.write(entry(n, "@%.6f" % time.time()))
            f.flush()
            time.sleep(0.01)
    proc.wait()
    t.join()
    got.sort()
    assert len(got) == 600, len(got)
    return got[len(got) // 2] * 1000, got[int(len(got) * 0.99)] * 1000


def throughput(tmp):
    log = os.path.join(tmp, "tp.log")
    open(log, "w").close()
    proc = start(request(tmp, [log]), 30)
    n_total = 300_000
    state = {"count": 0, "last": 0.0}

    def read():
        for _ in proc.stdout:
            state["count"] += 1
            state["last"] = time.time()
            if state["count"] == n_total:
                break
        proc.terminate()

    t = threading.Thread(target=read)
    t.start()
    time.sleep(1.0)
    chunk = "".join(entry(n) for n in range(1000))
    t0 = time.time()
    with open(log, "a") as f:
        for _ in range(n_total // 1000):
            f.write(chunk)
    t.join()
    proc.wait()
    assert state["count"] == n_total, state["count"]
    return n_total / (state["last"] - t0)


def memory(tmp):
    logs = [os.path.join(tmp, "m%02d.log" % i) for i in range(50)]
    for p in logs:
        with open(p, "w") as f:
            f.write(entry(0))
    proc = start(request(tmp, logs), 6, timed=True)
    count = [0]

    def read():
        for _ in proc.stdout:
            count[0] += 1

    t = threading.Thread(target=read)
    t.start()
    time.sleep(1.0)
    for rnd in range(40):
        for p in logs:
            with open(p, "a") as f:
                f.write("".join(entry(rnd * 100 + k) for k in range(100)))
        time.sleep(0.05)
    proc.wait()
    t.join()
    rss_kib = int(proc.stderr.read().decode().strip().splitlines()[-1])
    return rss_kib / 1024, count[0]


def main():
    if not os.access(LOGPACK, os.X_OK):
        sys.exit("capture.py: build first: cargo build --release")
    with tempfile.TemporaryDirectory() as tmp:
        med, p99 = latency(tmp)
        rate = throughput(tmp)
        rss, n = memory(tmp)
    rows = [
        ("latency, median (ms)", med, "<=", 50),
        ("latency, p99 (ms)", p99, "<=", 250),
        ("throughput, logv2 into ndjson, one thread (entries/s)", rate, ">=", 100_000),
        ("peak RSS following 50 files (MiB)", rss, "<=", 32),
    ]
    print("| target (issue 13) | measured | limit | result |")
    print("|---|---:|---:|---|")
    ok = True
    for name, v, op, lim in rows:
        good = v <= lim if op == "<=" else v >= lim
        ok &= good
        print("| %s | %.1f | %s %s | **%s** |" % (name, v, op, lim, "PASS" if good else "FAIL"))
    print("\n(%d records from the 50 files)" % n)
    sys.exit(0 if ok else 3)


if __name__ == "__main__":
    main()
