#!/usr/bin/env python3
"""Capture a deployment's live logs through logpack's C ABI, with ctypes only.

    python3 examples/python/capture.py REQUEST [SECONDS [LEVEL]]

Follows the live logs of REQUEST's components (relative paths resolve
against the request file's directory) for SECONDS (default 30; -1 until
Ctrl-C), at LEVEL and up (FATAL, ERROR, WARN, INFO, DEBUG; default the
request's), through rotation, and prints each record to stdout as it comes:
one JSON object per line (ndjson, dotnet-monitor's LogEntry shape). Ctrl-C
ends the capture cleanly. Exits 0 at a clean end (duration or Ctrl-C), 4
when 3 captures are running already (BUSY, RATE_LIMITED) and 1 otherwise,
like `logpack capture`.

The capture runs on a worker thread, which is the only one the writer
callback is called on; the main thread waits and, on Ctrl-C, cancels the
capture through its cancel token, which works from any thread.

Loads the cdylib from $LOGPACK_LIB, or else target/release or target/debug
of this repository (build it with `cargo build --release`).
"""

import ctypes
import json
import os
import sys
import threading
from ctypes import CFUNCTYPE, POINTER, byref, c_char, c_char_p, c_int, c_int64, c_size_t, c_uint
from ctypes import c_uint8, c_uint64, c_void_p

# logpack_result values (include/logpack.h); values are never reused.
OK = 0
BUSY = 301  # RATE_LIMITED: 3 captures are running already
# logpack_capture_format values.
CAPTURE_FORMAT_NDJSON = 0

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIB_NAME = "liblogpack.dylib" if sys.platform == "darwin" else "liblogpack.so"


def load_library():
    candidates = [os.environ["LOGPACK_LIB"]] if os.environ.get("LOGPACK_LIB") else [
        os.path.join(REPO, "target", profile, LIB_NAME) for profile in ("release", "debug")
    ]
    for path in candidates:
        if os.path.exists(path):
            # CDLL releases the GIL for the duration of each call (the
            # capture blocks for its whole duration); a callback from C takes
            # it back while it runs.
            return ctypes.CDLL(path)
    sys.exit(f"capture.py: no logpack library at {' or '.join(candidates)}; "
             "run `cargo build --release` or set LOGPACK_LIB")


lib = load_library()

# int (*logpack_write_fn)(void *userdata, const uint8_t *buf, size_t len)
WRITE_FN = CFUNCTYPE(c_int, c_void_p, POINTER(c_uint8), c_size_t)
capture_p = c_void_p  # logpack_capture * (opaque)
token_p = c_void_p  # logpack_cancel_token * (opaque)
result_t = c_int  # enum logpack_result

for name, restype, argtypes in [
    ("logpack_version_string", c_char_p, []),
    ("logpack_result_name", c_char_p, [result_t]),
    ("logpack_capture_new", capture_p, []),
    ("logpack_capture_free", None, [capture_p]),
    ("logpack_capture_set_base_dir", result_t, [capture_p, c_char_p, c_size_t]),
    ("logpack_capture_set_request", result_t, [capture_p, c_char_p, c_size_t]),
    ("logpack_capture_set_duration", result_t, [capture_p, c_int64]),
    ("logpack_capture_set_level", result_t, [capture_p, c_char_p, c_size_t]),
    ("logpack_capture_set_format", result_t, [capture_p, c_uint]),
    ("logpack_capture_cancel_token", token_p, [capture_p]),
    ("logpack_capture_run_to_writer", result_t, [capture_p, WRITE_FN, c_void_p]),
    ("logpack_capture_counts", result_t,
     [capture_p, POINTER(c_uint64), POINTER(c_uint64), POINTER(c_uint64)]),
    ("logpack_capture_last_error", result_t,
     [capture_p, POINTER(c_char), c_size_t, POINTER(c_size_t)]),
    ("logpack_cancel_token_cancel", result_t, [token_p]),
    ("logpack_cancel_token_free", None, [token_p]),
]:
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = argtypes


def result_name(code):
    return lib.logpack_result_name(code).decode()


