// Command collect collects a deployment's logs through logpack's C ABI,
// linked statically:
//
//	cargo build --release              # at the repository root
//	cd examples/go && go run . REQUEST OUT  # paths relative to examples/go
//
// Relative paths in the request resolve against the request file's
// directory. It prints the manifest status and the result name, and exits
// 0 for OK, 3 for PARTIAL and 1 otherwise, like `logpack collect`.
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: ${SRCDIR}/../../target/release/liblogpack.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
#include <stdint.h>
#include "logpack.h"

// Exported from progress.go.
extern int goProgress(void *userdata, uint64_t done, uint64_t total);

// A C function with logpack_progress_fn's exact type that forwards to Go.
static int progress_trampoline(void *userdata, uint64_t done, uint64_t total) {
	return goProgress(userdata, done, total);
}

// The handle becomes a void * here, in C, so Go never turns an integer into
// an unsafe.Pointer.
static enum logpack_result set_progress(logpack_job *job, uintptr_t handle) {
	return logpack_job_set_progress(job, progress_trampoline, (void *)handle);
}
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/cgo"
	"sync"
	"time"
	"unsafe"
)

// progress prints a line to stderr at most twice a second, and the last one.
type progress struct {
	last    time.Time
	printed uint64
}

func (p *progress) report(done, total uint64) bool {
	if now := time.Now(); (done == total && done != p.printed) || now.Sub(p.last) >= 500*time.Millisecond {
		p.last, p.printed = now, done
		pct := 100.0
		if total > 0 {
			pct = 100 * float64(done) / float64(total)
		}
		fmt.Fprintf(os.Stderr, "progress: %d/%d bytes (%.0f%%)\n", done, total, pct)
	}
	return true
}

func resultName(r C.enum_logpack_result) string {
	return C.GoString(C.logpack_result_name(C.uint(r)))
}

// lastError reads the job's last error. logpack keeps it in the job, not in
// a thread-local: this goroutine may have moved to another OS thread since
// the call that failed, and a thread-local (errno-style) message would then
// be lost or belong to someone else.
func lastError(job *C.logpack_job) string {
	for size := 1024; ; size *= 4 {
		buf := make([]byte, size)
		var n C.size_t
		C.logpack_job_last_error(job, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(size), &n)
		if int(n) < size-4 { // not cut short (a cut never splits a UTF-8 character)
			return string(buf[:n])
		}
	}
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

func main() {
	os.Exit(run())
}

func run() int {
	if len(os.Args) != 3 {
		fmt.Fprintf(os.Stderr, "usage: %s REQUEST OUT\n", os.Args[0])
		return 1
	}
	requestPath, out := os.Args[1], os.Args[2]
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
	baseDir := []byte(filepath.Dir(abs))

	fmt.Fprintf(os.Stderr, "logpack %s (header %s)\n",
		C.GoString(C.logpack_version_string()), C.LOGPACK_VERSION_STRING)
	job := C.logpack_job_new()
	if job == nil {
		fmt.Fprintln(os.Stderr, "logpack_job_new failed")
		return 1
	}
	defer C.logpack_job_free(job)

	check := func(what string, r C.enum_logpack_result) bool {
		if r != C.LOGPACK_RESULT_OK {
			fmt.Fprintf(os.Stderr, "%s: %s: %s\n", what, resultName(r), lastError(job))
			fmt.Printf("status: none (%s)\n", resultName(r))
			return false
		}
		return true
	}
	// The base dir first: set_request resolves relative paths against it.
	p, n := cbytes(baseDir)
	if !check("set_base_dir", C.logpack_job_set_base_dir(job, p, n)) {
		return 1
	}
	p, n = cbytes(request)
	if !check("set_request", C.logpack_job_set_request(job, p, n)) {
		return 1
	}
	handle := cgo.NewHandle(&progress{})
	defer handle.Delete() // after the run: the job never calls back again
	if !check("set_progress", C.set_progress(job, C.uintptr_t(handle))) {
		return 1
	}

	// Ctrl-C cancels through a token, from another goroutine (any thread).
	token := C.logpack_job_cancel_token(job)
	sigs, stop := make(chan os.Signal, 1), make(chan struct{})
	if !signal.Ignored(os.Interrupt) { // as in the background of a script
		signal.Notify(sigs, os.Interrupt)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-sigs:
			C.logpack_cancel_token_cancel(token)
		case <-stop:
		}
	}()

	// No runtime.LockOSThread: this goroutine stays on its OS thread for
	// the whole C call, and logpack calls goProgress back on that thread.
	p, n = cbytes([]byte(out))
	r := C.logpack_job_run_to_path(job, p, n)

	signal.Stop(sigs)
	close(stop)
	wg.Wait() // nobody uses the token any more
	C.logpack_cancel_token_free(token)

	var manifest *C.char
	var length C.size_t
	if (r == C.LOGPACK_RESULT_OK || r == C.LOGPACK_RESULT_PARTIAL) &&
		C.logpack_job_manifest(job, &manifest, &length) == C.LOGPACK_RESULT_OK {
		// Borrowed until logpack_job_free: C.GoBytes copies it.
		var m struct{ Status string }
		if err := json.Unmarshal(C.GoBytes(unsafe.Pointer(manifest), C.int(length)), &m); err != nil {
			fmt.Fprintln(os.Stderr, "manifest:", err)
			return 1
		}
		fmt.Printf("status: %s (%s) -> %s\n", m.Status, resultName(r), out)
	} else {
		fmt.Printf("status: none (%s)\n", resultName(r))
	}
	if r != C.LOGPACK_RESULT_OK {
		fmt.Fprintln(os.Stderr, "error:", lastError(job))
	}
	switch r {
	case C.LOGPACK_RESULT_OK:
		return 0
	case C.LOGPACK_RESULT_PARTIAL:
		return 3
	default:
		return 1
	}
}
