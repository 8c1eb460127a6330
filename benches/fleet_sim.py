#!/usr/bin/env python3
"""fleet_sim.py: a 100-host cluster through `logpack fleet put` and `logpack fleet compose`
(PRODUCT.md §12) on a local S3-compatible store (moto in server mode), checked end to end
against the targets of the fleet issue.

    cargo build --release
    python3 -m pip install --break-system-packages "moto[server]<5.2" waitress   # 5.2.x: below
    python3 benches/fleet_sim.py [--binary target/release/logpack] [--quick] [--work DIR]

1. Deployments: 100 hosts in a scratch directory (in /dev/shm when it exists: the full run's
   logs are about 830 MB; moto spools its objects there too). Every log is logv2 JSON cut
   from one pool of varied mongod lines (connections, client metadata, slow queries with
   their filters and sessions, checkpoints, heartbeats) that deflates to about a sixth, less
   than any mongod log of the corpus. Most hosts are small (some with two mongods, a mongos,
   an agent log directory, rotated and .gz siblings), all under 5 MiB compressed; 3 are large, each over 20 MiB compressed, and 2 medium (about 7 MiB). 3 hosts
   fail (a mongod log directory that does not exist; a mongod log that is a directory; an
   agent log directory that does not exist beside a good mongod): their put exits 3. 2 hosts
   never report.
2. Hosts: every put runs as its own process, --threads 1, 8 at a time; their CPU time
   (user + sys, from wait4's rusage) is summed: the hosts' compression CPU.
3. Coordinator: `fleet compose --wait W --json`, its CPU and peak RSS from GNU time -v (or
   wait4 and /proc/PID/status VmHWM without it: wait4's ru_maxrss of a child of Python counts
   Python's own memory, inherited across fork and exec).
4. Checks on the composed object: its parts (HEAD ?partNumber=: every part but the last
   >= 5 MiB, as many as the report says), no multipart upload left open, gzip -t, GNU tar -tzf,
   Python tarfile r|gz and r:gz (every entry read, SHA-256), the Go reader of tests/go_reader
   when go is installed, `logpack verify`; every entry the bytes of its host's own uploaded
   archive (each host's archive is downloaded and read) and of its source file, the SHA-256s
   in the composed manifest those of each host's uploaded HOST.manifest.json; the manifest
   names the 100 hosts, the 3 failing hosts' failed children, the 2 missing hosts' children
   FAILURE ("did not report"), and every other child SUCCESS.
5. Targets: the coordinator's traffic (bytesDownloaded + bytesUploaded) <= 2 x the small
   hosts' fragments + the records and the archives' tails (their manifests) + the composed
   archive's final fragment and index + its listings; its CPU <= 0.02 x the hosts' CPU; its peak RSS <= 64 MiB.

The full run takes about a minute on 2 cores (CI runs it). --quick keeps 100 hosts, 3
failing, 2 missing, with lighter ones: 2 large hosts just over 5 MiB (the third is small), no
medium ones, small ones of tens of KB to 1 MB: a smoke for the checks. Its hosts compress too
little for the CPU ratio to mean much (the coordinator's requests stay): use
--targets-advisory with it.

Exit status: 0 when every check and target holds, 1 when one does not (the reasons are
printed; with --targets-advisory a missed target is reported and only a failed check gives
1), 2 on bad usage or a missing tool.

moto 5.2.x answers CompleteMultipartUpload with a root element the AWS SDK refuses; 5.1.x
(5.1.22) is right.
"""
import argparse
import base64
import gzip
import hashlib
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIB = 1 << 20
MIN_PART = 5 * MIB
HOSTS = 100
FAILING = {12: "missing-dir", 50: "log-is-dir", 91: "agent-dir-missing"}
MISSING = {33, 77}
LARGE = (7, 41, 83)
MEDIUM = (25, 66)
SRC, OUT = "fleet-src", "fleet-out"
PREFIX = "jobs/sim"
OUT_KEY = "clusters/sim.tar.gz"
CPU_RATIO = 0.02
RSS_LIMIT = 64 * MIB


