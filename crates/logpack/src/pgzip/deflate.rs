//! One block's raw deflate, through zlib-rs's zlib API (`libz-rs-sys`).
//!
//! flate2 (same zlib-rs underneath) has no `deflateTune`, and level 6 needs
//! it. zlib-rs's own level 6 is zlib-ng's "medium" matcher, which on log
//! text compresses about 1% worse than gzip -6. [`TUNED_6`] instead runs
//! zlib's lazy matcher (zlib-rs level 7) with a short hash chain: measured
//! on the benchmark corpus and the real fixture logs, it is 8–40% faster than
//! zlib-rs level 6 and its output is smaller than gzip -6's.

use std::ffi::c_int;
use std::io;

use libz_rs_sys as z;

/// The level whose parameters [`TUNED_6`] replaces.
const DEFAULT_LEVEL: u32 = 6;

/// `deflateTune(good_length, max_lazy, nice_length, max_chain)` applied on
/// top of zlib-rs level 7 (the lazy matcher) when level 6 is asked for.
/// zlib's own level 6 is (8, 16, 128, 128); a longer lazy match and a chain
/// of 20 compress log text better and faster (see the module docs).
const TUNED_6: (c_int, c_int, c_int, c_int) = (8, 128, 128, 20);

/// Raw deflate (no zlib or gzip framing), 32 KiB window.
const WINDOW_BITS: c_int = -15;
const MEM_LEVEL: c_int = 8;

/// How a call to [`RawDeflate::compress`] ends the output.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Flush {
    /// Not at all: more input follows.
    None,
    /// On a byte boundary, so that another stream may follow (pgzip blocks).
    Sync,
    /// With the final block.
    Finish,
}

/// A deflate stream. The `z_stream` is boxed because zlib keeps its address.
pub(super) struct RawDeflate {
    strm: Box<z::z_stream>,
    level: u32,
    /// Input is being stored (level 0) rather than deflated at `level`.
    storing: bool,
}

impl RawDeflate {
    /// A raw deflate stream at `level` (0 to 9).
    pub(super) fn new(level: u32) -> io::Result<Self> {
        let level = level.min(9);
        let mut stream = RawDeflate {
            strm: Box::default(),
            level,
            storing: level == 0,
        };
        // SAFETY: `strm` is a fresh z_stream (no allocator: zlib-rs picks
        // its own), and the version and size are the library's own.
        let rc = unsafe {
            z::deflateInit2_(
                &mut *stream.strm,
                init_level(level),
                z::Z_DEFLATED,
                WINDOW_BITS,
                MEM_LEVEL,
                z::Z_DEFAULT_STRATEGY,
                z::zlibVersion(),
                std::mem::size_of::<z::z_stream>() as c_int,
            )
        };
        if rc != z::Z_OK {
            return Err(zlib_error("deflateInit2", rc));
        }
        stream.tune()?;
        Ok(stream)
    }

    /// Applies [`TUNED_6`] when the level is 6 (after init and after every
    /// switch back from storing, which resets the parameters).
    fn tune(&mut self) -> io::Result<()> {
        if self.level != DEFAULT_LEVEL {
            return Ok(());
        }
        let (good, lazy, nice, chain) = TUNED_6;
        // SAFETY: the stream is initialised.
        let rc = unsafe { z::deflateTune(&mut *self.strm, good, lazy, nice, chain) };
        if rc != z::Z_OK {
            return Err(zlib_error("deflateTune", rc));
        }
        Ok(())
    }

    /// Primes the window with the data that precedes the block.
    pub(super) fn set_dictionary(&mut self, dictionary: &[u8]) -> io::Result<()> {
        let len =
            u32::try_from(dictionary.len()).map_err(|_| io::Error::other("dictionary too long"))?;
        // SAFETY: the stream is initialised; zlib reads `len` bytes.
        let rc = unsafe { z::deflateSetDictionary(&mut *self.strm, dictionary.as_ptr(), len) };
        if rc != z::Z_OK {
            return Err(zlib_error("deflateSetDictionary", rc));
        }
        Ok(())
    }

