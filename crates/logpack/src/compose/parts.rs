//! Composing one archive from archives that live elsewhere (PRODUCT.md
//! §12), as the ordered parts of a multipart upload: ranges of the stored
//! archives that the store copies itself, and bytes made here.
//!
//! A range can be copied only if it is a whole part, and every part but
//! the last must be at least `min_part` bytes. So the archives whose
//! children's fragments reach `min_part` come first, each copied as one
//! range (the first from its byte 0: its gzip header, the same 10 bytes in
//! every logpack archive, becomes the composed archive's). The smaller
//! archives' fragments are fetched and written here into parts of at least
//! `min_part`; the last part ends with the new final fragment (the merged
//! manifest, the end blocks and the trailer, whose CRC-32 is combined from
//! the fragments') and the index. When no archive is large, the first part
//! is made here and starts with the header.
//!
//! The bytes of the copied ranges never pass through here: the archive
//! writer is given a stand-in of the right length whose bytes are dropped,
//! so that its offsets, CRC and index are those of the composed archive.

use std::io::{self, Write};

use jiff::Timestamp;

use super::{composed_head, copy_child_jobs, write_composed_manifest, ChildSummary};
use crate::archive::index::Index;
use crate::archive::{ArchiveWriter, Finish, Format};
use crate::error::{Error, Result};
use crate::manifest::{self, Manifest, MANIFEST_NAME};

/// One archive kept in a store: its index, and its `manifest.json` text.
#[derive(Debug, Clone)]
pub struct StoredArchive {
    /// How errors name it (its key in the store).
    pub name: String,
    /// Its index (PRODUCT.md §8).
    pub index: Index,
    /// Its `manifest.json`, as written in it.
    pub manifest: Vec<u8>,
}

impl StoredArchive {
    /// Reads an archive made by logpack (a host's, before it uploads it):
    /// its index and manifest, checked as `merge` checks its inputs.
    pub fn read(path: &std::path::Path) -> Result<StoredArchive> {
        let source = super::Source::open(path)?;
        let manifest = super::read_manifest(source.file(), &source.located, |body| {
            let mut text = Vec::new();
            io::Read::read_to_end(body, &mut text)?;
            Ok(text)
        })
        .map_err(|e| Error::BadArchive {
            path: path.to_path_buf(),
            message: format!("{MANIFEST_NAME}: {e}"),
        })?;
        Ok(StoredArchive {
            name: path.display().to_string(),
            index: source.located.index.clone(),
            manifest,
        })
    }
}

/// A part of the composed object, in upload order.
#[derive(Debug, PartialEq, Eq)]
pub enum Part {
    /// Bytes `start..end` of stored archive `source`, copied by the store.
    Copy {
        /// Index into the stored archives.
        source: usize,
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
    /// Bytes made here.
    Bytes(Vec<u8>),
}

/// What [`compose_parts`] did.
#[derive(Debug)]
pub struct Composition {
    /// The composed manifest, children summarized, in archive order.
    pub manifest: Manifest<ChildSummary>,
    /// Bytes the store copied.
    pub copied: u64,
    /// Bytes fetched from the stored archives.
    pub fetched: u64,
    /// Bytes of the parts made here.
    pub made: u64,
}

/// A stored archive's children's fragments as one range, checked.
struct Span {
    source: usize,
    start: u64,
    end: u64,
    manifest: Manifest<ChildSummary>,
}

fn span(source: usize, a: &StoredArchive) -> Result<Span> {
    let bad = |m: String| Error::BadArchive {
        path: a.name.clone().into(),
        message: m,
    };
    if a.index.format != Format::TarGz.extension() {
        return Err(bad(format!(
            "it is {}; archives are composed in a store as tar.gz only",
            a.index.format
        )));
    }
    let manifest: Manifest<ChildSummary> =
        serde_json::from_slice(&a.manifest).map_err(|e| bad(format!("{MANIFEST_NAME}: {e}")))?;
    super::children_match(&manifest, &a.index).map_err(bad)?;
    let start = crate::pgzip::GZIP_HEADER_LEN;
    let mut end = start;
    for f in &a.index.children {
        if f.offset != end || f.crc32.is_none() {
            return Err(bad(format!(
                "index: the fragment of {} does not follow the one before it",
                f.path.as_deref().unwrap_or("?")
            )));
        }
        end = f.end();
    }
    if a.index.last.offset != end {
        return Err(bad(
            "index: the final fragment does not follow the children".into(),
        ));
    }
    Ok(Span {
        source,
        start,
        end,
        manifest,
    })
}

/// Collects what the archive writer writes into parts of at least
/// `min_part` bytes, and drops what it writes while `standing_in`.
struct PartSink<'e> {
    buf: Vec<u8>,
    min_part: usize,
    standing_in: bool,
    made: u64,
    emit: &'e mut dyn FnMut(Part) -> io::Result<()>,
}

