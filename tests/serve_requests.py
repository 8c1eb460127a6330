"""Drives `logpack serve` with Python requests and HTTPDigestAuth, as an
Ops Manager user's script would; prints a JSON report for tests/serve.rs.

usage: serve_requests.py BASE_URL GROUP_ID USER:PASSWORD OUT_DIR
"""
import json
import sys
import tarfile
import time

import requests
from requests.auth import HTTPDigestAuth

base, group, creds, out_dir = sys.argv[1:5]
user, password = creds.split(":", 1)
jobs = f"{base}/api/public/v1.0/groups/{group}/logCollectionJobs"
report = {}

with requests.Session() as s:
    s.auth = HTTPDigestAuth(user, password)
    # One nonce, nc counting up: the server must not re-challenge.
    nc = []
    for _ in range(6):
        r = s.get(jobs, params={"itemsPerPage": 10})
        r.raise_for_status()
        nc.append(s.auth._thread_local.nonce_count)
    report["nc_values"] = nc

    r = s.post(jobs, json={
        "resourceType": "REPLICASET", "resourceName": "rs0", "redacted": True,
        "sizeRequestedPerFileBytes": 5_000_000, "logTypes": ["MONGODB", "AUTOMATION_AGENT"],
    })
    assert r.status_code == 201, (r.status_code, r.text)
    job_id = r.json()["id"]
    deadline = time.time() + 60
    while True:
        job = s.get(f"{jobs}/{job_id}", params={"verbose": "true"}).json()
        if job["status"] != "IN_PROGRESS" or time.time() > deadline:
            break
        time.sleep(0.1)
    report["status"] = job["status"]
    report["children"] = len(job.get("childJobs", []))

    path = f"{out_dir}/requests.tar.gz"
    with s.get(job["downloadUrl"], stream=True) as r:
        r.raise_for_status()
        assert r.headers["Content-Type"] == "application/gzip", r.headers
        with open(path, "wb") as f:
            for chunk in r.iter_content(1 << 16):
                f.write(chunk)
    # Stream mode reads only the first gzip member: it must see everything.
    with tarfile.open(path, "r|gz") as t:
        names = [m.name for m in t]
    assert "manifest.json" in names, names
    report["members"] = len(names)

    r = requests.get(jobs, auth=HTTPDigestAuth(user, password + "x"))
    report["wrong_password"] = r.status_code
    r = s.get(f"{jobs}/ffffffffffffffffffffffff")
    assert r.status_code == 404 and r.json()["errorCode"] == "LOG_COLLECTION_JOB_NOT_FOUND_IN_GROUP", r.text

print(json.dumps(report))
