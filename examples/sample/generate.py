#!/usr/bin/env python3
"""Rebuild the logpack sample deployment (examples/sample/) deterministically.

Usage: python3 generate.py [CORPUS_DIR]

CORPUS_DIR defaults to ../../../shared/corpus relative to this script's directory
(/work/shared/corpus in the project workspace). The script rewrites request.json and the
whole hosts/ tree; README.md and this script are left alone. Python 3.11 standard
library only. Two runs produce byte-identical files (gzip members carry mtime 0 and no
file name; generated content comes from a fixed-seed PRNG implemented here).

Where the bytes come from:
  * mongod / mongos logs: excerpts (whole lines, unchanged) of Apache-2.0 corpus files,
    listed in EXCERPTS below and attributed in the repository's NOTICE file.
  * agent logs, Ops Manager server logs, FTDC files and the "noise" files: generated here.
Nothing is taken from corpus/mongodb-kubernetes/ (unclear licence).
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import os
import shutil
import struct
import sys
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
UTC = dt.timezone.utc

# Rotation instants used in every rotated file name. Sorting the rotated siblings of one log
# by name gives oldest first; the live file (no suffix) is always the newest.
ROT_OLD = dt.datetime(2026, 11, 18, 10, 0, 0, tzinfo=UTC)   # <log>.2026-11-18T10-00-00.gz
ROT_MID = dt.datetime(2026, 11, 19, 10, 0, 0, tzinfo=UTC)   # <log>.2026-11-19T10-00-00
GEN_START = dt.datetime(2026, 11, 18, 8, 0, 0, tzinfo=UTC)   # first generated entry
GEN_END = dt.datetime(2026, 11, 20, 10, 30, 0, tzinfo=UTC)   # last generated entry (about)

GROUP_ID = "6740a1b2c3d4e5f6a7b8c9d0"  # fake Ops Manager project id
OM_URL = "https://om1.example.net:8443"
AGENT_VERSION = "108.0.4.8796-1"
OLD_AGENT_VERSION = "107.0.12.8669-1"
AGENT_GIT = "5c3a9d0e2b7f41c6a8e9d3f1b2c4a6e8d0f2b4c6"
MONGOD_VERSION = "8.0.4"

REQUEST_JSON = """\
{
  "resourceType": "CLUSTER",
  "resourceName": "sampleCluster",
  "hosts": [
    {"hostname": "db1.example.net",
     "agentLogDir": "hosts/db1/agent",
     "processes": [
       {"type": "mongod", "replicaSet": "rs0", "port": 27017, "logPath": "hosts/db1/rs0_27017/mongod.log", "dbPath": "hosts/db1/rs0_27017/db"},
       {"type": "mongod", "replicaSet": "rs0", "port": 27018, "logPath": "hosts/db1/rs0_27018/mongod.log", "dbPath": "hosts/db1/rs0_27018/db"},
       {"type": "mongos", "port": 27016, "logPath": "hosts/db1/mongos/mongos.log"}
     ]},
    {"hostname": "db2.example.net",
     "agentLogDir": "hosts/db2/agent",
     "processes": [
       {"type": "mongod", "port": 27020, "logPath": "hosts/db2/standalone/mongod.log", "dbPath": "hosts/db2/standalone/db"}
     ]},
    {"hostname": "om1.example.net", "omLogDir": "hosts/om1/logs"}
  ]
}
"""

# (corpus file, sample log path, [(first line, end line) for the .gz, the plain rotated file,
# and the live file]) -- 0-based, end exclusive, whole lines copied byte for byte.
EXCERPTS = [
    ("hatchet/replica/rs1.log", "hosts/db1/rs0_27017/mongod.log",
     [(0, 150), (150, 250), (250, 330)]),
    ("hatchet/replica/rs2.log", "hosts/db1/rs0_27018/mongod.log",
     [(0, 150), (150, 300), (300, 372)]),
    ("mtools/sharding_360_mongos.log", "hosts/db1/mongos/mongos.log",
     [(0, 50), (50, 100), (100, 149)]),
    ("mtools/mongod_4.0.10_slowtransactions.log", "hosts/db2/standalone/mongod.log",
     [(0, 120), (120, 250), (250, 400)]),
]


# --------------------------------------------------------------------------------------------
# small deterministic helpers

class Rng:
    """xorshift64* -- fixed algorithm, so output never depends on the Python version."""

    def __init__(self, seed: int):
        self.s = (seed * 0x9E3779B97F4A7C15 + 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF or 1

    def next(self) -> int:
        x = self.s
        x ^= (x >> 12)
        x ^= (x << 25) & 0xFFFFFFFFFFFFFFFF
        x ^= (x >> 27)
        self.s = x
        return (x * 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF

    def below(self, n: int) -> int:
        return (self.next() >> 11) % n

    def between(self, lo: int, hi: int) -> int:  # inclusive
        return lo + self.below(hi - lo + 1)

    def chance(self, percent: int) -> bool:
        return self.below(100) < percent

    def pick(self, seq):
        return seq[self.below(len(seq))]


def epoch(t: dt.datetime) -> float:
    return t.timestamp()


def write(path: Path, data: bytes, mtime: dt.datetime | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (epoch(mtime), epoch(mtime)))


def gz(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as f:
        f.write(data)
    return buf.getvalue()


def rot_name(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H-%M-%S")


def iso_agent(t: dt.datetime) -> str:   # 2026-11-20T10:15:02.123+0000
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+0000"


def hms(t: dt.datetime) -> str:         # 10:15:02.123
    return t.strftime("%H:%M:%S.") + f"{t.microsecond // 1000:03d}"


def old_agent(t: dt.datetime) -> str:   # 2026/11/18 08:07:50.537
    return t.strftime("%Y/%m/%d %H:%M:%S.") + f"{t.microsecond // 1000:03d}"


def ms(n: int) -> dt.timedelta:
    return dt.timedelta(milliseconds=n)


def split_window(entries, *bounds):
    """Split (time, text) entries into consecutive files at the given instants."""
    out = [[] for _ in range(len(bounds) + 1)]
    for t, text in sorted(entries, key=lambda e: e[0]):
        i = sum(1 for b in bounds if t >= b)
        out[i].append(text)
    return ["".join(part).encode() for part in out]


# --------------------------------------------------------------------------------------------
# mongod / mongos logs: excerpts of licensed corpus files

def corpus_lines(corpus: Path, rel: str) -> list[bytes]:
    data = (corpus / rel).read_bytes()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [line + b"\n" for line in lines]


def build_mongodb_logs(corpus: Path, out: Path) -> None:
    for rel, log, ranges in EXCERPTS:
        lines = corpus_lines(corpus, rel)
        parts = [b"".join(lines[a:b]) for a, b in ranges]
        if any(not p for p in parts):
            raise SystemExit(f"corpus file {rel} is shorter than expected")
        base = out / log
        write(base.with_name(f"{base.name}.{rot_name(ROT_OLD)}.gz"), gz(parts[0]), ROT_OLD)
        write(base.with_name(f"{base.name}.{rot_name(ROT_MID)}"), parts[1], ROT_MID)
        write(base, parts[2], GEN_END)


# --------------------------------------------------------------------------------------------
# agent logs (generated; current format `[ISO+0000] [.level] [file:func:line] <tag> [hms] msg`)

class AgentLog:
    def __init__(self):
        self.verbose: list[tuple[dt.datetime, str]] = []   # automation-agent-verbose.log*
        self.brief: list[tuple[dt.datetime, str]] = []     # automation-agent.log
        self.stderr: list[tuple[dt.datetime, str]] = []    # automation-agent-stderr.log
        self.monitoring: list[tuple[dt.datetime, str]] = []
        self.backup: list[tuple[dt.datetime, str]] = []

    @staticmethod
    def line(t, level, src, msg, tag=None, cont=(), old=False) -> str:
        ts = old_agent(t) if old else iso_agent(t)
        tag_s = f"<{tag}> " if tag else ""
        text = f"[{ts}] [.{level}] [{src}] {tag_s}[{hms(t)}] {msg}\n"
        return text + "".join(c + "\n" for c in cont)

    def auto(self, t, level, src, msg, tag=None, cont=(), brief=False, old=False):
        text = self.line(t, level, src, msg, tag, cont, old)
        self.verbose.append((t, text))
        if brief:
            self.brief.append((t, text))


def build_agent(out: Path, host: str, procs: list[tuple[str, int, str]], seed: int,
                with_backup: bool) -> None:
    """procs: (process name, port, kind) as the automation config names them."""
    rng = Rng(seed)
    log = AgentLog()
    names = [p[0] for p in procs]
    # the process that crashes and is restarted on 2026-11-20 03:12 (OM alerts about it too)
    victim = next((p for p in procs if p[0] == "rs0_27018"), procs[-1])
    plan_at = dt.datetime(2026, 11, 19, 14, 2, 11, 412000, tzinfo=UTC)
    ah = f"ah={host}&ahs={host}"
    conf_url = (f"{OM_URL}/agents/api/automation/conf/v1/{GROUP_ID}?av={AGENT_VERSION}"
                f"&aos=linux&aa=x86_64&ab=64&ad=ubuntu2204&{ah}")
    old_url = conf_url.replace(AGENT_VERSION, OLD_AGENT_VERSION)

    # -- 2026-11-18 08:00 .. 08:30: the previous agent version, old timestamp format
    t = GEN_START + ms(rng.between(100, 900))
    for _ in range(4):
        log.auto(t, "info", "main/components/agent.go:LoadClusterConfig:536",
                 "clusterConfig unchanged", old=True)
        t += ms(rng.between(9000, 11000))
        log.auto(t, "info", "cm/config/config.go:ReadClusterConfig:911",
                 f"Retrieving cluster config from {old_url}", old=True)
        t += ms(rng.between(200, 400))
    log.auto(t, "warn", "cm/mongoclientservice/mongoclientservice.go:sendClientToRequesters:609",
             f"Error getting client ready for conn params = {host}:{procs[0][1]} (local=false). "
             "Informing all requests and disposing of client (0x0). requests=[ 0xc000a1b2c0 ] : "
             f"connection() error occurred during connection handshake: dial tcp {host}:{procs[0][1]}: "
             "i/o timeout", tag=names[0], brief=True, old=True)
    t = GEN_START + dt.timedelta(minutes=29, seconds=58, milliseconds=rng.between(0, 999))
    log.auto(t, "info", "main/components/agent.go:main:233",
             "Received signal terminated. Shutting down.", brief=True, old=True)
    log.stderr.append((t, f"[{old_agent(t)}] [.info] [main/components/agent.go:main:233] "
                          f"[{hms(t)}] Received signal terminated. Shutting down.\n"))

    # -- 08:30: the upgraded agent starts and writes in the current format
    t = GEN_START + dt.timedelta(minutes=30, seconds=4, milliseconds=rng.between(0, 999))
    header = [
        ("GitCommitId", AGENT_GIT), ("Version", AGENT_VERSION), ("Hostname", host),
        ("ProcessId", str(rng.between(2000, 40000))), ("OS", "linux"), ("Arch", "amd64"),
        ("mmsBaseUrl", OM_URL), ("mmsGroupId", GROUP_ID),
    ]
    for k, v in header:
        text = f"[{iso_agent(t)}] [header.info] [::0] {k:>18} = {v}\n"
        log.verbose.append((t, text))
        log.brief.append((t, text))
        t += ms(1)
    log.stderr.append((t, (
        f"[{iso_agent(t)}] [.error] [main/components/agent.go:loadPreviousState:310] [{hms(t)}] "
        "Could not read state cache /var/lib/mongodb-mms-automation/state-cache.json : "
        "unexpected end of JSON input\n"
        "\tcache left over from the previous agent version; continuing with an empty cache\n")))
    log.auto(t, "info", "main/components/agent.go:NewAgent:110",
             f"Constructing new agent object with desiredClusterConfigPath={conf_url}", brief=True)

    # -- steady state: periodic polls, goal-state checks, debug chatter
    incidents = {
        # the config change: a verbosity change on the first process, with a multi-line diff
        plan_at: "plan",
        # a process restart on the last process (a crash and recovery)
        dt.datetime(2026, 11, 20, 3, 12, 40, 77000, tzinfo=UTC): "restart",
        # a log rotation performed by the agent
        ROT_MID - ms(1500): "rotate",
        dt.datetime(2026, 11, 18, 9, 47, 3, 500000, tzinfo=UTC): "slowpoll",
    }
    tick = GEN_START + dt.timedelta(minutes=31)
    version = 41
    while tick < GEN_END:
        if tick < ROT_OLD:
            step = dt.timedelta(minutes=5)
        elif tick < ROT_MID:
            step = dt.timedelta(minutes=45)
        else:
            step = dt.timedelta(minutes=20)
        t = tick + ms(rng.between(0, 59999))
        log.auto(t, "info", "src/config/config.go:ReadClusterConfig:911",
                 f"Retrieving cluster config from {conf_url}&at={int(epoch(t) * 1000)}")
        t += ms(rng.between(60, 140))
        log.auto(t, "info", "main/components/agent.go:LoadClusterConfig:536", "clusterConfig unchanged")
        for name, port, _kind in procs:
            t += ms(rng.between(1, 30))
            log.auto(t, "debug", "src/mongoctl/processctl.go:GetServerStatus:1247",
                     f"Got serverStatus from {host}:{port} in {rng.between(1, 9)}ms", tag=name)
            if rng.chance(30):
                t += ms(rng.between(1, 5))
                log.auto(t, "info", "src/director/director.go:planAndExecute:690",
                         f"In Goal State for clusterConfig version: {version + (t > plan_at)}",
                         tag=name)
        t += ms(rng.between(1, 20))
        log.auto(t, "info", "main/components/agent.go:Iterate:1630",
                 f"All {len(procs)} Mongo processes are in goal state. Monitoring in goal state"
                 + (", Backup in goal state" if with_backup else ""),
                 brief=tick.minute == 31 or tick.hour % 6 == 0 and tick.minute < 20)
        tick += step

    for when, kind in incidents.items():
        t = when
        if kind == "plan":
            name, port, _ = procs[0]
            log.auto(t, "info", "main/components/agent.go:LoadClusterConfig:552",
                     f"clusterConfig edition changed from {version} to {version + 1}", brief=True)
            t += ms(3)
            log.auto(t, "info", "src/director/director.go:computePlan:269",
                     "... process has a plan : ChangeProcessArgs", tag=name, brief=True)
            t += ms(1)
            log.auto(t, "debug", "src/config/process.go:Diff:577",
                     "Process config differs from the current one:", tag=name, cont=[
                         f"/current/      Name = {name}",
                         f"/desired/      Name = {name}",
                         "/current/      Args.systemLog.verbosity = 0",
                         "/desired/      Args.systemLog.verbosity = 1",
                     ])
            t += ms(rng.between(200, 900))
            log.auto(t, "info", "src/mongoctl/processctl.go:SetParameter:2011",
                     f"<DB_WRITE> setParameter logLevel=1 on {host}:{port}", tag=name, brief=True)
            t += ms(rng.between(10, 50))
            log.auto(t, "info", "src/director/director.go:planAndExecute:690",
                     f"In Goal State for clusterConfig version: {version + 1}", tag=name, brief=True)
        elif kind == "restart":
            name, port, _ = victim
            log.auto(t, "warn", "src/mongoclientservice/mongoclientservice.go:sendClientToRequesters:609",
                     f"Error getting client ready for conn params = {host}:{port} (local=false). "
                     "Informing all requests and disposing of client (0x0). requests=[ 0xc0012e4f00 ] : "
                     f"connection() error occurred during connection handshake: dial tcp {host}:{port}: "
                     "connect: connection refused", tag=name, brief=True)
            t += ms(rng.between(300, 700))
            log.auto(t, "error", "src/director/director.go:computePlan:301",
                     f"Process {name} is not running. Starting it.", tag=name, brief=True)
            t += ms(2)
            log.auto(t, "info", "src/director/director.go:computePlan:269",
                     "... process has a plan : Start,WaitAllRsMembersUp,RsInit", tag=name, brief=True)
            t += ms(rng.between(5, 20))
            log.auto(t, "debug", "src/action/start.go:startProcess:188",
                     "Starting mongod with command line:", tag=name, cont=[
                         f"\t/var/lib/mongodb-mms-automation/mongodb-linux-x86_64-{MONGOD_VERSION}-ent/bin/mongod"
                         f" -f /data/{name}/automation-mongod.conf",
                     ])
            t += ms(rng.between(1500, 3000))
            log.auto(t, "info", "src/mongoctl/processctl.go:StartAndWait:480",
                     f"Process {name} started (pid {rng.between(2000, 60000)}); "
                     f"connecting as mongodb://mms-automation:example-password@{host}:{port}/?authSource=admin",
                     tag=name)
            t += ms(rng.between(500, 1500))
            log.auto(t, "info", "src/director/director.go:planAndExecute:690",
                     f"In Goal State for clusterConfig version: {version + 1}", tag=name, brief=True)
        elif kind == "rotate":
            log.auto(t, "info", "src/logrotator/logrotator.go:rotate:231",
                     "Rotating log file /var/log/mongodb-mms-automation/automation-agent-verbose.log",
                     tag="Log Rotation", brief=True)
            t += ms(900)
            log.auto(t, "warn", "src/logrotator/maintainer.go:mainLoop:149",
                     "Failed to save log file cache to disk : open "
                     "/var/cache/mongodb-mms-automation/log-rotation-state.json.tmp: permission denied",
                     tag="Log Rotation", brief=True)
        elif kind == "slowpoll":
            log.auto(t, "warn", "src/config/config.go:ReadClusterConfig:955",
                     f"Retrieving cluster config from {OM_URL} took 12.4s; retrying in 10s", brief=True)

    # -- stderr: one entry when the process restart happened
    t = dt.datetime(2026, 11, 20, 3, 12, 41, 3000, tzinfo=UTC)
    log.stderr.append((t, (
        f"[{iso_agent(t)}] [.error] [src/action/start.go:startProcess:212] <{victim[0]}> [{hms(t)}] "
        "mongod wrote to stderr before daemonizing:\n"
        "\tabout to fork child process, waiting until server is ready for connections.\n"
        "\tforked process: 31337\n")))

    # -- monitoring agent: ping rounds, a warning when the process is down
    tick = ROT_MID - dt.timedelta(hours=4)
    while tick < GEN_END:
        t = tick + ms(rng.between(0, 4999))
        log.monitoring.append((t, f"[{iso_agent(t)}] [agent.info] [monitoring/agent.go:Iterate:216] "
                                  f"Received new configuration: Assigned {len(procs)} out of 4 plus 0 chunk monitor(s)\n"))
        for name, port, _ in procs:
            t += ms(rng.between(5, 60))
            log.monitoring.append((t, f"[{iso_agent(t)}] [metrics.monitor-{host}:{port}.info] "
                                      f"[monitoring/ping.go:doPing:412] Ping took {rng.between(2, 40)}ms\n"))
        t += ms(3)
        log.monitoring.append((t, f"[{iso_agent(t)}] [agent.info] [monitoring/agent.go:func3:311] "
                                  f"Done. Sleeping for {rng.between(55, 59)}s...\n"))
        tick += dt.timedelta(minutes=30)
    t = dt.datetime(2026, 11, 20, 3, 12, 52, 640000, tzinfo=UTC)
    log.monitoring.append((t, f"[{iso_agent(t)}] [metrics.monitor-{host}:{victim[1]}.warn] "
                              f"[monitoring/ping.go:doPing:398] Failure pinging {host}:{victim[1]} : "
                              "connection() error occurred during connection handshake: connection refused\n"))

    # -- backup agent (db1 only)
    if with_backup:
        tick = ROT_MID + dt.timedelta(minutes=5)
        while tick < GEN_END:
            t = tick + ms(rng.between(0, 9999))
            log.backup.append((t, f"[{iso_agent(t)}] [backup.info] [backup/components/agent.go:Iterate:129] "
                                  "Backup agent is not assigned to any backup jobs; sleeping 60s\n"))
            tick += dt.timedelta(hours=2)
        t = dt.datetime(2026, 11, 19, 22, 40, 17, 331000, tzinfo=UTC)
        log.backup.append((t, f"[{iso_agent(t)}] [backup.warn] [backup/components/oplog.go:tail:244] "
                              f"Oplog tailing of rs0 restarted after cursor loss on {host}:{procs[0][1]}\n"))

    d = out
    v_old, v_mid, v_live = split_window(log.verbose, ROT_OLD, ROT_MID)
    write(d / f"automation-agent-verbose.log.{rot_name(ROT_OLD)}.gz", gz(v_old), ROT_OLD)
    write(d / f"automation-agent-verbose.log.{rot_name(ROT_MID)}", v_mid, ROT_MID)
    write(d / "automation-agent-verbose.log", v_live, GEN_END)
    (brief_all,) = split_window(log.brief)
    write(d / "automation-agent.log", brief_all, GEN_END)
    (stderr_all,) = split_window(log.stderr)
    write(d / "automation-agent-stderr.log", stderr_all, GEN_END)
    m_old, m_live = split_window(log.monitoring, ROT_MID)
    write(d / f"monitoring-agent.log.{rot_name(ROT_MID)}.gz", gz(m_old), ROT_MID)
    write(d / "monitoring-agent.log", m_live, GEN_END)
    if with_backup:
        (b_all,) = split_window(log.backup)
        write(d / "backup-agent.log", b_all, GEN_END)
    # not collected: readiness probe output and the agent's pid file
    write(d / "readiness.log",
          b'{"level":"info","ts":"2026-11-20T10:29:58.201Z","msg":"Reached goal state"}\n', GEN_END)
    write(d / "mongodb-mms-automation-agent.pid", f"{Rng(seed + 7).between(2000, 40000)}\n".encode(),
          GEN_START + dt.timedelta(minutes=30, seconds=4))


# --------------------------------------------------------------------------------------------
# Ops Manager server logs (generated)

def om_line(t, thread, level, logger, where, msg, cont=()) -> str:
    text = f"{iso_agent(t)} [{thread}] {level:<5} {logger} [{where}] - {msg}\n"
    return text + "".join(c + "\n" for c in cont)


def build_om(out: Path, seed: int) -> None:
    rng = Rng(seed)
    app, startup, access, migration, daemon = [], [], [], [], []
    restart = dt.datetime(2026, 11, 19, 9, 55, 0, tzinfo=UTC)

    def app_add(t, *a, **k):
        app.append((t, om_line(t, *a, **k)))

    # startup sequence (mms0-startup.log and the head of the application log)
    t = restart + ms(rng.between(0, 999))
    for msg in ["Starting pre-flight checks", "Successfully finished pre-flight checks",
                "Migrate Ops Manager data", "Running migrations...[  OK  ]",
                "Start Ops Manager server", "Instance 0 starting...", "Instance 0 started"]:
        startup.append((t, f"[{iso_agent(t)}] {msg}\n"))
        t += ms(rng.between(800, 25000))
    t = restart + dt.timedelta(seconds=40)
    app_add(t, "main", "INFO", "com.xgen.svc.mms.Main", "Main.java.main:67",
            "Starting Ops Manager 8.0.16.500.20261105T1541Z on om1.example.net")
    t += ms(412)
    app_add(t, "main", "WARN", "com.xgen.svc.core.dao.base.MongoSvc", "MongoSvc.java.checkAppDb:214",
            "AppDB mongodb://om1.example.net:27017 has no replica set: backups of the AppDB are not possible")
    for i, (mid, name) in enumerate([(118, "AddAgentApiKeyIndexes"), (119, "BackfillHostTags"),
                                     (120, "RemoveLegacyAlertConfigs")]):
        t = restart + dt.timedelta(seconds=10 + 6 * i, milliseconds=rng.between(0, 999))
        migration.append((t, om_line(t, "main", "INFO", "com.xgen.svc.mms.svc.migration.MigrationSvc",
                                     "MigrationSvc.java.runMigration:132",
                                     f"Running migration {mid} ({name})")))
        t += ms(rng.between(100, 4000))
        migration.append((t, om_line(t, "main", "INFO", "com.xgen.svc.mms.svc.migration.MigrationSvc",
                                     "MigrationSvc.java.runMigration:151",
                                     f"Migration {mid} ({name}) finished in {rng.between(100, 4000)} ms")))
    t += ms(20)
    migration.append((t, om_line(t, "main", "WARN", "com.xgen.svc.mms.svc.migration.MigrationSvc",
                                 "MigrationSvc.java.runMigrations:97",
                                 "Migration 121 (DropStaleLocks) skipped: already applied by another instance")))

    # steady state: pings from the two agents, UI logins, one error with a stack trace
    agents = [("db1.example.net", "198.51.100.11"), ("db2.example.net", "198.51.100.12")]
    tick = restart + dt.timedelta(minutes=2)
    while tick < GEN_END:
        for host, ip in agents:
            t = tick + ms(rng.between(0, 59999))
            thread = f"qtp{1500 + rng.below(40)}-{rng.between(30, 99)}"
            app_add(t, thread, "INFO", "com.xgen.svc.mms.svc.ping.PingSvc", "PingSvc.java.handle:123",
                    f"Received ping from automation agent on {host} (group {GROUP_ID})")
            access.append((t, (f'{ip} - - [{iso_agent(t)}] "GET /agents/api/automation/conf/v1/{GROUP_ID}'
                               f'?av={AGENT_VERSION}&ah={host} HTTP/1.1" 200 {rng.between(6000, 9000)} "-" '
                               f'"MongoDB Automation Agent v{AGENT_VERSION} (git: {AGENT_GIT[:12]})" '
                               f'{rng.between(3, 60)}ms\n')))
            t += ms(rng.between(200, 1200))
            access.append((t, (f'{ip} - - [{iso_agent(t)}] "POST /agents/api/automation/status/v1/{GROUP_ID}'
                               f'?ah={host} HTTP/1.1" 200 {rng.between(20, 80)} "-" '
                               f'"MongoDB Automation Agent v{AGENT_VERSION} (git: {AGENT_GIT[:12]})" '
                               f'{rng.between(3, 30)}ms\n')))
        tick += dt.timedelta(minutes=30)
    for when, user, ip in [(dt.datetime(2026, 11, 19, 11, 4, 9, 310000, tzinfo=UTC), "admin@example.net", "203.0.113.20"),
                           (dt.datetime(2026, 11, 20, 8, 41, 55, 871000, tzinfo=UTC), "ops@example.net", "203.0.113.45")]:
        app_add(when, f"qtp1522-{rng.between(30, 99)}", "INFO", "com.xgen.svc.mms.res.user.UserLoginResource",
                "UserLoginResource.java.login:211", f"User {user} logged in from {ip}")
        access.append((when, f'{ip} - {user} [{iso_agent(when)}] "POST /user/v1/auth HTTP/1.1" 200 412 '
                             f'"{OM_URL}/account/login" "Mozilla/5.0 (X11; Linux x86_64)" 87ms\n'))
        t = when + ms(1600)
        access.append((t, f'{ip} - {user} [{iso_agent(t)}] "GET /v2/{GROUP_ID} HTTP/1.1" 200 18231 '
                          f'"{OM_URL}/account/login" "Mozilla/5.0 (X11; Linux x86_64)" 143ms\n'))
    t = dt.datetime(2026, 11, 20, 3, 13, 5, 402000, tzinfo=UTC)
    app_add(t, "AlertProcessing-3", "WARN", "com.xgen.svc.mms.svc.alert.AlertProcessingSvc",
            "AlertProcessingSvc.java.checkHost:388", "Host db1.example.net:27018 is DOWN (rs0); opening alert")
    t += ms(30041)
    app_add(t, "AlertProcessing-3", "ERROR", "com.xgen.svc.mms.svc.alert.NotificationSvc",
            "NotificationSvc.java.sendEmail:142", "Failed to send alert e-mail to ops@example.net", cont=[
                "jakarta.mail.MessagingException: Could not connect to SMTP host: smtp.example.net, port: 587",
                "\tat org.eclipse.angus.mail.smtp.SMTPTransport.openServer(SMTPTransport.java:2253)",
                "\tat org.eclipse.angus.mail.smtp.SMTPTransport.protocolConnect(SMTPTransport.java:729)",
                "\tat com.xgen.svc.mms.svc.alert.NotificationSvc.sendEmail(NotificationSvc.java:139)",
                "Caused by: java.net.SocketTimeoutException: Connect timed out",
                "\tat java.base/sun.nio.ch.NioSocketImpl.timedFinishConnect(NioSocketImpl.java:546)",
                "\t... 14 common frames omitted",
            ])
    t += ms(rng.between(90000, 120000))
    app_add(t, "AlertProcessing-1", "INFO", "com.xgen.svc.mms.svc.alert.AlertProcessingSvc",
            "AlertProcessingSvc.java.checkHost:402", "Host db1.example.net:27018 is UP again (rs0); closing alert")
    # a few debug lines so that level filters have something to drop
    t = dt.datetime(2026, 11, 20, 9, 0, 0, 125000, tzinfo=UTC)
    app_add(t, "CronJobSvc-0", "DEBUG", "com.xgen.svc.mms.svc.cron.CronJobSvc",
            "CronJobSvc.java.run:77", "Running cron job PurgeExpiredLogCollectionJobs")

    # backup daemon
    tick = restart + dt.timedelta(minutes=1)
    while tick < GEN_END:
        t = tick + ms(rng.between(0, 9999))
        daemon.append((t, om_line(t, "BackupDaemon-0", "INFO", "com.xgen.svc.brs.daemon.DaemonSvc",
                                  "DaemonSvc.java.heartbeat:301",
                                  f"Daemon heartbeat; head directory /data/backup/head free {rng.between(400, 420)} GB")))
        tick += dt.timedelta(hours=3)
    t = dt.datetime(2026, 11, 20, 3, 14, 0, 12000, tzinfo=UTC)
    daemon.append((t, om_line(t, "BackupDaemon-0", "WARN", "com.xgen.svc.brs.daemon.OplogFetcher",
                              "OplogFetcher.java.fetch:188",
                              "Oplog fetch from db1.example.net:27018 failed; retrying from db1.example.net:27017")))

    d = out
    day = dt.datetime(2026, 11, 20, 0, 0, 0, tzinfo=UTC)
    a_old, a_live = split_window(app, day)
    write(d / "mms0.2026-11-19.log", a_old, day)
    write(d / "mms0.log", a_live, GEN_END)
    (s_all,) = split_window(startup)
    write(d / "mms0-startup.log", s_all, restart + dt.timedelta(minutes=2))
    x_old, x_live = split_window(access, day)
    write(d / "mms0-access.2026-11-19.log.gz", gz(x_old), day)
    write(d / "mms0-access.log", x_live, GEN_END)
    (m_all,) = split_window(migration)
    write(d / "mms-migration.log", m_all, restart + dt.timedelta(minutes=1))
    (dm_all,) = split_window(daemon)
    write(d / "daemon.log", dm_all, GEN_END)


# --------------------------------------------------------------------------------------------
# FTDC: BSON documents, hand-encoded

class Int64(int):
    pass


def _cstr(s: str) -> bytes:
    b = s.encode()
    assert b"\x00" not in b
    return b + b"\x00"


def bson(doc: dict) -> bytes:
    body = b"".join(_element(k, v) for k, v in doc.items())
    return struct.pack("<i", len(body) + 5) + body + b"\x00"


def _element(key: str, v) -> bytes:
    k = _cstr(key)
    if isinstance(v, bool):
        return b"\x08" + k + (b"\x01" if v else b"\x00")
    if isinstance(v, Int64):
        return b"\x12" + k + struct.pack("<q", v)
    if isinstance(v, int):
        if -2**31 <= v < 2**31:
            return b"\x10" + k + struct.pack("<i", v)
        return b"\x12" + k + struct.pack("<q", v)
    if isinstance(v, float):
        return b"\x01" + k + struct.pack("<d", v)
    if isinstance(v, str):
        b = v.encode()
        return b"\x02" + k + struct.pack("<i", len(b) + 1) + b + b"\x00"
    if isinstance(v, dt.datetime):
        return b"\x09" + k + struct.pack("<q", int(round(epoch(v) * 1000)))
    if isinstance(v, dict):
        return b"\x03" + k + bson(v)
    if isinstance(v, list):
        return b"\x04" + k + bson({str(i): x for i, x in enumerate(v)})
    if isinstance(v, bytes):
        return b"\x05" + k + struct.pack("<i", len(v)) + b"\x00" + v
    if v is None:
        return b"\x0a" + k
    raise TypeError(type(v))


def ftdc_metrics(v) -> list[int]:
    """The numeric leaves of a document in order, as FTDC extracts them (all fit int64)."""
    if isinstance(v, dict):
        return [m for x in v.values() for m in ftdc_metrics(x)]
    if isinstance(v, list):
        return [m for x in v for m in ftdc_metrics(x)]
    if isinstance(v, bool):
        return [int(v)]
    if isinstance(v, (int, float)):
        return [int(v)]
    if isinstance(v, dt.datetime):
        return [int(round(epoch(v) * 1000))]
    return []


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def ftdc_chunk(samples: list[dict]) -> bytes:
    """A metrics chunk: uint32 uncompressed length + zlib(reference BSON, uint32 metric count,
    uint32 delta count, zero-run-length varint deltas stored metric-major)."""
    ref = samples[0]
    series = [ftdc_metrics(s) for s in samples]
    n = len(series[0])
    assert all(len(s) == n for s in series)
    deltas = bytearray()
    zeroes = 0
    for i in range(n):
        for j in range(1, len(series)):
            d = (series[j][i] - series[j - 1][i]) & 0xFFFFFFFFFFFFFFFF
            if d == 0:
                zeroes += 1
                continue
            if zeroes:
                deltas += _varint(0) + _varint(zeroes - 1)
                zeroes = 0
            deltas += _varint(d)
    if zeroes:
        deltas += _varint(0) + _varint(zeroes - 1)
    raw = bson(ref) + struct.pack("<II", n, len(samples) - 1) + bytes(deltas)
    return struct.pack("<I", len(raw)) + zlib.compress(raw, 6)


def server_status(rng: Rng, state: dict, t: dt.datetime, host: str, port: int, kind: str) -> dict:
    state["uptime"] += 1000
    state["conns"] = max(3, state["conns"] + rng.between(-1, 1))
    state["created"] += rng.below(2)
    for k in ("insert", "query", "update", "delete", "getmore", "command"):
        state[k] += rng.below(4) if k != "command" else rng.between(3, 12)
    state["user_ms"] += rng.between(5, 40)
    state["sys_ms"] += rng.between(2, 15)
    state["idle_ms"] += 4000 - rng.between(10, 60)
    ss = {
        "start": t,
        "host": f"{host}:{port}",
        "version": MONGOD_VERSION,
        "process": kind,
        "pid": Int64(state["pid"]),
        "uptime": float(state["uptime"] // 1000),
        "uptimeMillis": Int64(state["uptime"]),
        "localTime": t,
        "asserts": {"regular": 0, "warning": 0, "msg": 0, "user": state["created"] // 7, "rollovers": 0},
        "connections": {"current": state["conns"], "available": 51200 - state["conns"],
                        "totalCreated": state["created"], "active": min(state["conns"], 2)},
        "opcounters": {k: Int64(state[k]) for k in ("insert", "query", "update", "delete", "getmore", "command")},
        "mem": {"bits": 64, "resident": 412 + state["created"] % 5, "virtual": 3121, "supported": True},
        "end": t + ms(2),
    }
    sm = {
        "start": t + ms(2),
        "cpu": {"num_cpus": 8, "user_ms": Int64(state["user_ms"]), "system_ms": Int64(state["sys_ms"]),
                "idle_ms": Int64(state["idle_ms"]), "iowait_ms": Int64(state["user_ms"] // 20)},
        "memory": {"MemTotal_kb": Int64(32_765_432), "MemFree_kb": Int64(20_001_000 - state["created"] * 4)},
        "end": t + ms(3),
    }
    return {"start": t, "serverStatus": ss, "systemMetrics": sm, "end": t + ms(3)}


def build_ftdc(d: Path, seed: int, host: str, port: int, kind: str, name: str,
               files: list[tuple[str, dt.datetime, dt.datetime, int, bool]]) -> None:
    """files: (file name, first sample, last chunk start, chunk count, with metadata doc)."""
    rng = Rng(seed)
    state = {"uptime": 86_400_000 * 3, "conns": 12, "created": 140, "pid": rng.between(2000, 60000),
             "insert": 1000, "query": 5000, "update": 700, "delete": 12, "getmore": 300, "command": 90000,
             "user_ms": 1_000_000, "sys_ms": 400_000, "idle_ms": 90_000_000}
    parsed = {"net": {"bindIp": "0.0.0.0", "port": port},
              "systemLog": {"destination": "file", "logAppend": True, "path": f"/data/{name}/{kind}.log"},
              "processManagement": {"fork": True}}
    if kind == "mongod":
        parsed["storage"] = {"dbPath": f"/data/{name}/db", "engine": "wiredTiger"}
        if name.startswith("rs0"):
            parsed["replication"] = {"replSetName": "rs0"}
    else:
        parsed["sharding"] = {"configDB": "csrs/db1.example.net:27019"}
    for fname, first, last, chunks, with_meta in files:
        out = bytearray()
        if with_meta:
            meta = {
                "start": first,
                "buildInfo": {"version": MONGOD_VERSION, "gitVersion": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
                              "modules": ["enterprise"], "allocator": "tcmalloc-google",
                              "versionArray": [8, 0, 4, 0], "bits": 64, "debug": False, "ok": 1.0},
                "getCmdLineOpts": {"argv": [kind, "-f", f"/data/{name}/automation-{kind}.conf"],
                                   "parsed": parsed, "ok": 1.0},
                "hostInfo": {"system": {"currentTime": first, "hostname": f"{host}:{port}",
                                        "cpuAddrSize": 64, "memSizeMB": Int64(31998), "numCores": 8,
                                        "cpuArch": "x86_64", "numaEnabled": False},
                             "os": {"type": "Linux", "name": "Ubuntu", "version": "22.04"},
                             "ok": 1.0},
                "end": first + ms(5),
            }
            out += bson({"_id": first, "type": 0, "doc": meta})
        span = (last - first) / max(chunks - 1, 1)
        for c in range(chunks):
            start = first + span * c
            start = start.replace(microsecond=(start.microsecond // 1000) * 1000)
            n = rng.between(8, 14)
            samples = [server_status(rng, state, start + dt.timedelta(seconds=s), host, port, kind)
                       for s in range(n)]
            out += bson({"_id": start, "type": 1, "data": ftdc_chunk(samples)})
        write(d / fname, bytes(out), last + dt.timedelta(seconds=20))


def ftdc_plan(interim_at: dt.datetime):
    return [
        ("metrics.2026-11-19T10-00-00Z-00000", ROT_MID, dt.datetime(2026, 11, 20, 9, 55, tzinfo=UTC), 5, True),
        ("metrics.2026-11-20T10-00-00Z-00000", dt.datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
         dt.datetime(2026, 11, 20, 10, 25, tzinfo=UTC), 4, True),
        ("metrics.interim", interim_at, interim_at, 1, False),
    ]


# --------------------------------------------------------------------------------------------

MONGOD_CONF = """\
# mongod.conf -- sample only; logpack must NOT collect this file
systemLog:
  destination: file
  path: {log}
  logAppend: true
  logRotate: rename
