//! The panic boundary of every exported function.

use std::panic::{catch_unwind, AssertUnwindSafe};

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
