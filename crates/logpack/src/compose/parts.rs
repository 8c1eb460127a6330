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

/// One archive kept in a store: its index, and its `manifest.json` text
/// when the caller has it.
#[derive(Debug, Clone)]
pub struct StoredArchive {
    /// How errors name it (its key in the store).
    pub name: String,
    /// Its index (PRODUCT.md §8).
    pub index: Index,
    /// Its `manifest.json`, as written in it. An archive whose children's
    /// fragments reach the part minimum must have it (its bytes are never
    /// fetched: see [`StoredArchive::from_tail`]). Without it, a smaller
    /// archive's final fragment and gzip trailer are fetched with its
    /// children's fragments, the trailer checked against the index and the
    /// manifest read from the final fragment: one request per archive.
    pub manifest: Option<Vec<u8>>,
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
            manifest: Some(manifest),
        })
    }

    /// Whether an archive with `index` is copied by the store (its
    /// children's fragments reach `min_part`), or fetched and grouped.
    pub fn is_copied(index: &Index, min_part: u64) -> bool {
        let children = (index.children.iter()).fold(0u64, |n, f| n.saturating_add(f.length));
        children >= min_part
    }

    /// The range of a stored tar.gz that [`StoredArchive::from_tail`]
    /// needs: its final fragment and its gzip trailer.
    pub fn tail_range(index: &Index) -> (u64, u64) {
        (index.last.offset, index.last.end().saturating_add(8))
    }

    /// An archive known by its index and the bytes of its
    /// [`tail_range`](StoredArchive::tail_range): the trailer must be what
    /// the index's CRCs and sizes combine to (an index that does not
    /// describe the archive, a lie or another version, is refused), and
    /// the manifest is read from the final fragment.
    pub fn from_tail(name: String, index: Index, tail: &[u8]) -> Result<StoredArchive> {
        let manifest = manifest_from_tail(&index, tail).map_err(|message| Error::BadArchive {
            path: name.clone().into(),
            message,
        })?;
        Ok(StoredArchive {
            name,
            index,
            manifest: Some(manifest),
        })
    }
}

/// Checks the gzip trailer at the end of `tail` (an archive's final
/// fragment and trailer) against `index`; returns the manifest's text.
fn manifest_from_tail(index: &Index, tail: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let (a, b) = StoredArchive::tail_range(index);
    if tail.len() as u64 != b - a {
        return Err(format!(
            "{} bytes for a final fragment and trailer of {}",
            tail.len(),
            b - a
        ));
    }
    index.check_sizes().map_err(|m| format!("index: {m}"))?;
    let (fragment, trailer) = tail.split_at(tail.len() - 8);
    let mut crc = crc32fast::Hasher::new();
    let mut size = 0u64;
    for f in index.children.iter().chain([&index.last]) {
        let c = f
            .crc32
            .ok_or_else(|| "index: a fragment has no CRC-32".to_string())?;
        crc.combine(&crc32fast::Hasher::new_with_initial_len(c, f.size));
        size += f.size;
    }
    let want = [crc.finalize().to_le_bytes(), (size as u32).to_le_bytes()].concat();
    if trailer != want.as_slice() {
        return Err("its index does not match its gzip trailer (CRC-32 and size)".into());
    }
    // The final fragment is checked against its own CRC-32 and size too:
    // the manifest read from a store is the one the host wrote.
    let last = &index.last;
    final_fragment_bounded(index)?;
    let mut plain = Vec::new();
    io::Read::read_to_end(
        &mut io::Read::take(
            flate2::bufread::DeflateDecoder::new(fragment),
            last.size + 1,
        ),
        &mut plain,
    )
    .map_err(|e| format!("the final fragment does not inflate: {e}"))?;
    if plain.len() as u64 != last.size || Some(crc32fast::hash(&plain)) != last.crc32 {
        return Err("the final fragment is not what its index says (CRC-32 and size)".into());
    }
    super::manifest_entry(&plain[..], |body| {
        let mut text = Vec::new();
        io::Read::read_to_end(body, &mut text)?;
        Ok(text)
    })
    .map_err(|e| format!("{MANIFEST_NAME}: {e}"))
}

