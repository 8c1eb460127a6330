//! A retry: collect the FAILURE children again, as bare fragments, then
//! compose the new archive from the old archive's SUCCESS fragments (byte
//! copies: those logs may have rotated away since) and the new ones, in the
//! old order, with the manifest's children replaced one by one.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use jiff::Timestamp;

use crate::archive::index::fragment_reader;
use crate::archive::{ArchiveWriter, Finish, Format, Written};
use crate::compose::{ChildSummary, Source};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::manifest::{timestamp_string, Manifest, Status, MANIFEST_NAME};
use crate::output::Output;
use crate::request::Request;
use crate::run::RunSpec;

use super::Summary;

/// Retries: reads the previous run's `archive` and writes the new one to
/// `sink` (the store renames it into place).
pub(crate) fn run(
    engine: &Engine,
    request: &Request,
    mut spec: RunSpec<'_>,
    archive: &Path,
    scratch: &Path,
    sink: &mut dyn Write,
) -> Result<Summary> {
    let old = Source::open(archive)?;
    let failed: Vec<usize> = (0..old.children().len())
        .filter(|&i| old.children()[i].status == Status::Failure)
        .collect();
    let keys: Vec<(String, String)> = failed
        .iter()
        .map(|&i| {
            let c = &old.children()[i];
            (c.path.clone(), c.log_collection_type.clone())
        })
        .collect();

    let mut fresh = tempfile::tempfile_in(scratch).map_err(Error::Scratch)?;
    spec.only = Some(keys);
    spec.finish = Finish::Fragments;
    spec.format = Some(Format::TarGz);
    let report = engine.run(request, Output::Writer(&mut fresh), spec)?;
    let index = report
        .index
        .ok_or_else(|| Error::Scratch(io::Error::other("a retry's fragments have no index")))?;
    let new = &report.manifest.child_jobs;
    // Which new child replaces each old one.
    let replacement = |i: usize| -> Option<usize> {
        let c = &old.children()[i];
        failed.contains(&i).then(|| {
            new.iter()
                .position(|n| n.path == c.path && n.log_collection_type == c.log_collection_type)
        })?
    };

    let mut children: Vec<ChildSummary> = Vec::with_capacity(old.children().len());
    for (i, c) in old.children().iter().enumerate() {
        children.push(match replacement(i) {
            Some(j) => ChildSummary::from(&new[j]),
            None => c.clone(),
        });
    }
    let failed_now = children.iter().any(|c| c.status == Status::Failure);
    let size_total = children
        .iter()
        .map(|c| c.uncompressed_disk_space_bytes)
        .sum();
    let size_limit_hit = old.manifest().size_limit_hit || report.manifest.size_limit_hit;
    let status = if failed_now {
        Status::Failure
    } else {
        Status::Success
    };
    let head = Manifest::<ChildSummary> {
        status,
        finish_date: timestamp_string(Timestamp::now()),
        uncompressed_size_total_bytes: size_total,
        size_limit_hit,
        child_jobs: Vec::new(),
        ..old.manifest().clone()
    };

    let fail = |source: io::Error| Error::Output {
        target: archive.display().to_string(),
        source,
    };
    {
        let mut w =
            ArchiveWriter::new(sink, Format::TarGz, 6, 1, None, Finish::Archive).map_err(fail)?;
        for (i, f) in old.fragments().iter().enumerate() {
            let (file, fragment) = match replacement(i) {
                Some(j) => (&fresh, &index.children[j]),
                None => (old.file(), f),
            };
            append(&mut w, file, fragment).map_err(fail)?;
        }
        let mtime = Timestamp::now().as_second().max(0) as u64;
        w.append_streamed(MANIFEST_NAME, mtime, |out| {
            write_manifest(&head, &old, new, &replacement, out)
        })
        .map_err(fail)?;
        let Written { out, .. } = w.finish().map_err(fail)?;
        out.flush().map_err(fail)?;
    }
    // Let the write above be the only use of the temporary fragments.
    fresh.flush().map_err(Error::Scratch)?;
    Ok(Summary {
        status,
        children: serde_json::to_string(&children).unwrap_or_else(|_| "[]".into()),
        size_total,
        size_limit_hit,
    })
}

fn append<W: Write>(
    w: &mut ArchiveWriter<'_, W>,
    file: &File,
    fragment: &crate::archive::index::Fragment,
) -> io::Result<()> {
    w.append_fragment(&mut fragment_reader(file, fragment), fragment)
}

/// The retried manifest: the old one's head with the new totals, its
/// children copied as they stream by, each retried one replaced by the new
/// run's (pretty-printed at the depth of an element of `childJobs`).
fn write_manifest(
    head: &Manifest<ChildSummary>,
    old: &Source,
    new: &[crate::manifest::ChildJob<
        crate::manifest::Spilled<crate::manifest::FileRecord>,
        crate::manifest::Spilled<crate::walk::Skipped>,
    >],
    replacement: &dyn Fn(usize) -> Option<usize>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let text = serde_json::to_vec_pretty(head)?;
    let open = text
        .strip_suffix(b"[]\n}")
        .ok_or_else(|| io::Error::other("internal error: childJobs is not last"))?;
    out.write_all(open)?;
    out.write_all(b"[")?;
    let mut any = false;
    old.copy_children(out, &mut any, &mut |i, w| match replacement(i) {
        Some(j) => {
            serde_json::to_writer_pretty(Indent(w), &new[j])?;
            Ok(true)
        }
        None => Ok(false),
    })?;
    out.write_all(if any { b"\n  ]\n}" } else { b"]\n}" })
}

/// Indents what goes through it by two levels: JSON strings hold no raw
/// newline, so every newline starts a new line of the document.
struct Indent<'w>(&'w mut dyn Write);

impl Write for Indent<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for (k, line) in buf.split(|&b| b == b'\n').enumerate() {
            if k > 0 {
                self.0.write_all(b"\n    ")?;
            }
            self.0.write_all(line)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}
