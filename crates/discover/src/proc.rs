//! Reading `/proc` (or a tree laid out like it): the processes, their
//! command lines, executable names, owners and working directories.
//!
//! Every read can fail in three ways that matter: the process is gone (it
//! exited between the directory listing and the read: `ENOENT`, or `ESRCH`
//! from a half-dead task), the reader may not look (another user's process:
//! `EACCES`/`EPERM`), or something else. [`Gone`](ReadError::Gone) and
//! [`Denied`](ReadError::Denied) are expected on a live host and are
//! reported by the caller, never propagated as a failure.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// Why a `/proc` file could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The process exited while it was being read.
    Gone,
    /// Another user's process: the reader may not look.
    Denied,
    /// Anything else, with the error.
    Other(io::Error),
}

impl ReadError {
    fn from_io(e: io::Error) -> ReadError {
        match e.kind() {
            io::ErrorKind::NotFound => ReadError::Gone,
            io::ErrorKind::PermissionDenied => ReadError::Denied,
            // ESRCH: the task is being torn down.
            _ if e.raw_os_error() == Some(libc::ESRCH) => ReadError::Gone,
            _ => ReadError::Other(e),
        }
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Gone => f.write_str("the process exited while it was being read"),
            ReadError::Denied => f.write_str("permission denied"),
            ReadError::Other(e) => write!(f, "{e}"),
        }
    }
}

/// One process directory, `PROC/<pid>`.
pub(crate) struct Proc {
    pub pid: u32,
    dir: PathBuf,
}

/// Every numeric entry of `proc_root`, in pid order (oldest first, which
/// makes "keep the first" keep the process that was there first).
pub(crate) fn list(proc_root: &Path) -> io::Result<Vec<Proc>> {
    let mut pids: Vec<u32> = fs::read_dir(proc_root)?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .collect();
    pids.sort_unstable();
    Ok(pids
        .into_iter()
        .map(|pid| Proc {
            pid,
            dir: proc_root.join(pid.to_string()),
        })
        .collect())
}

/// At most this much of one `/proc` file is read (a command line is capped
/// by the kernel's ARG_MAX, 2 MiB by default; this is a guard for fixture
/// trees and odd kernels, never a limit a real process reaches).
const MAX_PROC_FILE: u64 = 8 << 20;

impl Proc {
    fn read(&self, name: &str) -> Result<Vec<u8>, ReadError> {
        use std::io::Read;
        let file = fs::File::open(self.dir.join(name)).map_err(ReadError::from_io)?;
        let mut buf = Vec::new();
        file.take(MAX_PROC_FILE)
            .read_to_end(&mut buf)
            .map_err(ReadError::from_io)?;
        Ok(buf)
    }

    /// The executable's name as the kernel keeps it (`comm`: at most 15
    /// bytes, from the file name that was executed).
    pub fn comm(&self) -> Result<String, ReadError> {
        let raw = self.read("comm")?;
        let text = String::from_utf8_lossy(&raw);
        Ok(text.strip_suffix('\n').unwrap_or(&text).to_string())
    }

    /// The arguments, NUL-separated in `cmdline`. Empty for a kernel thread
    /// and for a zombie (a process that has exited but not been reaped).
    pub fn cmdline(&self) -> Result<Vec<OsString>, ReadError> {
        let raw = self.read("cmdline")?;
        let raw = raw.strip_suffix(b"\0").unwrap_or(&raw);
        if raw.is_empty() {
            return Ok(Vec::new());
        }
        Ok(raw
            .split(|&b| b == 0)
            .map(|a| OsString::from_vec(a.to_vec()))
            .collect())
    }

    /// The real uid and whether the process is a zombie, from `status`.
    pub fn status(&self) -> Result<Status, ReadError> {
        let raw = self.read("status")?;
        let text = String::from_utf8_lossy(&raw);
        let mut status = Status::default();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("Uid:") {
                status.uid = rest.split_whitespace().next().and_then(|u| u.parse().ok());
            } else if let Some(rest) = line.strip_prefix("State:") {
                status.zombie = rest.trim_start().starts_with('Z');
            }
        }
        Ok(status)
    }

    /// The working directory (`cwd` link). Relative paths on the command
    /// line and in the config file are relative to it.
    pub fn cwd(&self) -> Result<PathBuf, ReadError> {
        fs::read_link(self.dir.join("cwd")).map_err(ReadError::from_io)
    }

    /// The mount namespace (`ns/mnt` link, e.g. `mnt:[4026531841]`), when it
    /// can be read.
    pub fn mount_ns(&self) -> Option<OsString> {
        fs::read_link(self.dir.join("ns/mnt"))
            .ok()
            .map(PathBuf::into_os_string)
    }

    /// The directory through which the process's own view of the file
    /// system can be read (`root`), for a process in another mount
    /// namespace.
    pub fn root_dir(&self) -> PathBuf {
        self.dir.join("root")
    }
}

/// What `status` says.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Status {
    /// The real uid.
    pub uid: Option<u32>,
    /// `State: Z`.
    pub zombie: bool,
}

/// User names by uid, from `ETC/passwd` (a missing or unreadable file
/// leaves uids as numbers).
pub(crate) struct Users(Vec<(u32, String)>);

impl Users {
    pub fn load(etc_root: &Path) -> Users {
        let text = fs::read(etc_root.join("passwd")).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        Users(
            text.lines()
                .filter_map(|line| {
                    let mut fields = line.split(':');
                    let name = fields.next()?;
                    let uid = fields.nth(1)?.parse().ok()?;
                    (!name.is_empty()).then(|| (uid, name.to_string()))
                })
                .collect(),
        )
    }

    /// `name` for a known uid, `uid 1234` otherwise, `an unknown user`
    /// when the uid could not be read.
    pub fn name(&self, uid: Option<u32>) -> String {
        match uid {
            None => "an unknown user".to_string(),
            Some(uid) => self
                .0
                .iter()
                .find(|(u, _)| *u == uid)
                .map(|(_, n)| n.clone())
                .unwrap_or_else(|| format!("uid {uid}")),
        }
    }
}

/// The last component of an argv[0] (`/usr/bin/mongod` → `mongod`).
pub(crate) fn basename(arg0: &std::ffi::OsStr) -> String {
    let bytes = arg0.as_encoded_bytes();
    let last = bytes.rsplit(|&b| b == b'/').next().unwrap_or(bytes);
    String::from_utf8_lossy(last).into_owned()
}

/// The host name: `PROC/sys/kernel/hostname`, else `gethostname(2)`.
pub(crate) fn hostname(proc_root: &Path) -> Option<String> {
    if let Ok(raw) = fs::read(proc_root.join("sys/kernel/hostname")) {
        let name = String::from_utf8_lossy(&raw).trim().to_string();
        if !name.is_empty() {
            return Some(name);
        }
    }
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at
    // most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).trim().to_string();
    (!name.is_empty()).then_some(name)
}
