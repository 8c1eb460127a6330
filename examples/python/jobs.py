#!/usr/bin/env python3
"""Run a log collection job through logpack's job store (C ABI), with ctypes only.

    python3 examples/python/jobs.py SPOOL REQUEST OUT

Opens (or creates) the job store in the directory SPOOL, creates a job for
REQUEST (relative paths resolve against the request file's directory),
waits for it, downloads its archive to OUT (a file, or a directory to hold
the job's archive name) and prints the job's JSON, the Ops Manager
resource. Exits 0 when the job is SUCCESS, 3 when it is FAILURE, 4 when the
store refuses (e.g. RATE_LIMITED) and 1 otherwise, like `logpack jobs
create`.

Loads the cdylib from $LOGPACK_LIB, or else target/release or target/debug
of this repository (build it with `cargo build --release`).
"""

import ctypes
import json
import os
import sys
from ctypes import POINTER, byref, c_char, c_char_p, c_int, c_int64, c_size_t, c_uint, c_uint64

# logpack_result values (include/logpack.h); values are never reused.
OK = 0
BUSY = 301  # RATE_LIMITED
NOT_FOUND = 302  # LOG_COLLECTION_JOB_NOT_FOUND_IN_GROUP
REFUSED = 303  # the job's state or the date asked for
# logpack_store_set_option keys.
STORE_OPTION_THREADS = 1

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIB_NAME = "liblogpack.dylib" if sys.platform == "darwin" else "liblogpack.so"


def load_library():
    candidates = [os.environ["LOGPACK_LIB"]] if os.environ.get("LOGPACK_LIB") else [
        os.path.join(REPO, "target", profile, LIB_NAME) for profile in ("release", "debug")
    ]
    for path in candidates:
        if os.path.exists(path):
            # CDLL releases the GIL for the duration of each call, so a long
            # logpack_store_wait does not hold up other Python threads.
            return ctypes.CDLL(path)
    sys.exit(f"jobs.py: no logpack library at {' or '.join(candidates)}; "
             "run `cargo build --release` or set LOGPACK_LIB")


lib = load_library()

store_p = ctypes.c_void_p  # logpack_store * (opaque)
result_t = c_int  # enum logpack_result
out_str = POINTER(POINTER(c_char))  # char ** (freed with logpack_string_free)

for name, restype, argtypes in [
    ("logpack_version_string", c_char_p, []),
    ("logpack_result_name", c_char_p, [result_t]),
    ("logpack_string_free", None, [POINTER(c_char)]),
    ("logpack_store_new", store_p, []),
    ("logpack_store_free", None, [store_p]),
    ("logpack_store_set_option", result_t, [store_p, c_uint, c_int64]),
    ("logpack_store_open", result_t, [store_p, c_char_p, c_size_t]),
    ("logpack_store_create", result_t,
     [store_p, c_char_p, c_size_t, c_char_p, c_size_t, out_str, POINTER(c_size_t)]),
    ("logpack_store_wait", result_t,
     [store_p, c_char_p, c_size_t, c_uint64, out_str, POINTER(c_size_t)]),
    ("logpack_store_get", result_t,
     [store_p, c_char_p, c_size_t, c_int, out_str, POINTER(c_size_t)]),
    ("logpack_store_download_to_path", result_t, [store_p, c_char_p, c_size_t, c_char_p, c_size_t]),
    ("logpack_store_last_error", result_t, [store_p, POINTER(c_char), c_size_t, POINTER(c_size_t)]),
]:
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = argtypes


class StoreError(Exception):
    """A logpack_result other than OK, with the store's last error."""

    def __init__(self, what, code, message):
        self.code = code
        name = lib.logpack_result_name(code).decode()
        super().__init__(f"{what}: {name}: {message}")


class Store:
    """A job store handle. Its methods take and give Python strings and dicts."""

    def __init__(self, spool, threads=None):
        self._h = lib.logpack_store_new()
        if not self._h:
            raise MemoryError("logpack_store_new failed")
        try:
            if threads is not None:
                self._check("set_option", lib.logpack_store_set_option(
                    self._h, STORE_OPTION_THREADS, threads))
            spool = os.fsencode(spool)
            self._check("open", lib.logpack_store_open(self._h, spool, len(spool)))
        except BaseException:
            self.close()
            raise

    def close(self):
        """Frees the handle; waits for the jobs it started to end."""
        if self._h:
            lib.logpack_store_free(self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def last_error(self):
        """The store's last error: read from the handle, never from a thread-local.
        A refusal's message starts with its Ops Manager code."""
        cap = 1024
        while True:
            buf = ctypes.create_string_buffer(cap)
            n = c_size_t(0)
            lib.logpack_store_last_error(self._h, buf, cap, byref(n))
            if n.value < cap - 4:  # not cut short (a cut never splits a UTF-8 character)
                return buf.raw[: n.value].decode("utf-8", "replace")
            cap *= 4

    def _check(self, what, code):
        if code != OK:
            raise StoreError(what, code, self.last_error())

    def _call_str(self, what, fn, *args):
        """Calls fn(*args, &ptr, &len) and takes the string it hands out."""
        ptr, n = POINTER(c_char)(), c_size_t(0)
        self._check(what, fn(self._h, *args, byref(ptr), byref(n)))
        try:
            return ctypes.string_at(ptr, n.value).decode()
        finally:
            lib.logpack_string_free(ptr)  # handed out: ours to free

    def create(self, request, base_dir):
        """Records a job and starts it in the background; returns its id at once."""
        base = os.fsencode(base_dir)
        return self._call_str("create", lib.logpack_store_create,
                              request, len(request), base, len(base))

    def wait(self, job_id, timeout_s=3600):
        """The job once it is no longer IN_PROGRESS (or the timeout passed)."""
        i = job_id.encode()
        return json.loads(self._call_str("wait", lib.logpack_store_wait,
                                         i, len(i), int(timeout_s * 1000)))

    def get(self, job_id, verbose=False):
        i = job_id.encode()
        return json.loads(self._call_str("get", lib.logpack_store_get, i, len(i), int(verbose)))

    def download(self, job_id, out):
        i, o = job_id.encode(), os.fsencode(out)
        self._check("download", lib.logpack_store_download_to_path(self._h, i, len(i), o, len(o)))


def main(argv):
    if len(argv) != 4:
        print(f"usage: {argv[0]} SPOOL REQUEST OUT", file=sys.stderr)
        return 1
    spool, request_path, out = argv[1:]
    with open(request_path, "rb") as f:
        request = f.read()
    base_dir = os.path.dirname(os.path.abspath(request_path))
    print(f"logpack {lib.logpack_version_string().decode()}", file=sys.stderr)
    try:
        with Store(spool) as store:
            job_id = store.create(request, base_dir)
            print(f"job {job_id} created", file=sys.stderr)
            job = store.wait(job_id)
            if job["status"] != "IN_PROGRESS":
                store.download(job_id, out)
                print(f"job {job_id}: {job['status']} -> {out}", file=sys.stderr)
            print(json.dumps(store.get(job_id), indent=2))
            return {"SUCCESS": 0, "FAILURE": 3}.get(job["status"], 1)
    except StoreError as e:
        print(f"jobs.py: {e}", file=sys.stderr)
        return 4 if e.code in (BUSY, NOT_FOUND, REFUSED) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
