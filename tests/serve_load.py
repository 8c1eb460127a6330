#!/usr/bin/env python3
"""serve_load.py: a load on a running `logpack serve`, driven by tests/serve_load.rs.

    python3 tests/serve_load.py --base http://127.0.0.1:PORT --group G --user U --password P \
        [--clients 200] [--seconds 10] [--max-in-progress 4]

1. Setup: creates a reference job (sample cluster), waits for SUCCESS by polling GET, and
   downloads its archive once: the bytes every later download must equal.
2. Load: `--clients` threads, each with its own requests.Session and HTTPDigestAuth, for
   `--seconds`: list jobs (pages of 1, 10 and 100), get the reference job, download its archive
   (whole, or a byte range: 206 and the same bytes). Meanwhile a creator makes bursts of
   `--max-in-progress` + 1 concurrent creates of `--job-resource` (the last may be 429
   RATE_LIMITED: counted apart, not an error), waits for the created jobs to finish (SUCCESS),
   downloads and deletes them.
3. After: the server still answers a list.

With `--server-pid`, between 1 and 2, `--churn` jobs (default 40) are created, waited for and
deleted one after the other, and the server's memory mappings (/proc/PID/maps, less two for each
live thread's stack) are compared before and after: a finished job must leave nothing behind
(each job runs on a thread of its own; a thread never joined keeps its 2 MiB stack mapped). More
than churn/2 new mappings is a failure.

Every answer must be the expected one (200, 201, 204, 206, or 429 RATE_LIMITED on a create);
anything else, a connection error or a timeout is an error. Prints `PHASE load-start` and
`PHASE load-end` (flushed, so the caller can time its RSS samples) and finally one line
`SUMMARY {json}`. Exit 0 when there was no error, 1 otherwise, 2 on bad usage or a missing
module.
"""
import argparse
import collections
import json
import multiprocessing
import queue
import random
import sys
import threading
import time

try:
    import requests
    from requests.auth import HTTPDigestAuth
except ImportError:  # the caller tells CI (must fail) from a developer machine (skip)
    print("serve_load.py: the Python module requests is missing", file=sys.stderr)
    sys.exit(2)

TIMEOUT = 60


def job_body(resource="CLUSTER:sampleCluster"):
    kind, _, name = resource.partition(":")
    return {"resourceType": kind, "resourceName": name, "redacted": False,
            "sizeRequestedPerFileBytes": 10000000, "logTypes": ["MONGODB", "AUTOMATION_AGENT"]}


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.errors = collections.Counter()
        self.examples = []
        self.latencies = collections.defaultdict(list)

    def ok(self, what, seconds=None):
        with self.lock:
            self.counts[what] += 1
            if seconds is not None:
                self.latencies[what].append(seconds)

    def error(self, what, detail):
        with self.lock:
            self.errors[what] += 1
            if len(self.examples) < 20:
                self.examples.append("%s: %s" % (what, detail))


def describe(r):
    return "%s %s -> %d %s" % (r.request.method, r.request.path_url, r.status_code,
                               r.text[:300].replace("\n", " ") if r.headers.get(
                                   "content-type", "").startswith("application/json") else
                               "(%d bytes)" % len(r.content))


class Api:
    def __init__(self, args):
        self.base = "%s/api/public/v1.0/groups/%s/logCollectionJobs" % (args.base, args.group)
        self.session = requests.Session()
        self.session.auth = HTTPDigestAuth(args.user, args.password)

    def create(self, resource="CLUSTER:sampleCluster"):
        return self.session.post(self.base, json=job_body(resource), timeout=TIMEOUT)

    def get(self, job_id):
        return self.session.get("%s/%s" % (self.base, job_id), timeout=TIMEOUT)

    def list(self, page, per):
        return self.session.get(self.base, params={"pageNum": page, "itemsPerPage": per},
                                timeout=TIMEOUT)

    def download(self, job_id, rng=None):
        headers = {"Range": "bytes=%d-%d" % rng} if rng else {}
        return self.session.get("%s/%s/download" % (self.base, job_id), headers=headers,
                                timeout=TIMEOUT)

    def delete(self, job_id):
        return self.session.delete("%s/%s" % (self.base, job_id), timeout=TIMEOUT)

    def wait(self, job_id, limit=120):
        """Polls GET until the job is no longer IN_PROGRESS; returns the job."""
        deadline = time.time() + limit
        while True:
            r = self.get(job_id)
            if r.status_code != 200:
                raise AssertionError(describe(r))
            job = r.json()
            if job["status"] != "IN_PROGRESS":
                return job
            if time.time() > deadline:
                raise AssertionError("job %s still IN_PROGRESS after %ds" % (job_id, limit))
            time.sleep(0.05)


