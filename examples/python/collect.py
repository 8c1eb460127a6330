#!/usr/bin/env python3
"""Collect a deployment's logs through logpack's C ABI, with ctypes only.

    python3 examples/python/collect.py REQUEST OUT

Loads the cdylib from $LOGPACK_LIB, or else target/release or target/debug
of this repository (build it with `cargo build --release`). Relative paths in
the request resolve against the request file's directory. Prints the
manifest status and the result name; exits 0 for OK, 3 for PARTIAL and 1
otherwise, like `logpack collect`.
"""

import ctypes
import json
import os
import signal
import sys
import time
from ctypes import (
    CFUNCTYPE,
    POINTER,
    byref,
    c_char,
    c_char_p,
    c_int,
    c_int64,
    c_size_t,
    c_uint32,
    c_uint64,
    c_void_p,
)

# logpack_result values (include/logpack.h); values are never reused.
OK = 0
PARTIAL = 1

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIB_NAME = "liblogpack.dylib" if sys.platform == "darwin" else "liblogpack.so"


def load_library():
    candidates = [os.environ["LOGPACK_LIB"]] if os.environ.get("LOGPACK_LIB") else [
        os.path.join(REPO, "target", profile, LIB_NAME) for profile in ("release", "debug")
    ]
    for path in candidates:
        if os.path.exists(path):
            # CDLL releases the GIL for the duration of each call; a callback
            # from C takes it back while it runs.
            return ctypes.CDLL(path)
    sys.exit(f"collect.py: no logpack library at {' or '.join(candidates)}; "
             "run `cargo build --release` or set LOGPACK_LIB")


lib = load_library()

# int (*logpack_progress_fn)(void *userdata, uint64_t done, uint64_t total)
PROGRESS_FN = CFUNCTYPE(c_int, c_void_p, c_uint64, c_uint64)
job_p = c_void_p  # logpack_job * (opaque)
result_t = c_int  # enum logpack_result

for name, restype, argtypes in [
    ("logpack_version_string", c_char_p, []),
    ("logpack_result_name", c_char_p, [result_t]),
    ("logpack_job_new", job_p, []),
    ("logpack_job_free", None, [job_p]),
    ("logpack_job_set_request", result_t, [job_p, c_char_p, c_size_t]),
    ("logpack_job_set_base_dir", result_t, [job_p, c_char_p, c_size_t]),
    ("logpack_job_set_option", result_t, [job_p, c_uint32, c_int64]),
    ("logpack_job_set_progress", result_t, [job_p, PROGRESS_FN, c_void_p]),
    ("logpack_job_run_to_path", result_t, [job_p, c_char_p, c_size_t]),
    ("logpack_job_manifest", result_t, [job_p, POINTER(POINTER(c_char)), POINTER(c_size_t)]),
    ("logpack_job_last_error", result_t, [job_p, POINTER(c_char), c_size_t, POINTER(c_size_t)]),
]:
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = argtypes


def result_name(code):
    return lib.logpack_result_name(code).decode()


def last_error(job):
    """The job's last error: read from the job, never from a thread-local."""
    cap = 1024
    while True:
        buf = ctypes.create_string_buffer(cap)
        n = c_size_t(0)
        lib.logpack_job_last_error(job, buf, cap, byref(n))
        if n.value < cap - 4:  # not cut short (a cut never splits a UTF-8 character)
            return buf.raw[: n.value].decode("utf-8", "replace")
        cap *= 4


class Progress:
    """Prints a progress line to stderr at most twice a second, and the last one."""

    def __init__(self):
        self.last = 0.0
        self.printed = None
        self.cancel = False

    def __call__(self, _userdata, done, total):
        # Runs on the thread that called logpack_job_run_to_path (this one),
        # with the GIL held. An exception must not escape into C.
        try:
            now = time.monotonic()
            if (done == total and done != self.printed) or now - self.last >= 0.5:
                self.last, self.printed = now, done
                pct = 100.0 * done / total if total else 100.0
                print(f"progress: {done}/{total} bytes ({pct:.0f}%)", file=sys.stderr, flush=True)
        except Exception as e:  # noqa: BLE001 - report, keep collecting
            print(f"progress callback: {e}", file=sys.stderr)
        return 1 if self.cancel else 0  # non-zero cancels the run


def check(job, what, code):
    if code != OK:
        print(f"{what}: {result_name(code)}: {last_error(job)}", file=sys.stderr)
        print(f"status: none ({result_name(code)})")
        sys.exit(1)


def main(argv):
    if len(argv) != 3:
        print(f"usage: {argv[0]} REQUEST OUT", file=sys.stderr)
        return 1
    request_path, out = argv[1], argv[2]
    with open(request_path, "rb") as f:
        request = f.read()
    base_dir = os.fsencode(os.path.dirname(os.path.abspath(request_path)))
    out_b = os.fsencode(out)

    print(f"logpack {lib.logpack_version_string().decode()}", file=sys.stderr)
    job = lib.logpack_job_new()
    if not job:
        print("logpack_job_new failed", file=sys.stderr)
        return 1
    try:
        # Set the base dir first: set_request validates relative paths against it.
        check(job, "set_base_dir", lib.logpack_job_set_base_dir(job, base_dir, len(base_dir)))
        check(job, "set_request", lib.logpack_job_set_request(job, request, len(request)))
        progress = Progress()
        callback = PROGRESS_FN(progress)  # keep a reference: C holds only the pointer
        check(job, "set_progress", lib.logpack_job_set_progress(job, callback, None))

        # Ctrl-C cancels. Python runs signal handlers on the main thread
        # only when it runs Python code: here, when the callback is entered.
        def on_sigint(_signum, _frame):
            progress.cancel = True

        previous = signal.getsignal(signal.SIGINT)
        if previous is not signal.SIG_IGN:  # as in the background of a script
            signal.signal(signal.SIGINT, on_sigint)
        try:
            code = lib.logpack_job_run_to_path(job, out_b, len(out_b))
        finally:
            signal.signal(signal.SIGINT, previous)

        ptr, n = POINTER(c_char)(), c_size_t(0)
        if code in (OK, PARTIAL) and lib.logpack_job_manifest(job, byref(ptr), byref(n)) == OK:
            # Borrowed until logpack_job_free: copy it out first.
            manifest = json.loads(ctypes.string_at(ptr, n.value))
            print(f"status: {manifest['status']} ({result_name(code)}) -> {out}")
        else:
            print(f"status: none ({result_name(code)})")
        if code != OK:
            print(f"error: {last_error(job)}", file=sys.stderr)
        del callback  # only after the run: the job never calls it again
        return {OK: 0, PARTIAL: 3}.get(code, 1)
    finally:
        lib.logpack_job_free(job)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
