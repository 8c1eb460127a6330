#!/usr/bin/env python3
"""serve.py: `logpack serve` (PRODUCT.md §11) against the targets of its issue, as processes.

    cargo build --release
    python3 benches/serve.py [--binary PATH] [--size-mb 1024] [--jobs 10000] [--quick]

1. Download: a job over a generated deployment whose logs (random base64 in logv2 lines, which
   deflate barely shrinks) make an archive of about --size-mb MiB (default 1 GiB; the corpus is
   kept in --work for the next run). Once the job is done the server is restarted, then the
   archive is downloaded over loopback with `curl -s --digest -o /dev/null` and with a Python
   requests client reading 1 MiB chunks: best of --runs, in GB/s (target >= 1 GB/s each).
2. List: --jobs jobs in the store (one real job made through the API, its row cloned in SQL
   while the server is stopped, as benches/jobs.sh does), the server restarted, then 50
   concurrent keep-alive clients GET pages of 100 for --seconds: p50 and p99 in ms (target
   p99 <= 20 ms). The clients speak Digest by hand on asyncio, spread over --client-procs
   processes: requests sessions would cost more CPU than the server and measure Python. One
   client alone is measured too: the service time without queueing; and the server's CPU time
   per request.
3. Memory: the server's peak RSS (VmHWM of /proc/PID/status) in each phase: running the job
   (target <= 64 MiB plus the job's own bound of 64 MiB), serving the downloads and serving the
   lists (target <= 64 MiB each); and its RSS while --stalled clients (default 50) hold a
   download open without reading it (a slow client must not cost the server its buffers).

--quick (a 64 MiB archive, 1,000 jobs, 3 s of lists, one run each, 20 stalled downloads) is a
smoke run for CI, well under 2 minutes; it reports the targets but exits 0 when they are
missed, unless --strict.
Exit status: 0 when every target holds (or --quick), 3 when one does not, 1 on an error (a
wrong answer, a short download, a server that does not stop cleanly).
"""
import argparse
import asyncio
import base64
import hashlib
import json
import multiprocessing
import os
import queue
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time

try:
    import requests
    from requests.auth import HTTPDigestAuth
except ImportError:
    sys.exit("serve.py: needs the Python module requests "
             "(python3 -m pip install requests)")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GROUP = "5f3c2a1b9d8e7f6a5b4c3d2e"
USER = "bench-owner"
PASSWORD = "bench-private-key-0123456789"
MIB = 1 << 20
# Random bytes as base64, in logv2 lines, come out of the engine's deflate at 73% (1 GiB) to 87%
# (64 MiB) of their size. Logs of size / RATIO make an archive of about `size`.
RATIO = 0.75
PROCESSES = 8


