//! Where the archive goes, and the atomic write that leaves nothing behind
//! on failure.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The destination of an archive.
pub enum Output<'a> {
    /// A file, or an existing directory to hold the default name
    /// (`logs_<name>_<YYYYMMDDTHHMMSSZ>.tar.gz`). The archive is written to a
    /// temporary file (mode 0600) in the same directory, fsynced, renamed into
    /// place, and the directory is fsynced. On any error nothing is left.
    Path(PathBuf),
    /// Any stream, e.g. stdout. On error the stream is cut off without the
    /// compressor's trailer, so a reader cannot mistake it for a whole archive.
    Writer(&'a mut dyn Write),
}

impl Output<'_> {
    /// Resolves the final path for [`Output::Path`].
    pub fn resolve(path: &Path, default_name: &str) -> PathBuf {
        if path.is_dir() || path.as_os_str().to_string_lossy().ends_with('/') {
            path.join(default_name)
        } else {
            path.to_path_buf()
        }
    }

    /// Runs `write` into this output; returns what it returned and, for a
    /// path, where the archive went.
    pub(crate) fn write_with<T>(
        self,
        default_name: &str,
        write: impl FnOnce(&mut dyn Write) -> Result<(T, &mut dyn Write)>,
    ) -> Result<(T, Option<PathBuf>)> {
        match self {
            Output::Writer(w) => {
                let (made, w) = write(w)?;
                w.flush().map_err(|source| Error::Output {
                    target: "<writer>".into(),
                    source,
                })?;
                Ok((made, None))
            }
            Output::Path(path) => {
                let target = Output::resolve(&path, default_name);
                let made = write_atomically(&target, write)?;
                Ok((made, Some(target)))
            }
        }
    }
}

fn write_atomically<T>(
    target: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<(T, &mut dyn Write)>,
) -> Result<T> {
    let fail = |source: std::io::Error| Error::Output {
        target: target.display().to_string(),
        source,
    };
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // The temporary file is created 0600 and removed when dropped, so every
    // early return below leaves nothing behind.
    let temp = tempfile::Builder::new()
        .prefix(".logpack-")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(fail)?;
    let mut buffered = BufWriter::with_capacity(
        256 * 1024,
        WriteBehind {
            file: temp,
            written: 0,
            started: 0,
        },
    );
    let made = match write(&mut buffered) {
        Ok((made, _)) => made,
        Err(Error::Output { source, .. }) => return Err(fail(source)),
        Err(e) => return Err(e),
    };
    let temp = buffered
        .into_inner()
        .map_err(|e| fail(e.into_error()))?
        .file;
    temp.as_file().sync_all().map_err(fail)?;
    temp.persist(target).map_err(|e| fail(e.error))?;
    File::open(&dir).and_then(|d| d.sync_all()).map_err(fail)?;
    Ok(made)
}

/// Starts the disk write of each few MiB of the archive as soon as they are
/// written, so that the fsync at the end waits for the last few only, not
/// for the whole archive (about 8% of a 1 GiB collection otherwise).
struct WriteBehind {
    file: tempfile::NamedTempFile,
    written: u64,
    /// Where the write-back started last.
    started: u64,
}

/// How much is written before its write-back is started.
const WRITE_BEHIND: u64 = 8 << 20;

impl Write for WriteBehind {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.started >= WRITE_BEHIND {
            start_write_back(
                self.file.as_file(),
                self.started,
                self.written - self.started,
            );
            self.started = self.written;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Asks the kernel to start writing a range to disk without waiting for it.
/// Only a hint: the fsync at the end is what makes the archive durable.
#[cfg(target_os = "linux")]
fn start_write_back(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is valid while `file` lives; the call touches
    // no memory of ours.
    unsafe {
        libc::sync_file_range(
            file.as_raw_fd(),
            offset as libc::off64_t,
            len as libc::off64_t,
            libc::SYNC_FILE_RANGE_WRITE,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn start_write_back(_file: &File, _offset: u64, _len: u64) {}