def setup(args):
    api = Api(args)
    r = api.create()
    if r.status_code != 201:
        raise AssertionError("setup create: " + describe(r))
    job_id = r.json()["id"]
    job = api.wait(job_id)
    if job["status"] != "SUCCESS":
        raise AssertionError("the reference job ended %s: %s" % (job["status"], job))
    r = api.download(job_id)
    if r.status_code != 200 or not r.content.startswith(b"\x1f\x8b"):
        raise AssertionError("setup download: " + describe(r))
    if int(r.headers["content-length"]) != len(r.content):
        raise AssertionError("setup download: Content-Length %s, %d bytes read"
                             % (r.headers["content-length"], len(r.content)))
    return job_id, r.content


def client(args, stats, go, stop, ref_id, ref_bytes, seed):
    rnd = random.Random(seed)
    api = Api(args)
    go.wait()
    while not stop.is_set():
        op = rnd.random()
        t0 = time.monotonic()
        try:
            if op < 0.45:
                per = rnd.choice((1, 10, 100))
                r = api.list(1, per)
                if r.status_code != 200:
                    stats.error("list", describe(r))
                    continue
                body = r.json()
                if not isinstance(body.get("results"), list) or body["totalCount"] < 1 \
                        or len(body["results"]) > per:
                    stats.error("list", "bad list: %s" % r.text[:300])
                    continue
                stats.ok("list", time.monotonic() - t0)
            elif op < 0.60:
                r = api.get(ref_id)
                if r.status_code != 200 or r.json().get("status") != "SUCCESS":
                    stats.error("get", describe(r))
                    continue
                stats.ok("get", time.monotonic() - t0)
            elif op < 0.85:
                r = api.download(ref_id)
                if r.status_code != 200:
                    stats.error("download", describe(r))
                elif r.content != ref_bytes:
                    stats.error("download", "%d bytes, not the %d of the first download"
                                % (len(r.content), len(ref_bytes)))
                else:
                    stats.ok("download", time.monotonic() - t0)
            else:
                a = rnd.randrange(len(ref_bytes))
                b = rnd.randrange(a, len(ref_bytes))
                r = api.download(ref_id, (a, b))
                if r.status_code != 206:
                    stats.error("range", describe(r))
                elif r.content != ref_bytes[a:b + 1]:
                    stats.error("range", "bytes=%d-%d: %d bytes, not the expected %d"
                                % (a, b, len(r.content), b + 1 - a))
                elif r.headers.get("content-range") != "bytes %d-%d/%d" % (a, b, len(ref_bytes)):
                    stats.error("range", "Content-Range %r" % r.headers.get("content-range"))
                else:
                    stats.ok("range", time.monotonic() - t0)
        except Exception as e:  # connection reset, timeout, bad JSON: all errors
            stats.error("exception", "%s: %s" % (type(e).__name__, e))