impl PartSink<'_> {
    fn send(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            let part = std::mem::take(&mut self.buf);
            self.made += part.len() as u64;
            (self.emit)(Part::Bytes(part))?;
        }
        Ok(())
    }
}

impl Write for PartSink<'_> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        if !self.standing_in {
            self.buf.extend_from_slice(b);
            if self.buf.len() >= self.min_part {
                self.send()?;
            }
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Composes `stored` (one archive per host, say) and `missing` (children
/// of hosts that failed or never reported, recorded as they are, with no
/// entries) into one tar.gz, handed to `emit` part by part. `fetch(i, a,
/// b)` returns bytes `a..b` of stored archive `i`; it is called only for
/// archives whose children's fragments are under `min_part` bytes.
/// `template` gives the request's fields for the manifest.
pub fn compose_parts(
    stored: &[StoredArchive],
    missing: &[ChildSummary],
    template: &Manifest<ChildSummary>,
    min_part: u64,
    fetch: &mut dyn FnMut(usize, u64, u64) -> io::Result<Vec<u8>>,
    emit: &mut dyn FnMut(Part) -> io::Result<()>,
) -> Result<Composition> {
    let spans: Vec<Span> = stored
        .iter()
        .enumerate()
        .map(|(i, a)| span(i, a))
        .collect::<Result<_>>()?;
    let (mut large, small): (Vec<&Span>, Vec<&Span>) =
        spans.iter().partition(|s| s.end - s.start >= min_part);
    large.sort_by_key(|s| s.source);
    // The agent types of a host share a directory: a path may repeat within
    // one archive, never across two.
    let mut owner = std::collections::HashMap::new();
    let listed = spans
        .iter()
        .flat_map(|s| {
            s.manifest
                .child_jobs
                .iter()
                .map(move |c| (Some(s.source), c))
        })
        .chain(missing.iter().map(|c| (None, c)));
    for (source, c) in listed {
        if let Some(other) = owner.insert(c.path.as_str(), source) {
            if other != source {
                return Err(Error::invalid(
                    "childJobs",
                    format!("{} is in two of the archives", c.path),
                ));
            }
        }
    }

    let order: Vec<&Span> = large.iter().chain(small.iter()).copied().collect();
    let now = Timestamp::now();
    let children: Vec<ChildSummary> = order
        .iter()
        .flat_map(|s| s.manifest.child_jobs.iter().cloned())
        .chain(missing.iter().cloned())
        .collect();
    let manifests: Vec<&Manifest<ChildSummary>> = order.iter().map(|s| &s.manifest).collect();
    let head = composed_head(template, &manifests, &children, now);

    let output = |e: io::Error| Error::Output {
        target: "<parts>".into(),
        source: e,
    };
    let mut sink = PartSink {
        buf: Vec::new(),
        min_part: min_part.max(1) as usize,
        standing_in: false,
        made: 0,
        emit,
    };
    let (mut copied, mut fetched) = (0u64, 0u64);
    {
        let mut archive = ArchiveWriter::new(&mut sink, Format::TarGz, 6, 1, None, Finish::Archive)
            .map_err(output)?;
        for (k, s) in large.iter().enumerate() {
            // The first copied range carries the header the writer is
            // about to write (and drop).
            let start = if k == 0 { 0 } else { s.start };
            archive.sink_mut().standing_in = true;
            for f in &stored[s.source].index.children {
                let mut stand_in = io::Read::take(io::repeat(0), f.length);
                archive.append_fragment(&mut stand_in, f).map_err(output)?;
            }
            let sink = archive.sink_mut();
            sink.standing_in = false;
            copied += s.end - start;
            (sink.emit)(Part::Copy {
                source: s.source,
                start,
                end: s.end,
            })
            .map_err(output)?;
        }
        for s in &small {
            let bytes = if s.end > s.start {
                fetch(s.source, s.start, s.end).map_err(output)?
            } else {
                Vec::new()
            };
            if bytes.len() as u64 != s.end - s.start {
                return Err(Error::BadArchive {
                    path: stored[s.source].name.clone().into(),
                    message: format!("{} bytes fetched of {}..{}", bytes.len(), s.start, s.end),
                });
            }
            fetched += bytes.len() as u64;
            for f in &stored[s.source].index.children {
                let at = (f.offset - s.start) as usize;
                let mut range = &bytes[at..at + f.length as usize];
                // A child's fragment ends with a sync flush: one that does
                // not is not what the index says.
                if f.length > 0 && !range.ends_with(&[0, 0, 0xff, 0xff]) {
                    return Err(Error::BadArchive {
                        path: stored[s.source].name.clone().into(),
                        message: format!(
                            "index: the fragment of {} does not end with a sync flush",
                            f.path.as_deref().unwrap_or("?")
                        ),
                    });
                }
                archive.append_fragment(&mut range, f).map_err(output)?;
            }
        }
        for c in missing {
            archive.cut(&c.path).map_err(output)?;
        }
        let mtime = now.as_second().max(0) as u64;
        archive
            .append_streamed(MANIFEST_NAME, mtime, |w| {
                write_manifest(&head, &order, stored, missing, w)
            })
            .map_err(output)?;
        archive.finish().map_err(output)?;
    }
    // The last part: whatever size it has.
    sink.send().map_err(output)?;
    Ok(Composition {
        manifest: Manifest {
            child_jobs: children,
            ..head
        },
        copied,
        fetched,
        made: sink.made,
    })
}

/// The composed manifest: `head`, then each archive's children copied from
/// its manifest text (files and all), then the missing children.
fn write_manifest(
    head: &Manifest<ChildSummary>,
    order: &[&Span],
    stored: &[StoredArchive],
    missing: &[ChildSummary],
    out: &mut dyn Write,
) -> io::Result<()> {
    write_composed_manifest(head, out, &mut |out, any| {
        for s in order {
            let mut text = &stored[s.source].manifest[..];
            copy_child_jobs(&mut text, out, any, &mut |_, _| Ok(false))?;
        }
        for c in missing {
            let child: manifest::ChildJob = manifest::ChildJob {
                host_name: c.host_name.clone(),
                log_collection_type: c.log_collection_type.clone(),
                path: c.path.clone(),
                status: c.status,
                error_message: c.error_message.clone(),
                start_date: c.start_date.clone(),
                finish_date: c.finish_date.clone(),
                uncompressed_disk_space_bytes: c.uncompressed_disk_space_bytes,
                files: Vec::new(),
                skipped: Vec::new(),
                notes: Vec::new(),
            };
            out.write_all(if *any { b",\n    " } else { b"\n    " })?;
            *any = true;
            let pretty = serde_json::to_string_pretty(&child)?;
            out.write_all(pretty.replace('\n', "\n    ").as_bytes())?;
        }
        Ok(())
    })
}
