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
    let mut buffered = BufWriter::with_capacity(256 * 1024, temp);
    let made = match write(&mut buffered) {
        Ok((made, _)) => made,
        Err(Error::Output { source, .. }) => return Err(fail(source)),
        Err(e) => return Err(e),
    };
    let temp = buffered.into_inner().map_err(|e| fail(e.into_error()))?;
    temp.as_file().sync_all().map_err(fail)?;
    temp.persist(target).map_err(|e| fail(e.error))?;
    File::open(&dir).and_then(|d| d.sync_all()).map_err(fail)?;
    Ok(made)
}
