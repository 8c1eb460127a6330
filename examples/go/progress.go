package main

// The Go side of the progress callback. A file that uses //export may only
// declare things in its preamble, so the C trampoline lives in main.go.

// #include <stdint.h>
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// goProgress is called by progress_trampoline (main.go), on the thread that
// called logpack_job_run_to_path, one call at a time. userdata is the
// cgo.Handle of a *progress, never a Go pointer. A non-zero return cancels.
//
//export goProgress
func goProgress(userdata unsafe.Pointer, done, total C.uint64_t) C.int {
	p := cgo.Handle(uintptr(userdata)).Value().(*progress)
	if p.report(uint64(done), uint64(total)) {
		return 0
	}
	return 1
}