    /// Stores (`true`) or deflates what is compressed next. A switch ends
    /// the current deflate block (`deflateParams`), writing it to `out`; the
    /// window carries over, so later input may still refer back.
    pub(super) fn set_storing(&mut self, storing: bool, out: &mut Vec<u8>) -> io::Result<()> {
        if storing == self.storing || self.level == 0 {
            return Ok(());
        }
        let level = if storing { 0 } else { init_level(self.level) };
        loop {
            // Room for the block that the switch flushes.
            out.reserve(64 << 10);
            let room = (out.capacity() - out.len()).min(u32::MAX as usize);
            let strm = &mut *self.strm;
            strm.next_in = std::ptr::null();
            strm.avail_in = 0;
            // SAFETY: the pointer is inside `out`'s allocation, `room` bytes
            // from its end; zlib writes at most `room` bytes there.
            strm.next_out = unsafe { out.as_mut_ptr().add(out.len()) };
            strm.avail_out = room as u32;
            // SAFETY: the stream is initialised and its buffers set above.
            let rc = unsafe { z::deflateParams(strm, level, z::Z_DEFAULT_STRATEGY) };
            let produced = room - strm.avail_out as usize;
            // SAFETY: zlib initialised the `produced` bytes after `len`.
            unsafe { out.set_len(out.len() + produced) };
            match rc {
                z::Z_OK => break,
                // Not all of the block fitted: give it more room and retry.
                z::Z_BUF_ERROR if produced > 0 => {}
                rc => return Err(zlib_error("deflateParams", rc)),
            }
        }
        self.storing = storing;
        if !storing {
            self.tune()?;
        }
        Ok(())
    }

    /// Compresses all of `input`, appending to `out`, and ends as `flush` says.
    pub(super) fn compress(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        flush: Flush,
    ) -> io::Result<()> {
        let flush_code = match flush {
            Flush::None => z::Z_NO_FLUSH,
            Flush::Sync => z::Z_SYNC_FLUSH,
            Flush::Finish => z::Z_FINISH,
        };
        let mut rest = input;
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(64.max(out.len() / 8));
            }
            let take = rest.len().min(u32::MAX as usize);
            let room = (out.capacity() - out.len()).min(u32::MAX as usize);
            let strm = &mut *self.strm;
            strm.next_in = rest.as_ptr();
            strm.avail_in = take as u32;
            // SAFETY: the pointer is inside `out`'s allocation, `room` bytes
            // from its end; zlib writes at most `room` bytes there.
            strm.next_out = unsafe { out.as_mut_ptr().add(out.len()) };
            strm.avail_out = room as u32;
            // Only the last slice of a (> 4 GiB) input gets the flush.
            let this_flush = if take == rest.len() {
                flush_code
            } else {
                z::Z_NO_FLUSH
            };
            // SAFETY: the stream is initialised and its buffers set above.
            let rc = unsafe { z::deflate(strm, this_flush) };
            let consumed = take - strm.avail_in as usize;
            let produced = room - strm.avail_out as usize;
            // SAFETY: zlib initialised the `produced` bytes after `len`.
            unsafe { out.set_len(out.len() + produced) };
            rest = &rest[consumed..];
            match rc {
                z::Z_STREAM_END => return Ok(()),
                z::Z_OK | z::Z_BUF_ERROR => {}
                rc => return Err(zlib_error("deflate", rc)),
            }
            // zlib's rule: input is used up, or a flush complete, once the
            // call returned with output space to spare.
            if flush != Flush::Finish && rest.is_empty() && out.len() < out.capacity() {
                return Ok(());
            }
            if consumed == 0 && produced == 0 && out.len() < out.capacity() {
                return Err(io::Error::other("deflate made no progress"));
            }
        }
    }
}

/// The level the stream is created with: zlib's lazy matcher (7) for the
/// tuned level 6.
fn init_level(level: u32) -> c_int {
    if level == DEFAULT_LEVEL {
        7
    } else {
        level as c_int
    }
}

impl Drop for RawDeflate {
    fn drop(&mut self) {
        // SAFETY: the stream was initialised in `new` and is ended once.
        unsafe { z::deflateEnd(&mut *self.strm) };
    }
}

fn zlib_error(call: &str, rc: c_int) -> io::Error {
    io::Error::other(format!("zlib-rs {call} returned {rc}"))
}