/// The largest final fragment read from a store: a manifest (and the
/// tar's end blocks), which lists files, never holds their bytes.
const MAX_FINAL_FRAGMENT: u64 = 256 << 20;

/// Refuses an index whose final fragment, compressed or not, is larger
/// than a manifest can be: it is never fetched nor inflated.
fn final_fragment_bounded(index: &Index) -> std::result::Result<(), String> {
    let last = &index.last;
    if last.length.max(last.size) > MAX_FINAL_FRAGMENT {
        return Err(format!(
            "index: a final fragment of {} bytes ({} compressed) is not a manifest",
            last.size, last.length
        ));
    }
    Ok(())
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
}

fn bad(a: &StoredArchive, message: String) -> Error {
    Error::BadArchive {
        path: a.name.clone().into(),
        message,
    }
}

fn span(source: usize, a: &StoredArchive) -> Result<Span> {
    if a.index.format != Format::TarGz.extension() {
        return Err(bad(
            a,
            format!(
                "it is {}; archives are composed in a store as tar.gz only",
                a.index.format
            ),
        ));
    }
    a.index
        .check_sizes()
        .map_err(|m| bad(a, format!("index: {m}")))?;
    let start = crate::pgzip::GZIP_HEADER_LEN;
    let mut end = start;
    for f in &a.index.children {
        if f.offset != end || f.crc32.is_none() {
            return Err(bad(
                a,
                format!(
                    "index: the fragment of {} does not follow the one before it",
                    f.path.as_deref().unwrap_or("?")
                ),
            ));
        }
        end = f.end();
    }
    if a.index.last.offset != end || a.index.last.crc32.is_none() {
        return Err(bad(
            a,
            "index: the final fragment does not follow the children".into(),
        ));
    }
    Ok(Span { source, start, end })
}

/// An archive's manifest text, parsed and checked against its index.
fn parse_manifest(a: &StoredArchive, text: &[u8]) -> Result<Manifest<ChildSummary>> {
    let manifest: Manifest<ChildSummary> =
        serde_json::from_slice(text).map_err(|e| bad(a, format!("{MANIFEST_NAME}: {e}")))?;
    super::children_match(&manifest, &a.index).map_err(|m| bad(a, m))?;
    Ok(manifest)
}

/// `n` zero bytes, handed out of one static buffer: what stands in for a
/// copied range costs no copying.
struct Zeros(u64);

static ZEROS: [u8; 64 << 10] = [0; 64 << 10];

impl io::Read for Zeros {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = io::Read::read(&mut io::BufRead::fill_buf(self)?, buf)?;
        io::BufRead::consume(self, n);
        Ok(n)
    }
}