storage:
  dbPath: {db}
net:
  port: {port}
  bindIp: 0.0.0.0
{repl}"""


def build_process_extras(out: Path) -> None:
    interim = dt.datetime(2026, 11, 20, 10, 29, 10, tzinfo=UTC)
    mongods = [("db1.example.net", 27017, "rs0_27017", "hosts/db1/rs0_27017", True),
               ("db1.example.net", 27018, "rs0_27018", "hosts/db1/rs0_27018", True),
               ("db2.example.net", 27020, "standalone_27020", "hosts/db2/standalone", False)]
    for i, (host, port, name, rel, rs) in enumerate(mongods):
        d = out / rel
        write(d / "mongod.conf", MONGOD_CONF.format(
            log=f"/data/{name}/mongod.log", db=f"/data/{name}/db", port=port,
            repl="replication:\n  replSetName: rs0\n" if rs else "").encode(), ROT_OLD)
        write(d / "db" / "WiredTiger", b"WiredTiger\nWiredTiger 12.0.0: (sample)\n", ROT_OLD)
        write(d / "db" / "collection-0-123.wt", b"\x00\x00\x10\x00WT\x01\x00", GEN_END)
        build_ftdc(d / "db" / "diagnostic.data", 1000 + i, host, port, "mongod", name, ftdc_plan(interim))
    build_ftdc(out / "hosts/db1/mongos/mongos.diagnostic.data", 1100, "db1.example.net", 27016,
               "mongos", "mongos_27016", ftdc_plan(interim)[1:])


def main(argv: list[str]) -> int:
    if len(argv) > 2 or (len(argv) == 2 and argv[1].startswith("-")):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    corpus = Path(argv[1]) if len(argv) == 2 else HERE / "../../../shared/corpus"
    corpus = corpus.resolve()
    if not (corpus / "SOURCES.md").is_file():
        print(f"error: {corpus} does not look like the corpus (no SOURCES.md)", file=sys.stderr)
        return 1
    out = HERE
    shutil.rmtree(out / "hosts", ignore_errors=True)
    write(out / "request.json", REQUEST_JSON.encode())
    build_mongodb_logs(corpus, out)
    build_process_extras(out)
    build_agent(out / "hosts/db1/agent", "db1.example.net",
                [("rs0_27017", 27017, "mongod"), ("rs0_27018", 27018, "mongod"),
                 ("mongos_27016", 27016, "mongos")], seed=1, with_backup=True)
    build_agent(out / "hosts/db2/agent", "db2.example.net",
                [("standalone_27020", 27020, "mongod")], seed=2, with_backup=False)
    build_om(out / "hosts/om1/logs", seed=3)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
