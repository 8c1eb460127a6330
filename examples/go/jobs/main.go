// Command jobs runs a log collection job through logpack's job store (C ABI),
// linked statically:
//
//	cargo build --release                    # at the repository root
//	cd examples/go && go run ./jobs SPOOL REQUEST OUT  # paths relative to examples/go
//
// It opens (or creates) the job store in the directory SPOOL, creates a job
// for REQUEST (relative paths resolve against the request file's
// directory), waits for it, downloads its archive to OUT (a file, or a
// directory to hold the job's archive name) and prints the job's JSON, the
// Ops Manager resource. It exits 0 when the job is SUCCESS, 3 when it is
// FAILURE, 4 when the store refuses (e.g. RATE_LIMITED) and 1 otherwise,
// like `logpack jobs create`.
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../../../include
#cgo LDFLAGS: ${SRCDIR}/../../../target/release/liblogpack.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
#include "logpack.h"
*/
import "C"

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
	"unsafe"
)

// Error is a logpack_result other than OK, with the store's last error,
// which starts with the Ops Manager code for a refusal
// ("EXPIRATION_DATE_MUST_BE_IN_FUTURE: ...").
type Error struct {
	Op      string
	Code    C.enum_logpack_result
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Op, resultName(e.Code), e.Message)
}

// Refused is true for the store's refusals, which carry an Ops Manager
// code: RATE_LIMITED (BUSY), LOG_COLLECTION_JOB_NOT_FOUND_IN_GROUP
// (NOT_FOUND) and those of the job's state or the date asked for (REFUSED).
func (e *Error) Refused() bool {
	switch e.Code {
	case C.LOGPACK_RESULT_BUSY, C.LOGPACK_RESULT_NOT_FOUND, C.LOGPACK_RESULT_REFUSED:
		return true
	}
	return false
}

func resultName(r C.enum_logpack_result) string {
	return C.GoString(C.logpack_result_name(C.uint(r)))
}

var empty [1]byte

// cbytes passes a Go byte slice as (pointer, length): allowed by the cgo
// rules, since the bytes hold no Go pointers and logpack keeps no reference.
func cbytes(b []byte) (*C.char, C.size_t) {
	if len(b) == 0 {
		return (*C.char)(unsafe.Pointer(&empty[0])), 0
	}
	return (*C.char)(unsafe.Pointer(&b[0])), C.size_t(len(b))
}

// Store is a job store handle. Its calls are serialized inside logpack;
// use it from one goroutine at a time so that an error is read right after
// the call that made it (or open one Store per goroutine: they see the
// same jobs).
type Store struct {
	h *C.logpack_store
}

// Open opens (or creates) the store in the directory spool.
func Open(spool string) (*Store, error) {
	h := C.logpack_store_new()
	if h == nil {
		return nil, errors.New("logpack_store_new failed")
	}
	s := &Store{h}
	p, n := cbytes([]byte(spool))
	if err := s.check("open", C.logpack_store_open(h, p, n)); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close frees the handle, after waiting for the jobs it started to end.
func (s *Store) Close() {
	C.logpack_store_free(s.h)
	s.h = nil
}

// lastError reads the store's last error. logpack keeps it in the handle,
// not in a thread-local: this goroutine may have moved to another OS
// thread since the call that failed.
func (s *Store) lastError() string {
	for size := 1024; ; size *= 4 {
		buf := make([]byte, size)
		var n C.size_t
		C.logpack_store_last_error(s.h, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(size), &n)
		if int(n) < size-4 { // not cut short (a cut never splits a UTF-8 character)
			return string(buf[:n])
		}
	}
}

func (s *Store) check(op string, r C.enum_logpack_result) error {
	if r == C.LOGPACK_RESULT_OK {
		return nil
	}
	return &Error{Op: op, Code: r, Message: s.lastError()}
}

// take copies a string that logpack handed out, then frees it.
func take(p *C.char, n C.size_t) []byte {
	defer C.logpack_string_free(p)
	return C.GoBytes(unsafe.Pointer(p), C.int(n))
}

// Create records a job and starts it in the background; it returns the
// job's id at once.
func (s *Store) Create(request []byte, baseDir string) (string, error) {
	rp, rn := cbytes(request)
	bp, bn := cbytes([]byte(baseDir))
	var id *C.char
	var n C.size_t
	if err := s.check("create", C.logpack_store_create(s.h, rp, rn, bp, bn, &id, &n)); err != nil {
		return "", err
	}
	return string(take(id, n)), nil
}

// Wait returns the job's JSON once it is no longer IN_PROGRESS, or when
// the timeout has passed.
func (s *Store) Wait(id string, timeout time.Duration) ([]byte, error) {
	ip, in := cbytes([]byte(id))
	var js *C.char
	var n C.size_t
	ms := C.uint64_t(timeout.Milliseconds())
	if err := s.check("wait", C.logpack_store_wait(s.h, ip, in, ms, &js, &n)); err != nil {
		return nil, err
	}
	return take(js, n), nil
}

// Get returns the job's JSON (with childJobs when verbose).
func (s *Store) Get(id string, verbose bool) ([]byte, error) {
	ip, in := cbytes([]byte(id))
	v := C.int(0)
	if verbose {
		v = 1
	}
	var js *C.char
	var n C.size_t
	if err := s.check("get", C.logpack_store_get(s.h, ip, in, v, &js, &n)); err != nil {
		return nil, err
	}
	return take(js, n), nil
}

// Download copies the job's archive to out (a file, or a directory to
// hold the job's archive name).
func (s *Store) Download(id, out string) error {
	ip, in := cbytes([]byte(id))
	op, on := cbytes([]byte(out))
	return s.check("download", C.logpack_store_download_to_path(s.h, ip, in, op, on))
}

func main() {
	os.Exit(run())
}

func run() int {
	if len(os.Args) != 4 {
		fmt.Fprintf(os.Stderr, "usage: %s SPOOL REQUEST OUT\n", os.Args[0])
		return 1
	}
	spool, requestPath, out := os.Args[1], os.Args[2], os.Args[3]
	request, err := os.ReadFile(requestPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	abs, err := filepath.Abs(requestPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "logpack %s (header %s)\n",
		C.GoString(C.logpack_version_string()), C.LOGPACK_VERSION_STRING)

	code, err := collect(spool, request, filepath.Dir(abs), out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "jobs:", err)
		var e *Error
		if errors.As(err, &e) && e.Refused() {
			return 4
		}
		return 1
	}
	return code
}

func collect(spool string, request []byte, baseDir, out string) (int, error) {
	store, err := Open(spool)
	if err != nil {
		return 1, err
	}
	defer store.Close()
	id, err := store.Create(request, baseDir)
	if err != nil {
		return 1, err
	}
	fmt.Fprintf(os.Stderr, "job %s created\n", id)
	waited, err := store.Wait(id, time.Hour)
	if err != nil {
		return 1, err
	}
	var job struct{ Status string }
	if err := json.Unmarshal(waited, &job); err != nil {
		return 1, err
	}
	if job.Status != "IN_PROGRESS" {
		if err := store.Download(id, out); err != nil {
			return 1, err
		}
		fmt.Fprintf(os.Stderr, "job %s: %s -> %s\n", id, job.Status, out)
	}
	resource, err := store.Get(id, false)
	if err != nil {
		return 1, err
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, resource, "", "  "); err != nil {
		return 1, err
	}
	fmt.Println(pretty.String())
	switch job.Status {
	case "SUCCESS":
		return 0, nil
	case "FAILURE":
		return 3, nil
	default:
		return 1, nil
	}
}