def last_error(capture):
    """The capture's last error: read from the handle, never from a thread-local."""
    cap = 1024
    while True:
        buf = ctypes.create_string_buffer(cap)
        n = c_size_t(0)
        lib.logpack_capture_last_error(capture, buf, cap, byref(n))
        if n.value < cap - 4:  # not cut short (a cut never splits a UTF-8 character)
            return buf.raw[: n.value].decode("utf-8", "replace")
        cap *= 4


class Printer:
    """The writer callback: prints each whole ndjson record as it arrives."""

    def __init__(self):
        self.pending = b""
        self.records = 0
        self.error = None

    def __call__(self, _userdata, buf, n):
        # Runs on the thread that called logpack_capture_run_to_writer, with
        # the GIL held. An exception must not escape into C: report it and
        # return non-zero, which ends the capture with OUTPUT.
        try:
            self.pending += ctypes.string_at(buf, n)
            *lines, self.pending = self.pending.split(b"\n")
            for line in lines:
                record = json.loads(line)  # every record is valid JSON
                sys.stdout.write(json.dumps(record, separators=(",", ":")) + "\n")
                self.records += 1
            sys.stdout.flush()
            return 0
        except Exception as e:  # noqa: BLE001 - reported after the run
            self.error = e
            return 1


def check(capture, what, code):
    if code != OK:
        print(f"capture.py: {what}: {result_name(code)}: {last_error(capture)}", file=sys.stderr)
        sys.exit(1)


def main(argv):
    if not 2 <= len(argv) <= 4:
        print(f"usage: {argv[0]} REQUEST [SECONDS [LEVEL]]", file=sys.stderr)
        return 1
    request_path = argv[1]
    seconds = int(argv[2]) if len(argv) > 2 else 30
    level = argv[3].encode() if len(argv) > 3 else b""
    with open(request_path, "rb") as f:
        request = f.read()
    base_dir = os.fsencode(os.path.dirname(os.path.abspath(request_path)))

    print(f"logpack {lib.logpack_version_string().decode()}", file=sys.stderr)
    capture = lib.logpack_capture_new()
    if not capture:
        print("logpack_capture_new failed", file=sys.stderr)
        return 1
    token = None
    try:
        # Set the base dir first: set_request validates relative paths against it.
        check(capture, "set_base_dir",
              lib.logpack_capture_set_base_dir(capture, base_dir, len(base_dir)))
        check(capture, "set_request", lib.logpack_capture_set_request(capture, request, len(request)))
        check(capture, "set_duration", lib.logpack_capture_set_duration(capture, seconds))
        check(capture, "set_level", lib.logpack_capture_set_level(capture, level, len(level)))
        check(capture, "set_format",
              lib.logpack_capture_set_format(capture, CAPTURE_FORMAT_NDJSON))
        token = lib.logpack_capture_cancel_token(capture)
        if not token:
            print("logpack_capture_cancel_token failed", file=sys.stderr)
            return 1

        printer = Printer()
        callback = WRITE_FN(printer)  # keep a reference: C holds only the pointer
        result = {}

        def run():
            result["code"] = lib.logpack_capture_run_to_writer(capture, callback, None)

        worker = threading.Thread(target=run, name="logpack-capture")
        worker.start()
        # Ctrl-C reaches this (main) thread; the token ends the capture from here.
        try:
            while worker.is_alive():
                worker.join(0.2)
        except KeyboardInterrupt:
            lib.logpack_cancel_token_cancel(token)
            worker.join()
        code = result.get("code", -1)
        del callback  # only after the run: the capture never calls it again

        if printer.error is not None:
            print(f"capture.py: a record: {printer.error}", file=sys.stderr)
        if code != OK:
            print(f"capture.py: {result_name(code)}: {last_error(capture)}", file=sys.stderr)
            return 4 if code == BUSY else 1
        entries, filtered, files = c_uint64(), c_uint64(), c_uint64()
        lib.logpack_capture_counts(capture, byref(entries), byref(filtered), byref(files))
        print(f"capture.py: {printer.records} records ({entries.value} entries from "
              f"{files.value} files, {filtered.value} below the level)", file=sys.stderr)
        return 0
    finally:
        lib.logpack_cancel_token_free(token)  # NULL (None) is a no-op
        lib.logpack_capture_free(capture)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
