//! The panic boundary of every exported function.

use std::ffi::{c_char, c_int, c_void, OsStr};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use super::result::logpack_result;

/// What an exported function returns when a panic was caught.
pub(crate) trait PanicValue {
    fn on_panic() -> Self;
}

impl PanicValue for logpack_result {
    fn on_panic() -> Self {
        logpack_result::LOGPACK_RESULT_PANIC
    }
}

impl<T> PanicValue for *mut T {
    fn on_panic() -> Self {
        std::ptr::null_mut()
    }
}

impl<T> PanicValue for *const T {
    fn on_panic() -> Self {
        std::ptr::null()
    }
}

impl PanicValue for () {
    fn on_panic() -> Self {}
}

impl PanicValue for u32 {
    fn on_panic() -> Self {
        0
    }
}

/// Runs `f`; a panic becomes the type's failure value instead of unwinding
/// into C, which would abort the host.
pub(crate) fn guard<R: PanicValue>(f: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| R::on_panic())
}

/// Returns `NULL_PARAMETER` from the enclosing function when a pointer is NULL.
macro_rules! require {
    ($($p:expr),+) => {
        $(if $p.is_null() {
            return $crate::ffi::logpack_result::LOGPACK_RESULT_NULL_PARAMETER;
        })+
    };
}
pub(crate) use require;

/// The bytes of a `(ptr, len)` pair from C.
///
/// SAFETY: `ptr` is non-NULL (checked by the caller) and readable for `len`
/// bytes for as long as the slice is used.
pub(crate) unsafe fn bytes<'a>(ptr: *const c_char, len: usize) -> &'a [u8] {
    if len == 0 {
        &[]
    } else {
        std::slice::from_raw_parts(ptr.cast(), len)
    }
}

/// Forwards bytes to a `logpack_write_fn` and its userdata, which the
/// caller of the exported function keeps valid while it runs.
pub(crate) struct CallbackWriter {
    pub write: unsafe extern "C" fn(*mut c_void, *const u8, usize) -> c_int,
    pub userdata: *mut c_void,
}

impl Write for CallbackWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: the function and userdata come from the caller of the
        // exported function, which is still on the stack; `buf` is valid for
        // `buf.len()` bytes during the call.
        let rc = unsafe { (self.write)(self.userdata, buf.as_ptr(), buf.len()) };
        if rc != 0 {
            return Err(io::Error::other(format!(
                "the write callback returned {rc}"
            )));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A handle's `_last_error`: copies `message` into `buf` (at most `cap`
/// bytes, never splitting a character) and stores the count in
/// `*out_len`; with `buf` NULL and `cap` 0, stores the full length.
///
/// SAFETY: `out_len` is non-NULL; a non-NULL `buf` holds `cap` bytes.
pub(crate) unsafe fn copy_message(
    message: &str,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> logpack_result {
    if buf.is_null() && cap > 0 {
        return logpack_result::LOGPACK_RESULT_NULL_PARAMETER;
    }
    if buf.is_null() {
        *out_len = message.len();
        return logpack_result::LOGPACK_RESULT_OK;
    }
    let mut n = message.len().min(cap);
    while !message.is_char_boundary(n) {
        n -= 1;
    }
    if n > 0 {
        std::ptr::copy_nonoverlapping(message.as_ptr(), buf.cast(), n);
    }
    *out_len = n;
    logpack_result::LOGPACK_RESULT_OK
}

/// A base directory from C: it must be a readable directory; the error
/// names the path.
pub(crate) fn base_dir(dir: &[u8]) -> Result<PathBuf, String> {
    let path = PathBuf::from(OsStr::from_bytes(dir));
    match std::fs::metadata(&path) {
        Ok(m) if m.is_dir() => Ok(std::path::absolute(&path).unwrap_or(path)),
        Ok(_) => Err(format!("{}: not a directory", path.display())),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}