impl io::BufRead for Zeros {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        Ok(&ZEROS[..ZEROS
            .len()
            .min(usize::try_from(self.0).unwrap_or(usize::MAX))])
    }

    fn consume(&mut self, n: usize) {
        self.0 -= n as u64;
    }
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
/// archives whose children's fragments are under `min_part` bytes, once
/// each (through the trailer when the archive comes without its manifest).
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
        (spans.iter()).partition(|s| StoredArchive::is_copied(&stored[s.source].index, min_part));
    large.sort_by_key(|s| s.source);
    // The agent types of a host share a directory: a path may repeat within
    // one archive, never across two. The index names every child (and
    // each manifest is checked against its index).
    let mut owner = std::collections::HashMap::new();
    let listed = spans
        .iter()
        .flat_map(|s| {
            stored[s.source]
                .index
                .children
                .iter()
                .map(move |f| (Some(s.source), f.path.as_deref().unwrap_or_default()))
        })
        .chain(missing.iter().map(|c| (None, c.path.as_str())));
    for (source, path) in listed {
        if let Some(other) = owner.insert(path, source) {
            if other != source {
                return Err(Error::invalid(
                    "childJobs",
                    format!("{path} is in two of the archives"),
                ));
            }
        }
    }
    // The manifests given are checked now; the others when their bytes
    // come, before any of them is written.
    let mut manifests: Vec<Option<Manifest<ChildSummary>>> = stored
        .iter()
        .map(|a| {
            a.manifest
                .as_deref()
                .map(|t| parse_manifest(a, t))
                .transpose()
        })
        .collect::<Result<_>>()?;
    let mut fetched_texts: Vec<Option<Vec<u8>>> = vec![None; stored.len()];
    for s in &large {
        if manifests[s.source].is_none() {
            return Err(bad(
                &stored[s.source],
                "its fragments are copied by the store: its manifest is needed".into(),
            ));
        }
    }

    let output = |e: io::Error| Error::Output {
        target: "<parts>".into(),
        source: e,
    };
    let min_part = min_part.max(1) as usize;
    let mut sink = PartSink {
        buf: Vec::with_capacity(min_part.min(16 << 20) + (64 << 10)),
        min_part,
        standing_in: false,
        made: 0,
        emit,
    };
    let (mut copied, mut fetched) = (0u64, 0u64);
    let now = Timestamp::now();
    let order: Vec<&Span> = large.iter().chain(small.iter()).copied().collect();
    let head;
    let children: Vec<ChildSummary>;
    {
        let mut archive = ArchiveWriter::new(&mut sink, Format::TarGz, 6, 1, None, Finish::Archive)
            .map_err(output)?;
        for (k, s) in large.iter().enumerate() {
            // The first copied range carries the header the writer is
            // about to write (and drop).
            let start = if k == 0 { 0 } else { s.start };
            archive.sink_mut().standing_in = true;
            for f in &stored[s.source].index.children {
                let mut stand_in = Zeros(f.length);
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
            let a = &stored[s.source];
            let end = match a.manifest {
                Some(_) => s.end,
                None => {
                    final_fragment_bounded(&a.index).map_err(|m| bad(a, m))?;
                    StoredArchive::tail_range(&a.index).1
                }
            };
            let bytes = if end > s.start {
                fetch(s.source, s.start, end).map_err(output)?
            } else {
                Vec::new()
            };
            if bytes.len() as u64 != end - s.start {
                return Err(bad(
                    a,
                    format!("{} bytes fetched of {}..{end}", bytes.len(), s.start),
                ));
            }
            fetched += bytes.len() as u64;
            let (fragments, tail) = bytes.split_at((s.end - s.start) as usize);
            if a.manifest.is_none() {
                let text = manifest_from_tail(&a.index, tail).map_err(|m| bad(a, m))?;
                manifests[s.source] = Some(parse_manifest(a, &text)?);
                fetched_texts[s.source] = Some(text);
            }
            for f in &a.index.children {
                let at = (f.offset - s.start) as usize;
                let mut range = &fragments[at..at + f.length as usize];
                // A child's fragment ends with a sync flush: one that does
                // not is not what the index says.
                if f.length > 0 && !range.ends_with(&[0, 0, 0xff, 0xff]) {
                    return Err(bad(
                        a,
                        format!(
                            "index: the fragment of {} does not end with a sync flush",
                            f.path.as_deref().unwrap_or("?")
                        ),
                    ));
                }
                archive.append_fragment(&mut range, f).map_err(output)?;
            }
        }
        for c in missing {
            archive.cut(&c.path).map_err(output)?;
        }
        let texts: Vec<&[u8]> = order
            .iter()
            .map(|s| {
                let given = stored[s.source].manifest.as_deref();
                given
                    .or(fetched_texts[s.source].as_deref())
                    .unwrap_or_default()
            })
            .collect();
        let manifests: Vec<&Manifest<ChildSummary>> = order
            .iter()
            .map(|s| manifests[s.source].as_ref())
            .collect::<Option<_>>()
            .ok_or_else(|| Error::Corrupt("internal error: a manifest was not read".into()))?;
        children = manifests
            .iter()
            .flat_map(|m| m.child_jobs.iter().cloned())
            .chain(missing.iter().cloned())
            .collect();
        head = composed_head(template, &manifests, &children, now);
        let mtime = now.as_second().max(0) as u64;
        archive
            .append_streamed(MANIFEST_NAME, mtime, |w| {
                write_manifest(&head, &texts, missing, w)
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
/// its manifest text (files and all, in archive order), then the missing
/// children.
fn write_manifest(
    head: &Manifest<ChildSummary>,
    texts: &[&[u8]],
    missing: &[ChildSummary],
    out: &mut dyn Write,
) -> io::Result<()> {
    write_composed_manifest(head, out, &mut |out, any| {
        for text in texts {
            let mut text = *text;
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