class SimError(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------
# Content


def mongod_pool(rng, size):
    """Varied logv2 lines as a mongod writes them: connections, client metadata,
    slow operations with their filters, sessions and timings, checkpoints, heartbeats,
    authentications."""
    colls = ["orders", "users", "sessions", "events", "inventory", "audit", "carts", "metrics"]
    dbs = ["shop", "app", "analytics", "admin", "config"]
    fields = ["status", "userId", "sku", "createdAt", "region", "score", "tags", "email"]
    drivers = [("nodejs", "6.8.0"), ("PyMongo", "4.10.1"), ("mongo-go-driver", "v1.17.1"),
               ("mongo-java-driver|sync", "5.2.0"), ("mongo-csharp-driver", "3.0.0")]
    users = ["svc-api", "svc-batch", "reporting", "mms-automation", "backup-agent"]
    out, n = [], 0
    t = 1763632800.0
    conn = 1000
    while n < size:
        t += rng.expovariate(40.0)
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03}+00:00"
        k = rng.random()
        ip = f"10.{rng.randrange(4)}.{rng.randrange(256)}.{rng.randrange(256)}:{rng.randrange(32768, 61000)}"
        if k < 0.22:
            conn += 1
            line = (f'{{"t":{{"$date":"{ts}"}},"s":"I",  "c":"NETWORK",  "id":22943,   "ctx":"listener",'
                    f'"msg":"Connection accepted","attr":{{"remote":"{ip}","uuid":{{"uuid":{{"$uuid":"{uuid.UUID(int=rng.getrandbits(128), version=4)}"}}}},'
                    f'"connectionId":{conn},"connectionCount":{rng.randrange(20, 900)}}}}}')
        elif k < 0.42:
            line = (f'{{"t":{{"$date":"{ts}"}},"s":"I",  "c":"NETWORK",  "id":22944,   "ctx":"conn{conn - rng.randrange(300)}",'
                    f'"msg":"Connection ended","attr":{{"remote":"{ip}","uuid":{{"uuid":{{"$uuid":"{uuid.UUID(int=rng.getrandbits(128), version=4)}"}}}},'
                    f'"connectionId":{conn - rng.randrange(300)},"connectionCount":{rng.randrange(20, 900)}}}}}')
        elif k < 0.52:
            d = rng.choice(drivers)
            line = (f'{{"t":{{"$date":"{ts}"}},"s":"I",  "c":"NETWORK",  "id":51800,   "ctx":"conn{conn}",'
                    f'"msg":"client metadata","attr":{{"remote":"{ip}","client":"conn{conn}","negotiatedCompressors":[],'
                    f'"doc":{{"driver":{{"name":"{d[0]}","version":"{d[1]}"}},"os":{{"type":"Linux","name":"linux",'
                    f'"architecture":"x86_64","version":"6.{rng.randrange(1, 12)}.0-{rng.randrange(10, 40)}-generic"}},'
                    f'"platform":"{rng.choice(["Node.js v20.18.0, LE", "CPython 3.12.7.final.0", "go1.23.2", "Java/Eclipse Adoptium/21.0.5+11-LTS"])}"}}}}}}')
        elif k < 0.62:
            line = (f'{{"t":{{"$date":"{ts}"}},"s":"I",  "c":"ACCESS",   "id":20250,   "ctx":"conn{conn}",'
                    f'"msg":"Authentication succeeded","attr":{{"mechanism":"SCRAM-SHA-256","speculative":true,'
                    f'"principalName":"{rng.choice(users)}","authenticationDatabase":"admin","remote":"{ip}",'
                    f'"extraInfo":{{}}}}}}')
        elif k < 0.88:
            db, coll, f1 = rng.choice(dbs), rng.choice(colls), rng.choice(fields)
            oid = "%024x" % rng.getrandbits(96)
            lsid = base64.b64encode(rng.randbytes(16)).decode()
            ms = int(rng.expovariate(1 / 180)) + 100
            op = rng.choice(["find", "aggregate", "update", "getMore", "count"])
            line = (f'{{"t":{{"$date":"{ts}"}},"s":"I",  "c":"COMMAND",  "id":51803,   "ctx":"conn{conn - rng.randrange(200)}",'
                    f'"msg":"Slow query","attr":{{"type":"command","ns":"{db}.{coll}","appName":"{rng.choice(users)}",'
                    f'"command":{{"{op}":"{coll}","filter":{{"{f1}":{{"$eq":"{oid}"}},"{rng.choice(fields)}":{{"$gte":{rng.randrange(10**6)}}}}},'
                    f'"limit":{rng.choice([1, 20, 100, 500])},"lsid":{{"id":{{"$uuid":"{uuid.UUID(int=rng.getrandbits(128), version=4)}"}}}},'
                    f'"$clusterTime":{{"clusterTime":{{"$timestamp":{{"t":{int(t)},"i":{rng.randrange(1, 40)}}}}},'
                    f'"signature":{{"hash":{{"$binary":{{"base64":"{lsid}","subType":"0"}}}},"keyId":{7300000000000000000 + rng.getrandbits(40)}}}}},'
                    f'"$db":"{db}"}},"planSummary":"{rng.choice(["COLLSCAN", "IXSCAN { " + f1 + ": 1 }", "IDHACK"])}",'
                    f'"keysExamined":{rng.randrange(10**5)},"docsExamined":{rng.randrange(10**6)},"nreturned":{rng.randrange(500)},'
                    f'"queryHash":"{rng.getrandbits(32):08X}","planCacheKey":"{rng.getrandbits(32):08X}",'
                    f'"numYields":{rng.randrange(300)},"reslen":{rng.randrange(100, 16000)},'
                    f'"locks":{{"Global":{{"acquireCount":{{"r":{rng.randrange(1, 400)}}}}}}},'
                    f'"storage":{{"data":{{"bytesRead":{rng.randrange(10**8)},"timeReadingMicros":{rng.randrange(10**6)}}}}},'
                    f'"remote":"{ip}","protocol":"op_msg","durationMillis":{ms}}}}}')
        elif k < 0.95:
            line = (f'{{"t":{{"$date":"{ts}"}},"s":"I",  "c":"WTCHKPT",  "id":22430,   "ctx":"Checkpointer",'
                    f'"msg":"WiredTiger message","attr":{{"message":{{"ts_sec":{int(t)},"ts_usec":{rng.randrange(10**6)},'
                    f'"thread":"{rng.randrange(1000, 9999)}:0x7f{rng.getrandbits(40):010x}","session_name":"WT_SESSION.checkpoint",'
                    f'"category":"WT_VERB_CHECKPOINT_PROGRESS","category_id":6,"verbose_level":"DEBUG_1","verbose_level_id":1,'
                    f'"msg":"saving checkpoint snapshot min: {rng.randrange(10**6)}, snapshot max: {rng.randrange(10**6)} snapshot count: 0, '
                    f'oldest timestamp: ({int(t) - 300}, {rng.randrange(100)}) , meta checkpoint timestamp: ({int(t)}, {rng.randrange(100)}) '
                    f'base write gen: {rng.randrange(10**7)}"}}}}}}')
        else:
            line = (f'{{"t":{{"$date":"{ts}"}},"s":"I",  "c":"REPL_HB",  "id":23974,   "ctx":"ReplCoord-{rng.randrange(30)}",'
                    f'"msg":"Heartbeat failed after max retries","attr":{{"target":"peer-{rng.randrange(9)}.sim.example.net:27017",'
                    f'"maxHeartbeatRetries":2,"error":{{"code":6,"codeName":"HostUnreachable","errmsg":"Error connecting to '
                    f'{ip}: Connection refused"}}}}}}')
        line += "\n"
        out.append(line)
        n += len(line)
    return "".join(out).encode()