class BenchError(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# The corpus: a deployment of PROCESSES mongods of one cluster

def generate(corpus, size_mb):
    """Writes corpus/deployment.json and its logs, unless a complete one is there."""
    marker = os.path.join(corpus, "complete.json")
    want = {"sizeMb": size_mb, "ratio": RATIO, "processes": PROCESSES}
    if os.path.exists(marker):
        with open(marker) as f:
            have = json.load(f)
        if all(have.get(k) == v for k, v in want.items()):
            return have["logBytes"]
    shutil.rmtree(corpus, ignore_errors=True)
    os.makedirs(corpus)
    log_bytes = int(size_mb * MIB / RATIO)
    per_file = log_bytes // PROCESSES
    processes = []
    t0 = time.time()
    for i in range(PROCESSES):
        rel = "hosts/bench1/p%d/mongod.log" % i
        path = os.path.join(corpus, rel)
        os.makedirs(os.path.dirname(path))
        written, n = 0, 0
        with open(path, "wb", buffering=4 * MIB) as f:
            while written < per_file:
                # 1.5 MiB of random bytes as base64: 2 MiB, cut into 4000-character messages.
                blob = base64.b64encode(os.urandom(3 * MIB // 2))
                lines = []
                for k in range(0, len(blob), 4000):
                    lines.append(b'{"t":{"$date":"2026-11-20T%02d:%02d:%02d.%03d+00:00"},"s":"I",'
                                 b'"c":"NETWORK","id":22943,"ctx":"conn%d","msg":"payload",'
                                 b'"attr":{"data":"%s"}}\n'
                                 % (n // 3600000 % 24, n // 60000 % 60, n // 1000 % 60, n % 1000,
                                    n % 97, blob[k:k + 4000]))
                    n += 1
                chunk = b"".join(lines)
                f.write(chunk)
                written += len(chunk)
        processes.append({"type": "mongod", "cluster": "benchCluster", "replicaSet": "rs0",
                          "port": 27017 + i, "logPath": rel})
    with open(os.path.join(corpus, "deployment.json"), "w") as f:
        json.dump({"groupId": GROUP, "hosts": [{"hostname": "bench1.example.net",
                                                "processes": processes}]}, f, indent=1)
    total = sum(os.path.getsize(os.path.join(corpus, p["logPath"])) for p in processes)
    with open(marker, "w") as f:
        json.dump(dict(want, logBytes=total), f)
    log("   generated %.0f MiB of logs in %.1f s" % (total / MIB, time.time() - t0))
    return total


def tiny_deployment(work):
    """The shipped sample, copied: the job whose record is cloned."""
    dst = os.path.join(work, "sample")
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, "examples/sample"), dst)
    return os.path.join(dst, "deployment.json")


# ---------------------------------------------------------------------------
# The server

def status_kib(pid, field):
    """A number of /proc/PID/status (kB for the Vm fields)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    def __init__(self, binary, spool, deployment, keys, max_in_progress=4):
        self.proc = subprocess.Popen(
            [binary, "serve", "--spool", spool, "--deployment", deployment, "--keys", keys,
             "--listen", "127.0.0.1:0", "--max-in-progress", str(max_in_progress)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.stderr = []
        got = queue.Queue()

        def read():
            told = False
            for line in self.proc.stderr:
                line = line.decode(errors="replace")
                self.stderr.append(line)
                if not told and line.startswith("listening on "):
                    got.put(line.split()[-1])
                    told = True

        threading.Thread(target=read, daemon=True).start()
        try:
            addr = got.get(timeout=30)
        except queue.Empty:
            self.proc.kill()
            raise BenchError("logpack serve did not start: %s" % "".join(self.stderr))
        self.base = "http://%s" % addr
        self.jobs = "%s/api/public/v1.0/groups/%s/logCollectionJobs" % (self.base, GROUP)
        self.pid = self.proc.pid

    def hwm_kib(self):
        return status_kib(self.pid, "VmHWM")

    def stop(self):
        """SIGTERM; the server must exit 0 within 30 s. Returns its VmHWM before it went."""
        hwm = self.hwm_kib()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise BenchError("logpack serve did not stop within 30 s of SIGTERM")
        if code != 0:
            raise BenchError("logpack serve exited %d after SIGTERM: %s"
                             % (code, "".join(self.stderr)))
        return hwm

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def session():
    s = requests.Session()
    s.auth = HTTPDigestAuth(USER, PASSWORD)
    return s


def create_job(server, body, limit):
    s = session()
    r = s.post(server.jobs, json=body, timeout=60)
    if r.status_code != 201:
        raise BenchError("create: %d %s" % (r.status_code, r.text[:300]))
    job_id = r.json()["id"]
    deadline = time.time() + limit
    while True:
        job = s.get("%s/%s" % (server.jobs, job_id), timeout=60).json()
        if job["status"] != "IN_PROGRESS":
            break
        if time.time() > deadline:
            raise BenchError("job %s still IN_PROGRESS after %d s" % (job_id, limit))
        time.sleep(0.1)
    if job["status"] != "SUCCESS":
        raise BenchError("job %s ended %s: %s" % (job_id, job["status"],
                                                  job.get("errorMessage")))
    return job_id


# ---------------------------------------------------------------------------
# 1. Download

def curl_download(url):
    """(bytes, seconds) of one `curl --digest` download to /dev/null."""
    out = subprocess.run(
        ["curl", "-s", "-S", "--digest", "-u", "%s:%s" % (USER, PASSWORD), "-o", "/dev/null",
         "-w", "%{http_code} %{size_download} %{time_total} %{time_starttransfer}", url],
        capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise BenchError("curl failed (%d): %s" % (out.returncode, out.stderr))
    code, size, total, first = out.stdout.split()
    if code != "200":
        raise BenchError("curl: HTTP %s" % code)
    return int(size), float(total)


def python_download(url, digest=False):
    """(bytes, seconds[, sha256]) of one requests download read in 1 MiB chunks."""
    s = session()
    s.get(url, headers={"Range": "bytes=0-0"}, timeout=60).close()  # the Digest challenge
    h = hashlib.sha256() if digest else None
    t0 = time.perf_counter()
    r = s.get(url, stream=True, timeout=60)
    if r.status_code != 200:
        raise BenchError("python download: HTTP %d" % r.status_code)
    n = 0
    for chunk in r.iter_content(chunk_size=MIB):
        n += len(chunk)
        if h:
            h.update(chunk)
    dt = time.perf_counter() - t0
    if n != int(r.headers["content-length"]):
        raise BenchError("python download: %d bytes, Content-Length %s"
                         % (n, r.headers["content-length"]))
    return (n, dt, h.hexdigest()) if h else (n, dt)


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(4 * MIB)
            if not b:
                return h.hexdigest()
            h.update(b)


def bench_download(args, work, keys):
    corpus = os.path.join(work, "corpus-%dM" % args.size_mb)
    log("== 1. download of a ~%d MiB archive" % args.size_mb)
    log_bytes = generate(corpus, args.size_mb)
    spool = os.path.join(work, "spool-download")
    shutil.rmtree(spool, ignore_errors=True)
    deployment = os.path.join(corpus, "deployment.json")
    server = Server(args.binary, spool, deployment, keys)
    try:
        t0 = time.time()
        job_id = create_job(server, {"resourceType": "CLUSTER", "resourceName": "benchCluster",
                                     "redacted": False, "logTypes": ["MONGODB"],
                                     "sizeRequestedPerFileBytes": 1 << 40}, limit=1800)
        job_seconds = time.time() - t0
        hwm_job = server.stop()
    finally:
        server.kill()
    archive = os.path.join(spool, "archives", job_id + ".tar.gz")
    size = os.path.getsize(archive)
    log("   job %s: %.1f s, archive %.1f MiB" % (job_id, job_seconds, size / MIB))
    # A fresh server: its VmHWM is the downloads' alone.
    server = Server(args.binary, spool, deployment, keys)
    try:
        url = "%s/%s/download" % (server.jobs, job_id)
        # Warm the page cache (the job just wrote it; a restart does not drop it).
        with open(archive, "rb") as f:
            while f.read(16 * MIB):
                pass
        curl_runs, py_runs = [], []
        for _ in range(args.runs):
            n, dt = curl_download(url)
            if n != size:
                raise BenchError("curl read %d bytes of %d" % (n, size))
            curl_runs.append(dt)
            n, dt = python_download(url)
            py_runs.append(dt)
            log("   curl %.2f GB/s, python %.2f GB/s" % (size / curl_runs[-1] / 1e9,
                                                       size / dt / 1e9))
        # What was served is the archive, byte for byte (not timed).
        n, _, sha = python_download(url, digest=True)
        if sha != file_sha256(archive):
            raise BenchError("the downloaded bytes differ from the archive in the spool")
        hwm_download = server.hwm_kib()
        stalled_kib = None
        if args.stalled:
            stalled_kib = asyncio.run(stalled_downloads(server, job_id, args.stalled))
            log("   %d downloads that stopped reading: server RSS %.1f MiB"
                % (args.stalled, stalled_kib / 1024))
        server.stop()
    finally:
        server.kill()
    if not args.keep:
        shutil.rmtree(spool, ignore_errors=True)
    return {"archiveBytes": size, "jobSeconds": job_seconds, "logBytes": log_bytes,
            "curlGBps": size / min(curl_runs) / 1e9, "pythonGBps": size / min(py_runs) / 1e9,
            "curlRuns": curl_runs, "pythonRuns": py_runs,
            "hwmJobKiB": hwm_job, "hwmDownloadKiB": hwm_download, "stalledKiB": stalled_kib}


async def stalled_downloads(server, job_id, n):
    """The server's RSS (KiB) while `n` clients hold a download open without reading its body
    (a slow client, or one gone without a FIN); then they go, and the server must still
    answer."""
    host, port = server.base[len("http://"):].rsplit(":", 1)
    port = int(port)
    target = "/api/public/v1.0/groups/%s/logCollectionJobs/%s/download" % (GROUP, job_id)
    probe = "/api/public/v1.0/groups/%s/logCollectionJobs?itemsPerPage=1" % GROUP
    conns = []
    try:
        for _ in range(n):
            c = DigestConnection(host, port)
            await c.open()
            await c.get(probe)
            c.writer.write(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: %s\r\n\r\n"
                            % (target, host, port, c._authorization(target))).encode())
            head = await c.reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise BenchError("a download answered %r" % head[:100])
            conns.append(c)
        await asyncio.sleep(2.0)  # the server fills what it buffers for them
        rss = status_kib(server.pid, "VmRSS")
        c = DigestConnection(host, port)
        await c.open()
        status, _ = await asyncio.wait_for(c.get(probe), 30)
        c.close()
        if status != 200:
            raise BenchError("a list beside the stalled downloads answered %d" % status)
    finally:
        for c in conns:
            c.close()
    return rss


# ---------------------------------------------------------------------------
# 2. List with many jobs

def clone_jobs(db_path, total):
    """Clones the store's one job until it holds `total` (as benches/jobs.sh does)."""
    db = sqlite3.connect(db_path)
    cols = [r[1] for r in db.execute("PRAGMA table_info(jobs)")]
    row = db.execute("SELECT * FROM jobs LIMIT 1").fetchone()
    have = db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
    rows = []
    for i in range(total - have):
        r = list(row)
        r[cols.index("id")] = secrets.token_hex(12)
        r[cols.index("created_ms")] = row[cols.index("created_ms")] - (i + 1) * 1000
        rows.append(r)
    db.executemany("INSERT INTO jobs VALUES (%s)" % ",".join("?" * len(cols)), rows)
    db.commit()
    n = db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
    db.close()
    return n


class DigestConnection:
    """One keep-alive HTTP/1.1 connection speaking Digest (MD5, qop=auth) by hand, on asyncio:
    a client light enough that the latencies measured are the server's, not Python's (a
    requests session costs a millisecond or two of client CPU a request, and 50 of them
    compete with the server for the cores)."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.nonce = None
        self.nc = 0
        self.reauth = 0

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self):
        self.writer.close()

    async def _roundtrip(self, target, auth):
        head = "GET %s HTTP/1.1\r\nHost: %s:%d\r\n" % (target, self.host, self.port)
        if auth:
            head += "Authorization: %s\r\n" % auth
        self.writer.write((head + "\r\n").encode())
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        if "content-length" not in headers:
            raise BenchError("an answer without Content-Length: %r" % raw[:300])
        body = await self.reader.readexactly(int(headers["content-length"]))
        return status, headers, body

    def _challenge(self, header):
        fields = dict(re.findall(r'(\w+)="?([^",]*)"?', header))
        self.realm, self.nonce, self.nc = fields["realm"], fields["nonce"], 0
        self.ha1 = hashlib.md5(("%s:%s:%s" % (USER, self.realm, PASSWORD)).encode()).hexdigest()

    def _authorization(self, target):
        self.nc += 1
        cnonce = secrets.token_hex(8)
        ha2 = hashlib.md5(("GET:%s" % target).encode()).hexdigest()
        nc = "%08x" % self.nc
        response = hashlib.md5(("%s:%s:%s:%s:auth:%s" % (self.ha1, self.nonce, nc, cnonce, ha2))
                               .encode()).hexdigest()
        return ('Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=MD5, '
                'qop=auth, nc=%s, cnonce="%s", response="%s"'
                % (USER, self.realm, self.nonce, target, nc, cnonce, response))

    async def get(self, target):
        """(status, body); a 401 (first request, or an expired nonce) is answered once."""
        for attempt in range(3):
            auth = self._authorization(target) if self.nonce else None
            status, headers, body = await self._roundtrip(target, auth)
            if status != 401 or "www-authenticate" not in headers:
                return status, body
            if auth:
                self.reauth += 1
            self._challenge(headers["www-authenticate"])
        return status, body


async def list_clients(host, port, target, n, start_at, deadline):
    """`n` connections listing from `start_at` to `deadline` (time.time()); the latency of each
    request started in that window, the errors and the re-challenges."""
    conns = [DigestConnection(host, port) for _ in range(n)]
    for c in conns:
        await c.open()
        await c.get(target)  # the Digest challenge, before the clock runs
    lat, errors = [], []

    async def run(c):
        await asyncio.sleep(max(0.0, start_at - time.time()))
        while time.time() < deadline:
            t0 = time.perf_counter()
            try:
                status, body = await c.get(target)
            except Exception as e:
                errors.append(repr(e))
                return
            dt = time.perf_counter() - t0
            if status != 200 or b'"totalCount"' not in body:
                errors.append("%d %r" % (status, body[:200]))
            else:
                lat.append(dt)

    await asyncio.gather(*(run(c) for c in conns))
    for c in conns:
        c.close()
    return lat, errors, sum(c.reauth for c in conns)


def list_worker(host, port, target, n, start_at, deadline, out):
    """One process of list clients (spawned)."""
    try:
        out.put(asyncio.run(list_clients(host, port, target, n, start_at, deadline)))
    except Exception as e:
        out.put(([], [repr(e)], 0))


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def bench_list(args, work, keys):
    log("== 2. list with %d jobs, %d clients for %g s" % (args.jobs, args.clients, args.seconds))
    spool = os.path.join(work, "spool-list")
    shutil.rmtree(spool, ignore_errors=True)
    deployment = tiny_deployment(work)
    server = Server(args.binary, spool, deployment, keys)
    try:
        create_job(server, {"resourceType": "CLUSTER", "resourceName": "sampleCluster",
                            "redacted": False, "sizeRequestedPerFileBytes": 10000000,
                            "logTypes": ["MONGODB", "AUTOMATION_AGENT"]}, limit=120)
        server.stop()
    finally:
        server.kill()
    total = clone_jobs(os.path.join(spool, "logpack.db"), args.jobs)
    db_bytes = os.path.getsize(os.path.join(spool, "logpack.db"))
    server = Server(args.binary, spool, deployment, keys)
    try:
        s = session()
        r = s.get(server.jobs, params={"itemsPerPage": 100}, timeout=60)
        if r.status_code != 200 or r.json()["totalCount"] != total or \
                len(r.json()["results"]) != 100:
            raise BenchError("the list after the restart: %d %s" % (r.status_code, r.text[:300]))
        page_bytes = len(r.content)
        host, port = server.base[len("http://"):].rsplit(":", 1)
        port = int(port)
        target = "/api/public/v1.0/groups/%s/logCollectionJobs?pageNum=1&itemsPerPage=100" % GROUP
        # One client alone: the service time, no queueing.
        now = time.time()
        alone, errors, _ = asyncio.run(list_clients(host, port, target, 1, now + 0.2,
                                                    now + 0.2 + args.alone_seconds))
        if errors or not alone:
            raise BenchError("lists by one client failed: %s" % errors[:5])
        # Concurrent clients, spread over processes.
        mp = multiprocessing.get_context("spawn")
        procs = max(1, min(args.client_procs, args.clients))
        out = mp.Queue()
        start_at = time.time() + 2.0 + 0.02 * args.clients  # processes up, connections made
        deadline = start_at + args.seconds
        workers = []
        for i in range(procs):
            n = args.clients // procs + (1 if i < args.clients % procs else 0)
            p = mp.Process(target=list_worker,
                           args=(host, port, target, n, start_at, deadline, out))
            p.start()
            workers.append(p)
        time.sleep(max(0.0, start_at - time.time()))
        cpu0 = cpu_seconds(server.pid)
        time.sleep(args.seconds)
        cpu = cpu_seconds(server.pid) - cpu0
        lat, errors, reauth = [], [], 0
        for _ in workers:
            l, e, r = out.get(timeout=args.seconds + 120)
            lat.extend(l)
            errors.extend(e)
            reauth += r
        for p in workers:
            p.join()
        if errors:
            raise BenchError("%d list requests failed: %s" % (len(errors), errors[:5]))
        threads = status_kib(server.pid, "Threads")
        hwm = server.stop()
    finally:
        server.kill()
    if not args.keep:
        shutil.rmtree(spool, ignore_errors=True)
    return {"jobs": total, "dbBytes": db_bytes, "pageBytes": page_bytes,
            "aloneP50": percentile(alone, 0.5) * 1000, "aloneP99": percentile(alone, 0.99) * 1000,
            "aloneCount": len(alone), "reauth": reauth,
            "requests": len(lat), "perSecond": len(lat) / args.seconds,
            "p50": percentile(lat, 0.5) * 1000, "p99": percentile(lat, 0.99) * 1000,
            "serverCpuPerRequestMs": cpu / max(1, len(lat)) * 1000, "hwmListKiB": hwm,
            "threads": threads}


# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", default=os.path.join(ROOT, "target/release/logpack"))
    ap.add_argument("--size-mb", type=int, help="archive size for the download (default 1024)")
    ap.add_argument("--jobs", type=int, help="jobs in the store for the list (default 10000)")
    ap.add_argument("--clients", type=int, default=50, help="concurrent list clients")
    ap.add_argument("--client-procs", type=int, default=2,
                    help="processes the list clients are spread over")
    ap.add_argument("--seconds", type=float, help="of concurrent lists (default 10)")
    ap.add_argument("--runs", type=int, help="downloads of each kind, the best kept (default 3)")
    ap.add_argument("--stalled", type=int,
                    help="downloads held open unread, for the server's RSS (default 50; 0: none)")
    ap.add_argument("--alone-seconds", type=float, default=2.0,
                    help="of lists by one client alone")
    ap.add_argument("--work", default=os.path.join(ROOT, "target/bench-serve"),
                    help="where the corpus (kept) and the spools go")
    ap.add_argument("--keep", action="store_true", help="keep the spools")
    ap.add_argument("--quick", action="store_true", help="a smoke run (CI)")
    ap.add_argument("--strict", action="store_true", help="exit 3 on a missed target in --quick")
    ap.add_argument("--skip-download", action="store_true")
    ap.add_argument("--skip-list", action="store_true")
    args = ap.parse_args()
    quick = {"size_mb": 64, "jobs": 1000, "seconds": 3.0, "runs": 1, "stalled": 20}
    full = {"size_mb": 1024, "jobs": 10000, "seconds": 10.0, "runs": 3, "stalled": 50}
    for k, v in (quick if args.quick else full).items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    if not os.access(args.binary, os.X_OK):
        sys.exit("serve.py: %s is not there: cargo build --release (or --binary PATH)"
                 % args.binary)
    if shutil.which("curl") is None:
        sys.exit("serve.py: needs curl")
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    keys = os.path.join(work, "keys.json")
    with open(keys, "w") as f:
        json.dump({"apiKeys": [{"publicKey": USER, "privateKey": PASSWORD,
                                "roles": ["GROUP_OWNER"]}],
                   "monitorApiKeys": ["bench-monitor-token-0123456789"]}, f)
    os.chmod(keys, 0o600)

    t_start = time.time()
    try:
        d = None if args.skip_download else bench_download(args, work, keys)
        l = None if args.skip_list else bench_list(args, work, keys)
    except BenchError as e:
        print("serve.py: %s" % e, file=sys.stderr)
        sys.exit(1)

    rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    print()
    print("## logpack serve (%s, %d cores, logpack %s, %.0f s)"
          % ("quick" if args.quick else "full", os.cpu_count(), rev, time.time() - t_start))
    print()
    rows = []
    if d:
        print("- download: archive %.1f MiB (a job over %.0f MiB of logs: %.1f s); "
              "curl runs %s s; python runs %s s" % (d["archiveBytes"] / MIB, d["logBytes"] / MIB,
                                    d["jobSeconds"],
                                    ", ".join("%.2f" % x for x in d["curlRuns"]),
                                    ", ".join("%.2f" % x for x in d["pythonRuns"])))
        rows += [
            ("download, curl --digest (GB/s)", d["curlGBps"], ">=", 1.0, "%.2f"),
            ("download, Python requests (GB/s)", d["pythonGBps"], ">=", 1.0, "%.2f"),
            ("peak RSS running the job (MiB)", d["hwmJobKiB"] / 1024, "<=", 64 + 64, "%.1f"),
            ("peak RSS serving the downloads (MiB)", d["hwmDownloadKiB"] / 1024, "<=", 64,
             "%.1f"),
        ]
        if d["stalledKiB"] is not None:
            rows.append(("RSS with %d downloads not read (MiB)" % args.stalled,
                         d["stalledKiB"] / 1024, "<=", 64, "%.1f"))
    if l:
        print("- list: %d jobs (database %.1f MiB), pages of 100 (%.0f KiB); %d clients "
              "(keep-alive, Digest by hand on asyncio, %d processes): %d requests, %.0f a second, "
              "p50 %.1f ms, p99 %.1f ms, server CPU %.2f ms a request, %d re-challenges, "
              "%s server threads at the end; one client alone: %d requests, p50 %.1f ms, "
              "p99 %.1f ms"
              % (l["jobs"], l["dbBytes"] / MIB, l["pageBytes"] / 1024, args.clients,
                 args.client_procs, l["requests"], l["perSecond"], l["p50"], l["p99"],
                 l["serverCpuPerRequestMs"], l["reauth"], l["threads"], l["aloneCount"],
                 l["aloneP50"], l["aloneP99"]))
        rows += [
            ("list p99, %d clients, %d jobs (ms)" % (args.clients, l["jobs"]), l["p99"], "<=",
             20, "%.1f"),
            ("peak RSS serving the lists (MiB)", l["hwmListKiB"] / 1024, "<=", 64, "%.1f"),
        ]
    print()
    print("| target | measured | limit | result |")
    print("|---|---:|---:|---|")
    ok = True
    for name, v, op, lim, fmt in rows:
        good = v <= lim if op == "<=" else v >= lim
        ok &= good
        print("| %s | %s | %s %s | **%s** |" % (name, fmt % v, op, lim,
                                                "PASS" if good else "FAIL"))
    if args.quick and not args.strict:
        sys.exit(0)
    sys.exit(0 if ok else 3)


if __name__ == "__main__":
    main()
