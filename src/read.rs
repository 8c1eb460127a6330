//! Reading one source file into bounded chunks for the writer.
//!
//! The size is fixed when the file is opened: that size goes into the tar
//! header, and exactly that many bytes follow. A file that grows is cut at
//! that size, one that shrinks (or fails mid-read) is padded with zeros, and
//! both are reported. Files are read with `read(2)`, never mapped: a live log
//! can be truncated under us, and a mapped page past the new end raises
//! SIGBUS, which would kill the host process.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use crossbeam_channel::Sender;
use sha2::{Digest, Sha256};

use crate::CancelToken;

/// Bytes per chunk message. Memory in flight is bounded by
/// `files in flight × (CHUNKS_PER_FILE + 1) × CHUNK_SIZE`.
pub(crate) const CHUNK_SIZE: usize = 256 * 1024;

/// Capacity of each file's chunk channel.
pub(crate) const CHUNKS_PER_FILE: usize = 4;

/// What a reader tells the writer about one file, in this order:
/// `Start`, `Data`*, `End` — or a single `Unavailable`.
pub(crate) enum Message {
    /// The file is open and its body will be exactly `size` bytes.
    Start { size: u64, mtime: u64 },
    /// The next bytes of the body.
    Data(Vec<u8>),
    /// The body is complete.
    End(ReadOutcome),
    /// Nothing will be archived for this file.
    Unavailable(Unavailable),
}

/// Why a planned file was not archived.
pub(crate) enum Unavailable {
    /// Removed between planning and reading (normal for rotated logs).
    Vanished,
    /// Became something other than a regular file.
    NotRegular(String),
    /// Could not be opened or stat'ed: the component fails.
    Failed(String),
}

/// The result of reading one file completely.
pub(crate) struct ReadOutcome {
    /// SHA-256 of the body as archived (padding included).
    pub sha256: String,
    /// Growth, shrinkage and similar remarks.
    pub notes: Vec<String>,
    /// A read error: the rest of the body is zero-filled and the component fails.
    pub error: Option<String>,
}

fn open_no_block(path: &Path) -> io::Result<File> {
    // O_NONBLOCK: should the path have become a FIFO since planning, opening
    // it must not wait for a writer. O_NOFOLLOW: planned paths are either
    // plain files or already-resolved symlink targets.
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_NOCTTY)
        .open(path)
}

/// Reads `path` and sends its messages on `tx`. Stops quietly when the
/// writer hangs up or the run is cancelled.
pub(crate) fn read_file(path: &Path, tx: &Sender<Message>, cancel: &CancelToken) {
    let send = |m| tx.send(m).is_ok();
    let mut file = match open_no_block(path) {
        Ok(f) => f,
        Err(e) => {
            let why = match e.kind() {
                io::ErrorKind::NotFound => Unavailable::Vanished,
                _ if e.raw_os_error() == Some(libc::ELOOP) => {
                    Unavailable::NotRegular("became a symlink after planning".into())
                }
                _ => Unavailable::Failed(format!("{}: {e}", path.display())),
            };
            send(Message::Unavailable(why));
            return;
        }
    };
    let meta = match file.metadata() {
        Ok(m) => m,
        Err(e) => {
            send(Message::Unavailable(Unavailable::Failed(format!(
                "{}: {e}",
                path.display()
            ))));
            return;
        }
    };
    if !meta.file_type().is_file() {
        send(Message::Unavailable(Unavailable::NotRegular(
            "became a non-regular file after planning".into(),
        )));
        return;
    }
    advise_sequential(&file);
    let size = meta.len();
    if !send(Message::Start {
        size,
        mtime: meta.mtime().max(0) as u64,
    }) {
        return;
    }

    let mut hasher = Sha256::new();
    let mut notes = Vec::new();
    let mut error = None;
    let mut padding = false; // once set, the rest of the body is zeros
    let mut done: u64 = 0;
    while done < size {
        if cancel.is_cancelled() {
            return;
        }
        let want = (size - done).min(CHUNK_SIZE as u64) as usize;
        let mut buf = vec![0u8; want];
        if !padding {
            match fill(&mut file, &mut buf) {
                Ok(got) if got < want => {
                    padding = true;
                    notes.push(format!(
                        "shrank to {} bytes during collection; zero-padded to the {size} bytes it had when opened",
                        done + got as u64
                    ));
                }
                Ok(_) => {}
                Err(e) => {
                    padding = true;
                    error = Some(format!(
                        "{}: read failed at offset {done}: {e}; the remaining {} bytes are zero-filled",
                        path.display(),
                        size - done
                    ));
                }
            }
        }
        // `buf` is zero past what was read.
        hasher.update(&buf);
        done += want as u64;
        if !send(Message::Data(buf)) {
            return;
        }
    }
    if !padding {
        if let Ok(now) = file.metadata().map(|m| m.len()) {
            if now > size {
                notes.push(format!(
                    "grew by {} bytes during collection; archived the first {size}",
                    now - size
                ));
            }
        }
    }
    send(Message::End(ReadOutcome {
        sha256: hex::encode(hasher.finalize()),
        notes,
        error,
    }));
}

/// Reads until `buf` is full or EOF; returns the bytes read.
fn fill(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn advise_sequential(file: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is valid for the lifetime of `file`; the call
    // only sets a read-ahead hint and touches no memory.
    unsafe {
        libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_SEQUENTIAL);
    }
}