def creator(args, stats, go, stop):
    """Bursts of max_in_progress + 1 concurrent creates; waits, downloads, deletes."""
    n = args.max_in_progress + 1
    apis = [Api(args) for _ in range(n)]
    go.wait()
    parent = multiprocessing.parent_process()
    while not stop.is_set() and (parent is None or parent.is_alive()):
        answers = [None] * n
        barrier = threading.Barrier(n)

        def one(i):
            barrier.wait()
            try:
                answers[i] = apis[i].create(args.job_resource)
            except Exception as e:
                answers[i] = e

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # How many run at once now: up to the limit, never more.
        try:
            r = apis[0].list(1, 100)
            running = sum(j["status"] == "IN_PROGRESS" for j in r.json()["results"])
            with stats.lock:
                stats.counts["max-in-progress-seen"] = max(
                    stats.counts["max-in-progress-seen"], running)
            if running > args.max_in_progress:
                stats.error("limit", "%d jobs IN_PROGRESS, over the limit of %d"
                            % (running, args.max_in_progress))
        except Exception as e:
            stats.error("creator", "%s: %s" % (type(e).__name__, e))
        ids = []
        for r in answers:
            if isinstance(r, Exception):
                stats.error("create", "%s: %s" % (type(r).__name__, r))
            elif r.status_code == 201:
                ids.append(r.json()["id"])
                stats.ok("create")
            elif r.status_code == 429 and r.json().get("errorCode") == "RATE_LIMITED":
                stats.ok("create-429")
            else:
                stats.error("create", describe(r))
        for job_id in ids:
            try:
                job = apis[0].wait(job_id)
                if job["status"] != "SUCCESS":
                    stats.error("job", "%s ended %s: %s" % (job_id, job["status"],
                                                             job.get("errorMessage")))
                    continue
                stats.ok("job-success")
                r = apis[0].download(job_id)
                if r.status_code != 200 or not r.content.startswith(b"\x1f\x8b") \
                        or int(r.headers["content-length"]) != len(r.content):
                    stats.error("download-new", describe(r))
                else:
                    stats.ok("download-new")
                r = apis[0].delete(job_id)
                if r.status_code != 204:
                    stats.error("delete", describe(r))
                else:
                    stats.ok("delete")
            except Exception as e:
                stats.error("creator", "%s: %s" % (type(e).__name__, e))
        stop.wait(0.3)


def creator_process(args, go, stop, queue):
    """The creator in a process of its own: the 200 client threads hold the GIL of theirs, and
    the creates of a burst must reach the server together to meet the limit."""
    stats = Stats()
    try:
        creator(args, stats, go, stop)
    except Exception as e:
        stats.error("creator", "%s: %s" % (type(e).__name__, e))
    queue.put({"counts": dict(stats.counts), "errors": dict(stats.errors),
               "examples": stats.examples})


def proc_memory(pid):
    """(mappings, VmSize kB, VmRSS kB, threads) of a process."""
    with open("/proc/%d/maps" % pid) as f:
        maps = sum(1 for _ in f)
    status = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            status[k] = v.split()[0] if v.split() else ""
    return maps, int(status["VmSize"]), int(status["VmRSS"]), int(status["Threads"])