class Text:
    """Log files cut from one pool of mongod lines (a few MiB, so that a file is not one
    repeated block within deflate's 32 KiB window): line-aligned runs from random places.
    The pool deflates to about a sixth (gzip -6), less than any mongod log of the corpus
    (8x to 48x): a conservative stand-in for how much of a host's compression CPU turns
    into bytes the coordinator moves."""

    def __init__(self, rng, pool_bytes=6 * MIB):
        self.rng = rng
        self.pool = mongod_pool(rng, pool_bytes)
        self.starts = [0] + [m.end() for m in re.finditer(b"\n", self.pool)][:-1]

    def __call__(self, size):
        rng, pool, out, n = self.rng, self.pool, [], 0
        while n < size:
            a = self.starts[rng.randrange(len(self.starts))]
            b = pool.find(b"\n", min(len(pool) - 1, a + rng.randrange(64 << 10, 1 << 20))) + 1
            run = pool[a:b or len(pool)][:size - n]
            out.append(run)
            n += len(run)
        data = b"".join(out)
        return data[:-1] + b"\n"


class Deployment:
    def __init__(self, work, quick, seed=42):
        self.work = work
        self.quick = quick
        self.rng = random.Random(seed)
        self.hosts = []            # the request's host objects
        self.kind = {}             # hostname -> large | medium | small | failing | missing
        self.sources = {}          # archive path -> source file
        self.source_bytes = 0

    def abs(self, rel):
        return os.path.join(self.work, "deploy", rel)

    def write(self, rel, data):
        path = self.abs(rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        self.source_bytes += len(data)
        return path

    def mongod(self, host, hdir, port, text, rs="rs0", siblings=()):
        logp = f"{hdir}/mongod-{port}/mongod.log"
        arch = f"{host}/{rs}/{port}"
        self.sources[f"{arch}/mongod.log"] = self.write(logp, text)
        for name, data in siblings:
            self.sources[f"{arch}/{name}"] = self.write(f"{hdir}/mongod-{port}/{name}", data)
        return {"type": "mongod", "replicaSet": rs, "port": port, "logPath": self.abs(logp)}

    def build(self):
        rng, quick = self.rng, self.quick
        text = Text(rng)
        for i in range(HOSTS):
            host = f"host-{i:03}.sim.example.net"
            hdir = f"hosts/{host}"
            entry = {"hostname": host, "processes": []}
            procs = entry["processes"]
            if i in MISSING:
                kind = "missing"
                procs.append({"type": "mongod", "replicaSet": "rs1", "port": 27017,
                              "logPath": self.abs(f"{hdir}/mongod.log")})
                entry["agentLogDir"] = self.abs(f"{hdir}/agent")
            elif i in FAILING:
                kind = "failing"
                what = FAILING[i]
                if what == "missing-dir":
                    procs.append({"type": "mongod", "replicaSet": "rs1", "port": 27017,
                                  "logPath": self.abs(f"{hdir}/gone/mongod.log")})
                elif what == "log-is-dir":
                    path = self.abs(f"{hdir}/data/mongod.log")
                    os.makedirs(path, exist_ok=True)
                    procs.append({"type": "mongod", "replicaSet": "rs1", "port": 27017,
                                  "logPath": path})
                else:
                    procs.append(self.mongod(host, hdir, 27017, text(50_000), rs="rs1"))
                    entry["agentLogDir"] = self.abs(f"{hdir}/no-agent")
            elif (i in LARGE and not (quick and i == LARGE[-1])) or (i in MEDIUM and not quick):
                kind = "large" if i in LARGE else "medium"
                # Deflate leaves ~17%: > 20 MiB, ~7 MiB, or (quick) > 5 MiB.
                size = 36 * MIB if quick else (140 * MIB if kind == "large" else 42 * MIB)
                procs.append(self.mongod(host, hdir, 27017, text(int(size))))
            else:
                kind = "small"
                scale = 1 if quick else 6
                main = text(rng.randrange(20_000, 1_000_000) * scale)
                siblings = []
                if i % 5 == 0:
                    old = text(rng.randrange(10_000, 200_000) * scale)
                    siblings.append(("mongod.log.2026-11-19T00-00-00", old))
                if i % 10 == 0:
                    siblings.append(("mongod.log.2026-11-18T00-00-00.gz",
                                     gzip.compress(text(100_000), 6)))
                procs.append(self.mongod(host, hdir, 27017, main, siblings=siblings))
                if i % 3 == 0:
                    procs.append(self.mongod(host, hdir, 27018,
                                             text(rng.randrange(10_000, 300_000))))
                if i % 9 == 0:
                    logp = f"{hdir}/mongos/mongos.log"
                    self.sources[f"{host}/mongos/27016/mongos.log"] = self.write(
                        logp, text(rng.randrange(10_000, 200_000)))
                    procs.append({"type": "mongos", "port": 27016, "logPath": self.abs(logp)})
                if i % 4 == 1:
                    agent = f"{hdir}/agent"
                    for name in ("automation-agent.log", "automation-agent-verbose.log",
                                 "monitoring-agent.log"):
                        self.sources[f"{host}/automation_agent/{name}"] = self.write(
                            f"{agent}/{name}",
                            text(rng.randrange(5_000, 100_000)))
                    entry["agentLogDir"] = self.abs(agent)
            self.kind[host] = kind
            self.hosts.append(entry)
        request = {"resourceType": "CLUSTER", "resourceName": "simCluster",
                   "hosts": self.hosts}
        path = os.path.join(self.work, "request.json")
        with open(path, "w") as f:
            json.dump(request, f, indent=1)
        return path


# ------------------------------------------------------------------------------------------
# The store


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# moto's S3 served by waitress: HTTP/1.1 connections kept alive, as S3 keeps them. moto's own
# server (werkzeug's development server) answers every request with `Connection: close`, so
# that each request of the coordinator also pays a TCP connect and close on loopback (about a
# third more CPU per small request, measured), a cost of the test server, not of S3.
WAITRESS = """
import sys
from moto.server import DomainDispatcherApplication, create_backend_app
from waitress import serve
serve(DomainDispatcherApplication(create_backend_app), host="127.0.0.1", port=int(sys.argv[1]),
      threads=8, _quiet=True)
"""


class Moto:
    """moto in server mode on a free loopback port, and a boto3 client of it."""

    def __init__(self, work, server):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(work, "moto.log"), "wb")
        env = dict(os.environ, TMPDIR=work)   # moto spools large objects to TMPDIR
        if server == "waitress":
            argv = [sys.executable, "-c", WAITRESS, str(self.port)]
        else:
            argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log, env=env)
        deadline = time.time() + 60
        while True:
            if self.proc.poll() is not None:
                raise SimError(f"moto exited ({self.proc.returncode}); see {self.log.name}")
            try:
                urllib.request.urlopen(self.endpoint + "/", timeout=5).read()
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if time.time() > deadline:
                    raise SimError("moto did not answer within 60 s")
                time.sleep(0.1)
        import boto3
        from botocore.config import Config
        self.s3 = boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
            config=Config(s3={"addressing_style": "path"}))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def size(self, bucket, key):
        return self.s3.head_object(Bucket=bucket, Key=key)["ContentLength"]

    def get(self, bucket, key, path=None):
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"]
        if path is None:
            return body.read()
        with open(path, "wb") as f:
            shutil.copyfileobj(body, f, 1 << 20)
        return None