def churn(args, stats):
    """Jobs one after the other; what they leave behind in the server's memory."""
    api = Api(args)
    before = proc_memory(args.server_pid)
    for _ in range(args.churn):
        r = api.create()
        if r.status_code != 201:
            stats.error("churn", describe(r))
            continue
        job_id = r.json()["id"]
        job = api.wait(job_id)
        if job["status"] != "SUCCESS":
            stats.error("churn", "%s ended %s" % (job_id, job["status"]))
        r = api.delete(job_id)
        if r.status_code != 204:
            stats.error("churn", describe(r))
    after = proc_memory(args.server_pid)
    # A live thread has its stack mapped (two mappings, with the guard page): mappings beyond
    # those are what ended threads left behind.
    left = (after[0] - 2 * after[3]) - (before[0] - 2 * before[3])
    return {"jobs": args.churn, "mappingsLeft": left,
            "mappingsBefore": before[0], "mappingsAfter": after[0],
            "vmSizeKiBBefore": before[1], "vmSizeKiBAfter": after[1],
            "rssKiBBefore": before[2], "rssKiBAfter": after[2],
            "threadsBefore": before[3], "threadsAfter": after[3]}


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", required=True, help="http://HOST:PORT")
    ap.add_argument("--group", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--max-in-progress", type=int, default=4)
    ap.add_argument("--job-resource", default="CLUSTER:sampleCluster",
                    help="TYPE:NAME of the jobs created during the load (a slower one makes "
                         "the limit's 429 likelier)")
    ap.add_argument("--server-pid", type=int, help="check what finished jobs leave behind")
    ap.add_argument("--churn", type=int, default=40, help="jobs for that check")
    args = ap.parse_args()

    ref_id, ref_bytes = setup(args)
    print("reference job %s: archive of %d bytes" % (ref_id, len(ref_bytes)), flush=True)

    stats = Stats()
    # Before the load, while the server has few threads (idle threads of its blocking pool
    # ending during the check would blur it).
    churned = None
    if args.server_pid:
        try:
            churned = churn(args, stats)
        except Exception as e:
            stats.error("churn", "%s: %s" % (type(e).__name__, e))

    go, stop = threading.Event(), threading.Event()
    mp = multiprocessing.get_context("spawn")
    p_go, p_stop, p_queue = mp.Event(), mp.Event(), mp.Queue()
    proc = mp.Process(target=creator_process, args=(args, p_go, p_stop, p_queue), daemon=True)
    proc.start()
    threads = [threading.Thread(target=client, args=(args, stats, go, stop, ref_id, ref_bytes, i),
                                daemon=True) for i in range(args.clients)]
    # Starting a thread waits for it to run, and 200 of them take a while on a busy machine:
    # they all start first, then the load starts at once.
    for t in threads:
        t.start()
    print("PHASE load-start", flush=True)
    go.set()
    p_go.set()
    t0 = time.monotonic()
    time.sleep(args.seconds)
    stop.set()
    p_stop.set()
    loaded = time.monotonic() - t0
    print("PHASE load-end", flush=True)
    for t in threads:
        t.join(timeout=TIMEOUT + 30)
    try:
        made = p_queue.get(timeout=3 * TIMEOUT)
        stats.counts.update(made["counts"])
        stats.errors.update(made["errors"])
        stats.examples.extend(made["examples"])
        stats.counts["max-in-progress-seen"] = made["counts"].get("max-in-progress-seen", 0)
    except queue.Empty:
        stats.error("hung", "the creator process did not report")
    proc.join(timeout=10)
    elapsed = time.monotonic() - t0
    hung = sum(t.is_alive() for t in threads)
    if hung:
        stats.error("hung", "%d client threads still running" % hung)

    # The server must still answer.
    try:
        r = Api(args).list(1, 100)
        if r.status_code != 200 or r.json()["totalCount"] < 1:
            stats.error("after", describe(r))
    except Exception as e:
        stats.error("after", "%s: %s" % (type(e).__name__, e))

    c = stats.counts
    answered = sum(c[k] for k in ("list", "get", "download", "range"))
    summary = {
        "clients": args.clients,
        "seconds": round(loaded, 2),
        "drainSeconds": round(elapsed - loaded, 2),
        "requests": answered + c["create"] + c["create-429"] + c["download-new"] + c["delete"],
        "perSecond": round(answered / loaded, 1),
        "counts": dict(c),
        "errors": dict(stats.errors),
        "errorExamples": stats.examples,
        "p50ms": {k: round(percentile(v, 0.5) * 1000, 1) for k, v in stats.latencies.items()},
        "p99ms": {k: round(percentile(v, 0.99) * 1000, 1) for k, v in stats.latencies.items()},
        "archiveBytes": len(ref_bytes),
    }
    if churned:
        summary["jobChurn"] = churned
    print("SUMMARY " + json.dumps(summary, sort_keys=True), flush=True)
    problems = []
    if stats.errors:
        problems.append("%d errors: %s" % (sum(stats.errors.values()), dict(stats.errors)))
    if c["create"] < args.max_in_progress:
        problems.append("only %d jobs were created during the load (want >= %d)"
                        % (c["create"], args.max_in_progress))
    if c["download"] == 0 or c["list"] == 0:
        problems.append("no download or no list answered")
    if churned and churned["mappingsLeft"] > args.churn // 2:
        problems.append(
            "%d jobs run one after the other left %d more memory mappings in the server "
            "(VmSize %d -> %d KiB, VmRSS %d -> %d KiB): finished jobs' threads are not released"
            % (args.churn, churned["mappingsLeft"],
               churned["vmSizeKiBBefore"], churned["vmSizeKiBAfter"],
               churned["rssKiBBefore"], churned["rssKiBAfter"]))
    for p in problems:
        print("serve_load.py: " + p, file=sys.stderr)
    for e in stats.examples:
        print("  " + e, file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