def logpack_env(work):
    """The store's credentials, and nothing of the user's AWS configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
               AWS_CONFIG_FILE=os.path.join(work, "no-aws-config"),
               AWS_SHARED_CREDENTIALS_FILE=os.path.join(work, "no-aws-credentials"))
    return env


def run_measured(argv, env, stdout_path):
    """Runs argv to completion; returns (exit code, CPU seconds, peak RSS bytes, wall seconds).

    The peak RSS is not wait4's ru_maxrss of a child of this process: a child forked (or
    vforked) from Python keeps the high-water mark of Python's own memory across exec. GNU
    time (a small process) runs it when it is installed; otherwise VmHWM in /proc/PID/status,
    which belongs to the program's own address space, is sampled while it runs. The CPU time
    is wait4's, in microseconds (GNU time prints hundredths): with GNU time it includes
    time's own, a millisecond.
    """
    t = time.monotonic()
    gnu_time = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
    timing = stdout_path + ".time"
    if gnu_time:
        argv = [gnu_time, "-v", "-o", timing] + argv
    hwm = 0
    with open(stdout_path, "wb") as out, open(stdout_path + ".err", "wb") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if not gnu_time:
                try:
                    with open(f"/proc/{proc.pid}/status") as f:
                        for line in f:
                            if line.startswith("VmHWM:"):
                                hwm = max(hwm, int(line.split()[1]) * 1024)
                except OSError:
                    pass
            time.sleep(0.01)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t
    cpu = usage.ru_utime + usage.ru_stime
    if gnu_time:
        fields = {}
        with open(timing) as f:
            for line in f:
                k, _, v = line.strip().rpartition(": ")
                fields[k] = v
        try:
            hwm = int(fields["Maximum resident set size (kbytes)"]) * 1024
        except (KeyError, ValueError):
            raise SimError(f"GNU time's report {timing} is not readable")
    return proc.returncode, cpu, hwm, wall


def put_all(binary, request, hosts, endpoint, env, work, pool):
    """Runs the puts, `pool` at a time; returns {host: (code, report, cpu s, stderr)}."""
    todo = list(hosts)
    running = {}
    done = {}
    outdir = os.path.join(work, "puts")
    os.makedirs(outdir, exist_ok=True)
    while todo or running:
        while todo and len(running) < pool:
            h = todo.pop(0)
            path = os.path.join(outdir, h + ".json")
            with open(path, "wb") as out, open(path + ".err", "wb") as err:
                proc = subprocess.Popen(
                    [binary, "fleet", "put", request, "--host", h,
                     "--store", f"s3://{SRC}/{PREFIX}", "--endpoint", endpoint,
                     "--threads", "1", "--json", "-q"],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
            running[proc.pid] = (h, proc, path)
        pid, status, usage = os.wait4(-1, 0)
        if pid not in running:
            continue
        h, proc, path = running.pop(pid)
        proc.returncode = os.waitstatus_to_exitcode(status)
        with open(path, "rb") as f:
            text = f.read()
        with open(path + ".err", "rb") as f:
            errtext = f.read().decode(errors="replace")
        try:
            report = json.loads(text) if text.strip() else None
        except ValueError:
            report = None
        done[h] = (proc.returncode, report, usage.ru_utime + usage.ru_stime, errtext)
    return done


# ------------------------------------------------------------------------------------------
# Reading archives


def go_reader(work):
    """Builds tests/go_reader; returns its path, or None without go."""
    if shutil.which("go") is None:
        return None
    binary = os.path.join(work, "logpackreader")
    env = dict(os.environ, GOFLAGS="-mod=mod", GOPROXY="off", GOTOOLCHAIN="local")
    env.setdefault("GOPATH", "/tmp/logpack-go/path")
    env.setdefault("GOCACHE", "/tmp/logpack-go/cache")
    r = subprocess.run(["go", "build", "-buildvcs=false", "-o", binary, "."],
                       cwd=os.path.join(ROOT, "tests", "go_reader"), env=env,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SimError("building tests/go_reader: " + r.stderr.strip())
    return binary


def tar_members(path, mode):
    """[(name, size, sha256)] of every member, read with tarfile in `mode`."""
    out = []
    with tarfile.open(path, mode) as t:
        for m in t:
            if not m.isfile():
                raise SimError(f"{path}: {m.name} is not a regular file")
            h = hashlib.sha256()
            f = t.extractfile(m)
            while True:
                b = f.read(1 << 20)
                if not b:
                    break
                h.update(b)
            out.append((m.name, m.size, h.hexdigest()))
    return out


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return h.hexdigest()
            h.update(b)


def manifest_from(path):
    with tarfile.open(path, "r:gz") as t:
        return json.load(t.extractfile("manifest.json"))


def host_of(child):
    return child["hostName"].split(":")[0]


# ------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "logpack"))
    ap.add_argument("--quick", action="store_true", help="the CI run: lighter hosts")
    ap.add_argument("--work", help="where to make the scratch directory "
                                   "(default: /dev/shm when it exists, else TMPDIR)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    ap.add_argument("--pool", type=int, default=8, help="puts at a time (default 8)")
    ap.add_argument("--wait", type=int, default=3, help="compose --wait (default 3)")
    ap.add_argument("--store-server", choices=("waitress", "moto"), default="waitress",
                    help="what serves moto's S3: waitress (connections kept alive, as S3 "
                         "does; the default) or moto's own server (a connection per request)")
    ap.add_argument("--targets-advisory", action="store_true",
                    help="report missed targets, but exit 1 only when a check fails")
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        log(f"fleet_sim: {binary}: not an executable (cargo build --release)")
        return 2
    import importlib.util
    modules = ("boto3", "moto", "flask") + (("waitress",) if args.store_server == "waitress" else ())
    for module in modules:   # flask: moto[server]
        if importlib.util.find_spec(module) is None:
            log(f"fleet_sim: no Python module {module}: python3 -m pip install "
                "--break-system-packages \"moto[server]<5.2\" waitress")
            return 2
    for tool in ("gzip", "tar"):
        if shutil.which(tool) is None:
            log(f"fleet_sim: {tool} is needed")
            return 2
    base = args.work
    if base:
        os.makedirs(base, exist_ok=True)
    elif os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        base = "/dev/shm"
    work = tempfile.mkdtemp(prefix="logpack-fleet-sim-", dir=base)
    store = None
    try:
        store = Moto(work, args.store_server)
        return simulate(args, binary, work, store)
    except SimError as e:
        log(f"fleet_sim: FAILED: {e}")
        return 1
    finally:
        if store is not None:
            store.stop()
        if args.keep:
            log(f"fleet_sim: kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def simulate(args, binary, work, moto):
    failures = []

    def check(ok, why):
        if not ok:
            failures.append(why)
            log(f"fleet_sim: CHECK FAILED: {why}")
        return ok

    t0 = time.monotonic()
    moto.s3.create_bucket(Bucket=SRC)
    moto.s3.create_bucket(Bucket=OUT)
    dep = Deployment(work, args.quick)
    request = dep.build()
    gen_secs = time.monotonic() - t0
    names = [h["hostname"] for h in dep.hosts]
    reporting = [h for h in names if dep.kind[h] != "missing"]
    log(f"fleet_sim: {len(names)} hosts, {dep.source_bytes / MIB:.0f} MiB of logs generated in "
        f"{gen_secs:.1f} s ({work})")

    # The hosts.
    env = logpack_env(work)
    t = time.monotonic()
    puts = put_all(binary, request, reporting, moto.endpoint, env, work, args.pool)
    puts_secs = time.monotonic() - t
    hosts_cpu = sum(p[2] for p in puts.values())
    frag = {}
    for h in reporting:
        code, report, _, err = puts[h]
        want = 3 if dep.kind[h] == "failing" else 0
        if not check(code == want and report is not None,
                     f"put {h}: exit {code} (expected {want}): {err.strip()[:500]}"):
            continue
        frag[h] = report["fragmentBytes"]
        kind = dep.kind[h]
        if kind in ("large", "medium"):
            floor = 20 * MIB if kind == "large" and not args.quick else MIN_PART
            check(frag[h] > floor, f"{h} ({kind}): {frag[h]} bytes of fragments, not over {floor}")
        else:
            check(frag[h] < MIN_PART,
                  f"{h} ({kind}): {frag[h]} bytes of fragments, not under 5 MiB")
    if failures:
        raise SimError("; ".join(failures))
    large_hosts = [h for h in reporting if frag[h] >= MIN_PART]
    small_hosts = [h for h in reporting if frag[h] < MIN_PART]
    large_bytes = sum(frag[h] for h in large_hosts)
    small_bytes = sum(frag[h] for h in small_hosts)
    log(f"fleet_sim: {len(reporting)} puts in {puts_secs:.1f} s, {hosts_cpu:.2f} s CPU; "
        f"{len(large_hosts)} large hosts ({large_bytes / MIB:.1f} MiB), {len(small_hosts)} small "
        f"({small_bytes / MIB:.1f} MiB)")

    # The coordinator.
    out_path = os.path.join(work, "compose.json")
    code, compose_cpu, compose_rss, compose_secs = run_measured(
        [binary, "fleet", "compose", request, "--store", f"s3://{SRC}/{PREFIX}",
         "--wait", str(args.wait), "--endpoint", moto.endpoint, "-o", f"s3://{OUT}/{OUT_KEY}",
         "--json", "-q"], env, out_path)
    with open(out_path + ".err") as f:
        err = f.read().strip()
    if code != 3:
        raise SimError(f"compose exited {code}, expected 3: {err}")
    with open(out_path) as f:
        report = json.load(f)
    log(f"fleet_sim: compose {json.dumps(report)}")

    check(report["status"] == "FAILURE", f"compose status {report['status']}")
    check(report["hosts"] == len(reporting), f"compose hosts {report['hosts']}")
    check(sorted(report["missing"]) == sorted(h for h in names if dep.kind[h] == "missing"),
          f"compose missing {report['missing']}")
    check(report["partsCopied"] == len(large_hosts),
          f"partsCopied {report['partsCopied']}, {len(large_hosts)} large hosts")
    check(large_bytes <= report["bytesCopied"] <= large_bytes + 10,
          f"bytesCopied {report['bytesCopied']}, large hosts' fragments {large_bytes}")
    check(report["objectBytes"] == report["bytesCopied"] + report["bytesUploaded"],
          "objectBytes is not bytesCopied + bytesUploaded")

    # The store: parts, open uploads.
    head = moto.s3.head_object(Bucket=OUT, Key=OUT_KEY, PartNumber=1)
    nparts = head.get("PartsCount") or 1
    parts = [head["ContentLength"]] + [
        moto.s3.head_object(Bucket=OUT, Key=OUT_KEY, PartNumber=i)["ContentLength"]
        for i in range(2, nparts + 1)]
    check(nparts == report["partsCopied"] + report["partsMade"],
          f"{nparts} parts in the store, the report says "
          f"{report['partsCopied']} + {report['partsMade']}")
    check(all(p >= MIN_PART for p in parts[:-1]), f"a part but the last under 5 MiB: {parts}")
    check(sum(parts) == report["objectBytes"], f"parts {sum(parts)} != objectBytes")
    for b in (SRC, OUT):
        open_uploads = moto.s3.list_multipart_uploads(Bucket=b).get("Uploads", [])
        check(not open_uploads, f"uploads left open in {b}: {open_uploads}")
    # Beside the small hosts' fragments the coordinator reads each host's record and its
    # archive's tail: the final fragment (the host's manifest) and the gzip trailer.
    meta = 0
    for h in reporting:
        record = moto.get(SRC, f"{PREFIX}/hosts/{h}.json")
        meta += len(record) + json.loads(record)["index"]["final"]["length"] + 8
    polls = args.wait + 2
    listing = polls * 3 * len(reporting) * (len(f"{PREFIX}/hosts/") + 40 + 300)
    # What the coordinator fetched beyond the small hosts' fragments, the records, the
    # archives' tails and its listings can only be large hosts' bytes.
    check(report["bytesDownloaded"] <= small_bytes + meta + listing,
          f"bytesDownloaded {report['bytesDownloaded']} > small hosts' fragments {small_bytes} "
          f"+ records and tails {meta} + listings {listing}: large hosts' bytes came through")

    # The object, read back by every reader at hand.
    t = time.monotonic()
    obj = os.path.join(work, "composed.tar.gz")
    moto.get(OUT, OUT_KEY, obj)
    check(os.path.getsize(obj) == report["objectBytes"], "object size != objectBytes")
    r = subprocess.run(["gzip", "-t", obj], capture_output=True, text=True)
    check(r.returncode == 0 and not r.stderr, f"gzip -t: {r.returncode} {r.stderr.strip()}")
    members = tar_members(obj, "r|gz")
    check(members and members[-1][0] == "manifest.json",
          "python tarfile r|gz: manifest.json is not the last entry")
    r = subprocess.run(["tar", "-tzf", obj], capture_output=True, text=True)
    check(r.returncode == 0 and not r.stderr and r.stdout.splitlines() == [m[0] for m in members],
          f"GNU tar -tzf: exit {r.returncode} {r.stderr.strip()[:300]}, "
          f"{len(r.stdout.splitlines())} names vs {len(members)} from tarfile r|gz")
    check(tar_members(obj, "r:gz") == members, "tarfile r:gz and r|gz disagree")
    goread = go_reader(work)
    if goread:
        r = subprocess.run([goread, obj], capture_output=True, text=True)
        got = [tuple(line.split("\t")) for line in r.stdout.splitlines()]
        want = [(n, str(s), d) for n, s, d in members]
        check(r.returncode == 0 and not r.stderr and got == want,
              f"Go archive/tar + compress/gzip: exit {r.returncode} {r.stderr.strip()[:300]}, "
              f"{len(got)} entries vs {len(want)}")
    else:
        log("fleet_sim: go is not installed: the Go reader is left out")
    r = subprocess.run([binary, "verify", obj], capture_output=True, text=True)
    check(r.returncode == 0, f"logpack verify: exit {r.returncode}: {r.stderr.strip()}")

    # Every entry: its host's archive entry, its source file, the manifests' SHA-256s.
    composed = {n: (s, d) for n, s, d in members if n != "manifest.json"}
    check(len(composed) == len(members) - 1, "an entry name repeats")
    manifest = manifest_from(obj)
    listed = {}
    for c in manifest["childJobs"]:
        for f in c["files"]:
            listed[f"{c['path']}/{f['name']}"] = f["sha256"]
    check(listed == {n: d for n, (_, d) in composed.items()},
          "the composed manifest's files and SHA-256s are not the entries'")
    seen = set()
    host_children = []
    for h in reporting:
        path = os.path.join(work, "host.tar.gz")
        moto.get(SRC, f"{PREFIX}/hosts/{h}.tar.gz", path)
        for n, s, d in tar_members(path, "r:gz"):
            if n == "manifest.json":
                continue
            seen.add(n)
            check(composed.get(n) == (s, d), f"{n}: not the bytes of {h}'s own archive")
        uploaded = json.loads(moto.get(SRC, f"{PREFIX}/hosts/{h}.manifest.json"))
        check(uploaded == manifest_from(path), f"{h}: HOST.manifest.json is not its archive's")
        for c in uploaded["childJobs"]:
            host_children.append(c)
            check(c in manifest["childJobs"],
                  f"{h}'s child {c['path']} is not in the composed manifest as uploaded")
            for f in c["files"]:
                check(listed.get(f"{c['path']}/{f['name']}") == f["sha256"],
                      f"{c['path']}/{f['name']}: SHA-256 differs from {h}'s manifest")
        os.unlink(path)
    check(seen == set(composed), f"{len(set(composed) - seen)} entries come from no host")
    check(set(composed) == set(dep.sources),
          f"entries {len(composed)} vs source files {len(dep.sources)}: "
          f"{sorted(set(composed) ^ set(dep.sources))[:5]}")
    for n, src in dep.sources.items():
        if n in composed:
            check(composed[n] == (os.path.getsize(src), sha256_file(src)),
                  f"{n}: not its source file's bytes")

    hosts_named = {host_of(c) for c in manifest["childJobs"]}
    check(hosts_named == set(names), f"the manifest names {len(hosts_named)} hosts, not 100")
    failed_hosts = {host_of(c) for c in manifest["childJobs"] if c["status"] == "FAILURE"}
    want_failed = {h for h in names if dep.kind[h] in ("failing", "missing")}
    check(failed_hosts == want_failed,
          f"hosts with FAILURE children {sorted(failed_hosts)}, expected {sorted(want_failed)}")
    check(manifest["status"] == "FAILURE", "the manifest's status is not FAILURE")
    for c in manifest["childJobs"]:
        h = host_of(c)
        if dep.kind[h] == "missing":
            check(c["status"] == "FAILURE" and "did not report" in (c["errorMessage"] or ""),
                  f"missing host's child {c['path']}: {c['status']} {c['errorMessage']}")
        elif c["status"] == "FAILURE":
            check(bool(c["errorMessage"]), f"{c['path']}: FAILURE without an error message")
    missing_children = [c for c in manifest["childJobs"] if dep.kind[host_of(c)] == "missing"]
    check(len(manifest["childJobs"]) == len(host_children) + len(missing_children)
          == report["children"],
          f"{len(manifest['childJobs'])} children: {len(host_children)} from the hosts, "
          f"{len(missing_children)} missing, the report says {report['children']}")
    # A missing host: its mongod, its FTDC (a type of the request: mongos give it), and the
    # three agent types of its agentLogDir.
    check(len(missing_children) == 2 * 5, f"{len(missing_children)} children of missing hosts")
    check_secs = time.monotonic() - t

    # Targets.
    final_part = report["objectBytes"] - report["bytesCopied"] - small_bytes
    traffic = report["bytesDownloaded"] + report["bytesUploaded"]
    bound = 2 * small_bytes + meta + final_part + listing
    ratio = compose_cpu / hosts_cpu if hosts_cpu else float("inf")
    targets = [
        ("coordinator traffic", f"{traffic / MIB:.2f} MiB", f"<= {bound / MIB:.2f} MiB",
         traffic <= bound),
        ("coordinator CPU / hosts' CPU", f"{ratio:.4f}", f"<= {CPU_RATIO}", ratio <= CPU_RATIO),
        ("coordinator peak RSS", f"{compose_rss / MIB:.1f} MiB", f"<= {RSS_LIMIT // MIB} MiB",
         compose_rss <= RSS_LIMIT),
    ]
    missed = [f"target missed: {name} {value}, target {target}"
              for name, value, target, ok in targets if not ok]
    if not args.targets_advisory:
        for why in missed:
            check(False, why)

    rows = [
        ("mode", "quick" if args.quick else "full"),
        ("hosts (reported / failing / missing)",
         f"{len(names)} ({len(reporting)} / {len(FAILING)} / {len(MISSING)})"),
        ("source logs", f"{dep.source_bytes / MIB:.1f} MiB, generated in {gen_secs:.1f} s"),
        ("large hosts (copied by the store)", f"{len(large_hosts)}: "
         + ", ".join(f"{frag[h] / MIB:.1f}" for h in large_hosts) + " MiB"),
        ("small hosts' fragments", f"{len(small_hosts)} hosts, {small_bytes / MIB:.2f} MiB"),
        ("records + archive tails (manifests)", f"{meta / 1024:.0f} KiB"),
        ("puts: wall / CPU (sum)",
         f"{puts_secs:.1f} s / {hosts_cpu:.2f} s ({args.pool} at a time, --threads 1)"),
        ("compose: wall (incl. --wait) / CPU",
         f"{compose_secs:.1f} s ({args.wait} s wait) / {compose_cpu:.3f} s"),
        ("compose: peak RSS", f"{compose_rss / MIB:.1f} MiB"),
        ("parts: copied + made", f"{report['partsCopied']} + {report['partsMade']}: "
         + ", ".join(f"{p / MIB:.2f}" for p in parts) + " MiB"),
        ("bytes copied / downloaded / uploaded",
         f"{report['bytesCopied'] / MIB:.2f} / {report['bytesDownloaded'] / MIB:.2f} / "
         f"{report['bytesUploaded'] / MIB:.2f} MiB"),
        ("composed object", f"{report['objectBytes'] / MIB:.2f} MiB, {len(members)} entries, "
         f"{len(manifest['childJobs'])} children"),
        ("traffic bound: 2 x small + meta + final + listing",
         f"{2 * small_bytes / MIB:.2f} + {meta / MIB:.2f} + {final_part / MIB:.3f} + "
         f"{listing / MIB:.2f} MiB"),
        ("checks (readers, every entry)", f"{check_secs:.1f} s"),
    ]
    width = max(len(r[0]) for r in rows) + 2
    print()
    for k, v in rows:
        print(f"{k:<{width}}{v}")
    print()
    print(f"{'target':<{width}}{'measured':<14}{'target':<16}result")
    for name, value, target, ok in targets:
        print(f"{name:<{width}}{value:<14}{target:<16}{'ok' if ok else 'MISSED'}")
    print(f"\ntotal {time.monotonic() - t0:.1f} s")
    if missed and args.targets_advisory:
        print("\ntargets missed (advisory):", *missed, sep="\n  ")
    if failures:
        print(f"\nFAILED: {len(failures)} checks or targets:", *failures, sep="\n  ")
        return 1
    print("all checks hold" if missed else "all checks and targets hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
