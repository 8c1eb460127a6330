//! Joining fragments of archives into a new archive (PRODUCT.md §8).
//!
//! Every child's fragment is copied byte for byte; only a new final
//! fragment (the merged `manifest.json` and the end blocks) is compressed,
//! and the gzip trailer's CRC-32 is combined from the fragments' CRCs. The
//! cost grows with the bytes copied, never with decompression, and memory
//! does not grow with the inputs' size or their file count: a manifest's
//! children are copied from one manifest text to the other as they stream
//! by, never held.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::archive::index::fragment_reader;
use crate::archive::index::{Fragment, Located};
use crate::archive::{ArchiveWriter, Finish, Format, Written};
use crate::error::{Error, Result};
use crate::manifest::{self, Manifest, Status, MANIFEST_NAME};
use crate::output::Output;
use crate::run::{new_job_id, ProgressFn};

pub mod parts;

/// What composition needs of a child: its path and status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChildSummary {
    /// `host` or `host:port`.
    pub host_name: String,
    /// The log type, e.g. `MONGODB`.
    pub log_collection_type: String,
    /// The child's archive path.
    pub path: String,
    /// Its status.
    pub status: Status,
    /// For failures: the paths and the OS errors.
    pub error_message: Option<String>,
    /// When its first file started.
    pub start_date: String,
    /// When its last file was archived.
    pub finish_date: String,
    /// Sum of its `archivedBytes`.
    pub uncompressed_disk_space_bytes: u64,
}

impl<F, S> From<&crate::manifest::ChildJob<F, S>> for ChildSummary {
    fn from(c: &crate::manifest::ChildJob<F, S>) -> ChildSummary {
        ChildSummary {
            host_name: c.host_name.clone(),
            log_collection_type: c.log_collection_type.clone(),
            path: c.path.clone(),
            status: c.status,
            error_message: c.error_message.clone(),
            start_date: c.start_date.clone(),
            finish_date: c.finish_date.clone(),
            uncompressed_disk_space_bytes: c.uncompressed_disk_space_bytes,
        }
    }
}

/// An archive made by logpack, opened for composition: its index is read
/// and checked against the file, and its manifest against the index.
#[derive(Debug)]
pub struct Source {
    path: PathBuf,
    file: File,
    located: Located,
    manifest: Manifest<ChildSummary>,
}

impl Source {
    /// Opens `path`. Anything that makes it unusable (missing, not a
    /// logpack archive, no index, a damaged index, a manifest that does
    /// not match it) is [`Error::BadArchive`] naming the path.
    pub fn open(path: &Path) -> Result<Source> {
        let bad = |message: String| Error::BadArchive {
            path: path.to_path_buf(),
            message,
        };
        let file = File::open(path).map_err(|e| bad(e.to_string()))?;
        let located = Located::read(&file)
            .map_err(|m| bad(format!("index: {m}")))?
            .ok_or_else(|| bad("not a tar.gz or tar.zst made by logpack".into()))?;
        let manifest: Manifest<ChildSummary> = read_manifest(&file, &located, |body| {
            serde_json::from_reader(body).map_err(io::Error::from)
        })
        .map_err(|e| bad(format!("{MANIFEST_NAME}: {e}")))?;
        children_match(&manifest, &located.index).map_err(bad)?;
        Ok(Source {
            path: path.to_path_buf(),
            file,
            located,
            manifest,
        })
    }

    /// The archive's manifest, its children without their files.
    pub fn manifest(&self) -> &Manifest<ChildSummary> {
        &self.manifest
    }

    /// The children's fragments, in `childJobs` order.
    pub(crate) fn fragments(&self) -> &[Fragment] {
        &self.located.index.children
    }

    /// The open archive.
    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// The archive's format.
    pub fn format(&self) -> Format {
        self.located.format
    }

    /// The archive's children.
    pub fn children(&self) -> &[ChildSummary] {
        &self.manifest.child_jobs
    }

    /// Compressed bytes of its children's fragments.
    pub fn fragment_bytes(&self) -> u64 {
        self.located.index.children.iter().map(|f| f.length).sum()
    }

    /// Copies the manifest's children to `out` (see [`copy_child_jobs`]),
    /// with `replace` choosing which to replace.
    pub(crate) fn copy_children(
        &self,
        out: &mut dyn Write,
        any: &mut bool,
        replace: &mut Replace<'_>,
    ) -> io::Result<()> {
        read_manifest(&self.file, &self.located, |body| {
            let n = copy_child_jobs(body, out, any, replace)?;
            if n != self.manifest.child_jobs.len() {
                return Err(io::Error::other("the manifest changed while it was read"));
            }
            Ok(())
        })
    }
}

/// Whether an index's children are the manifest's, in order (else the
/// message for an error).
pub(crate) fn children_match(
    manifest: &Manifest<ChildSummary>,
    index: &crate::archive::index::Index,
) -> std::result::Result<(), String> {
    let listed = manifest.child_jobs.iter().map(|c| c.path.as_str());
    let indexed = index
        .children
        .iter()
        .map(|f| f.path.as_deref().unwrap_or_default());
    if listed.eq(indexed) {
        Ok(())
    } else {
        Err(format!(
            "index: its {} children are not the manifest's {} in order",
            index.children.len(),
            manifest.child_jobs.len()
        ))
    }
}

/// Streams the `manifest.json` body from the final fragment into `read`.
fn read_manifest<T>(
    file: &File,
    located: &Located,
    read: impl FnOnce(&mut dyn Read) -> io::Result<T>,
) -> io::Result<T> {
    let range = fragment_reader(file, &located.index.last);
    let decoded: Box<dyn Read + '_> = match located.format {
        Format::TarGz => Box::new(flate2::bufread::DeflateDecoder::new(range)),
        _ => Box::new(zstd::stream::read::Decoder::with_buffer(range)?),
    };
    manifest_entry(decoded, read)
}

/// Streams the `manifest.json` body from `tar_stream`, an archive's final
/// fragment uncompressed, into `read`.
pub(crate) fn manifest_entry<T>(
    tar_stream: impl Read,
    read: impl FnOnce(&mut dyn Read) -> io::Result<T>,
) -> io::Result<T> {
    let mut tar = tar::Archive::new(tar_stream);
    let mut entries = tar.entries()?;
    let mut entry = entries
        .next()
        .ok_or_else(|| io::Error::other("the final fragment holds no entry"))??;
    if entry.path_bytes().as_ref() != MANIFEST_NAME.as_bytes() {
        return Err(io::Error::other(format!(
            "the final fragment holds {} instead",
            String::from_utf8_lossy(&entry.path_bytes())
        )));
    }
    read(&mut entry)
}

/// Where a manifest's children go as they stream by: for child `i`,
/// `replace(i, out)` may write something else in its place (and return
/// true), or leave it to be copied as it is.
pub(crate) type Replace<'a> = dyn FnMut(usize, &mut dyn Write) -> io::Result<bool> + 'a;

/// Copies the elements (objects) of the top-level `childJobs` array of the
/// JSON document in `input` to `out`, each after `\n    ` (the first one
/// written, as `*any` says) or `,\n    `, so that elements from several
/// documents join into one pretty-printed array. Returns how many elements
/// the document had. The document is scanned byte by byte (strings and
/// escapes tracked), never held.
pub(crate) fn copy_child_jobs(
    input: &mut dyn Read,
    out: &mut dyn Write,
    any: &mut bool,
    replace: &mut Replace<'_>,
) -> io::Result<usize> {
    let mut input = BufReader::with_capacity(64 << 10, input);
    let mut out = io::BufWriter::with_capacity(64 << 10, out);
    let mut depth = 0u32;
    let (mut in_string, mut escaped) = (false, false);
    // At depth 1: the last key, while it is short enough to be ours.
    let mut key: Vec<u8> = Vec::new();
    let (mut expect_key, mut key_is_ours) = (false, false);
    // Inside childJobs (depth 2), and inside an element being copied.
    let (mut in_children, mut copying) = (false, false);
    let mut found = false;
    let mut elements = 0usize;
    loop {
        let buf = io::BufRead::fill_buf(&mut input)?;
        if buf.is_empty() {
            break;
        }
        let len = buf.len();
        for &b in buf {
            let before = depth;
            if in_string {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                    if depth == 1 && expect_key {
                        key_is_ours = key == b"childJobs";
                        expect_key = false;
                    }
                } else if depth == 1 && expect_key && key.len() <= 16 {
                    key.push(b);
                }
            } else {
                match b {
                    b'"' => {
                        in_string = true;
                        key.clear();
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => depth = depth.saturating_sub(1),
                    b',' if depth == 1 => {
                        expect_key = true;
                        key_is_ours = false;
                    }
                    _ => {}
                }
                if depth == 1 && before == 0 {
                    expect_key = b == b'{';
                }
            }
            if !in_children {
                if before == 1 && depth == 2 && key_is_ours {
                    if b != b'[' {
                        return Err(io::Error::other("childJobs is not an array"));
                    }
                    in_children = true;
                    found = true;
                    key_is_ours = false;
                }
                continue;
            }
            if depth < 2 {
                in_children = false; // the array closed
                continue;
            }
            if before == 2 && !copying {
                if b.is_ascii_whitespace() || b == b',' {
                    continue;
                }
                if b != b'{' {
                    return Err(io::Error::other(format!(
                        "childJobs[{elements}] is not an object"
                    )));
                }
                out.write_all(if *any { b",\n    " } else { b"\n    " })?;
                *any = true;
                copying = !replace(elements, &mut out)?;
                elements += 1;
                if !copying {
                    // Replaced: skip the element's bytes.
                    copying = false;
                }
            }
            if copying {
                out.write_all(&[b])?;
                if depth == 2 {
                    copying = false; // its closing brace
                }
            }
        }
        io::BufRead::consume(&mut input, len);
    }
    out.flush()?;
    if !found {
        return Err(io::Error::other("no childJobs"));
    }
    Ok(elements)
}

/// What [`merge`] produced.
#[derive(Debug)]
pub struct Merged {
    /// The merged manifest, without its children's files.
    pub manifest: Manifest<ChildSummary>,
    /// Where the archive went, for [`Output::Path`].
    pub path: Option<PathBuf>,
}

impl Merged {
    /// True when every child of every input succeeded.
    pub fn is_complete(&self) -> bool {
        self.manifest.status == Status::Success
    }

    /// Writes the merged `manifest.json`, children's files included, as it
    /// is in the archive (read again from `sources`).
    pub fn write_manifest(&self, sources: &[Source], out: &mut dyn Write) -> io::Result<()> {
        let head = Manifest {
            child_jobs: Vec::new(),
            ..self.manifest.clone()
        };
        write_merged_manifest(&head, sources, out)
    }
}

/// Checks that `sources` can be merged: at least one, one format, no
/// archive path in two of them.
pub fn check_mergeable(sources: &[Source]) -> Result<()> {
    let Some(first) = sources.first() else {
        return Err(Error::invalid("archives", "nothing to merge"));
    };
    let mut owner: HashMap<&str, usize> = HashMap::new();
    for (i, s) in sources.iter().enumerate() {
        if s.format() != first.format() {
            return Err(Error::BadArchive {
                path: s.path.clone(),
                message: format!(
                    "it is {}, but {} is {}",
                    s.format().extension(),
                    first.path.display(),
                    first.format().extension()
                ),
            });
        }
        for c in s.children() {
            match owner.insert(c.path.as_str(), i) {
                Some(other) if other != i => {
                    return Err(Error::BadArchive {
                        path: s.path.clone(),
                        message: format!(
                            "{} is also in {} (input {}): the same archive path in two inputs",
                            c.path,
                            sources[other].path.display(),
                            other + 1
                        ),
                    })
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Joins `sources` (typically one archive per host) into one archive in
/// `output`: their children's fragments by byte copy, in order, then a new
/// final fragment with the merged manifest (a new id; the first input's
/// request fields; every child; status, sizes and `sizeLimitHit`
/// combined). `progress` gets the compressed bytes copied.
pub fn merge(
    sources: &[Source],
    output: Output<'_>,
    mut progress: Option<&mut ProgressFn<'_>>,
) -> Result<Merged> {
    check_mergeable(sources)?;
    let first = &sources[0];
    let format = first.format();
    let now = Timestamp::now();
    let children: Vec<ChildSummary> = sources
        .iter()
        .flat_map(|s| s.children().iter().cloned())
        .collect();
    let manifests: Vec<&Manifest<ChildSummary>> = sources.iter().map(|s| &s.manifest).collect();
    let head = composed_head(&first.manifest, &manifests, &children, now);
    let total: u64 = sources.iter().map(Source::fragment_bytes).sum();
    let stem = format!("merged_{}", now.strftime("%Y%m%dT%H%M%SZ"));
    let default_name = format!("{stem}.{}", format.extension());
    let (_, path) = output.write_with(&default_name, |sink| {
        let fail = |source: io::Error| Error::Output {
            target: "<writer>".into(),
            source,
        };
        let mut archive = ArchiveWriter::new(
            sink,
            format,
            format.default_level(),
            1,
            None,
            Finish::Archive,
        )
        .map_err(fail)?;
        let mut done = 0u64;
        for s in sources {
            for f in &s.located.index.children {
                copy_fragment(s, f, &mut archive)?;
                done += f.length;
                if let Some(p) = progress.as_mut() {
                    if !p(done, total) {
                        return Err(Error::Cancelled);
                    }
                }
            }
        }
        let mtime = now.as_second().max(0) as u64;
        archive
            .append_streamed(MANIFEST_NAME, mtime, |w| {
                write_merged_manifest(&head, sources, w)
            })
            .map_err(fail)?;
        let Written { out, .. } = archive.finish().map_err(fail)?;
        Ok(((), out))
    })?;
    Ok(Merged {
        manifest: Manifest {
            child_jobs: children,
            ..head
        },
        path,
    })
}

fn copy_fragment<W: Write>(
    s: &Source,
    f: &Fragment,
    archive: &mut ArchiveWriter<'_, W>,
) -> Result<()> {
    archive
        .append_fragment(&mut fragment_reader(&s.file, f), f)
        .map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => Error::BadArchive {
                path: s.path.clone(),
                message: format!("cut short: {e}"),
            },
            _ => Error::Output {
                target: "<writer>".into(),
                source: e,
            },
        })
}

/// Writes the merged manifest: `head` pretty-printed as `to_writer_pretty`
/// would, with each source's children copied into its `childJobs`.
fn write_merged_manifest(
    head: &Manifest<ChildSummary>,
    sources: &[Source],
    out: &mut dyn Write,
) -> io::Result<()> {
    write_composed_manifest(head, out, &mut |out, any| {
        for s in sources {
            s.copy_children(out, any, &mut |_, _| Ok(false))?;
        }
        Ok(())
    })
}

/// The head of a composed manifest: `template`'s request fields, a new id,
/// the time `now`, and the status, sizes and `sizeLimitHit` combined from
/// the composed archives' `manifests` and all the `children`.
pub(crate) fn composed_head(
    template: &Manifest<ChildSummary>,
    manifests: &[&Manifest<ChildSummary>],
    children: &[ChildSummary],
    now: Timestamp,
) -> Manifest<ChildSummary> {
    let failed = children.iter().any(|c| c.status == Status::Failure)
        || manifests.iter().any(|m| m.status == Status::Failure);
    Manifest::<ChildSummary> {
        engine: manifest::Engine {
            name: "logpack".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        id: new_job_id(),
        status: if failed {
            Status::Failure
        } else {
            Status::Success
        },
        creation_date: manifest::timestamp_string(now),
        finish_date: manifest::timestamp_string(now),
        uncompressed_size_total_bytes: manifests
            .iter()
            .map(|m| m.uncompressed_size_total_bytes)
            .sum(),
        size_limit_hit: manifests.iter().any(|m| m.size_limit_hit),
        child_jobs: Vec::new(),
        ..template.clone()
    }
}

/// Writes `head` pretty-printed as `to_writer_pretty` would, with
/// `children` writing the elements of its `childJobs` (`any` says whether
/// one was written already, for the commas).
pub(crate) fn write_composed_manifest(
    head: &Manifest<ChildSummary>,
    out: &mut dyn Write,
    children: &mut dyn FnMut(&mut dyn Write, &mut bool) -> io::Result<()>,
) -> io::Result<()> {
    let text = serde_json::to_vec_pretty(head)?;
    let open = text
        .strip_suffix(b"[]\n}")
        .or_else(|| text.strip_suffix(b"[]}"))
        .ok_or_else(|| io::Error::other("internal error: childJobs is not last"))?;
    out.write_all(open)?;
    out.write_all(b"[")?;
    let mut any = false;
    children(out, &mut any)?;
    out.write_all(if any { b"\n  ]\n}" } else { b"]\n}" })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn children_of(json: &str) -> Option<(usize, String)> {
        let mut out = Vec::new();
        let n = copy_child_jobs(&mut json.as_bytes(), &mut out, &mut false, &mut |_, _| {
            Ok(false)
        })
        .ok()?;
        Some((n, String::from_utf8(out).unwrap()))
    }

    #[test]
    fn child_jobs_are_found_at_the_top_level_only() {
        let doc = r#"{"a": {"childJobs": [9]}, "s": "\"childJobs\": [8]",
            "childJobs": [ {"x": "]}\\\"", "y": [1, {"z": 2}]} ,
              {"w": null} ], "b": 1}"#;
        let (n, got) = children_of(doc).unwrap();
        assert_eq!(n, 2);
        assert_eq!(
            got,
            "\n    {\"x\": \"]}\\\\\\\"\", \"y\": [1, {\"z\": 2}]},\n    {\"w\": null}"
        );
        assert_eq!(
            children_of(r#"{"childJobs": []}"#),
            Some((0, String::new()))
        );
        assert_eq!(children_of(r#"{"other": [1]}"#), None);
        assert_eq!(children_of(r#"{"childJobs": [1]}"#), None, "not an object");
        assert_eq!(children_of(r#"{"childJobs": {}}"#), None, "not an array");
    }

    #[test]
    fn children_can_be_replaced_one_by_one() {
        let doc = r#"{"childJobs": [{"a": 1}, {"b": [2]}, {"c": "}"}]}"#;
        let mut out = Vec::new();
        let mut any = false;
        let n = copy_child_jobs(&mut doc.as_bytes(), &mut out, &mut any, &mut |i, w| {
            if i == 1 {
                w.write_all(b"{\"new\": true}")?;
            }
            Ok(i == 1)
        })
        .unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\n    {\"a\": 1},\n    {\"new\": true},\n    {\"c\": \"}\"}"
        );
    }

    #[test]
    fn a_pretty_manifest_gives_its_elements_verbatim() {
        let value = serde_json::json!({"id": "x", "childJobs": [{"path": "a", "files": [1, 2]}, {"path": "b"}]});
        let text = serde_json::to_string_pretty(&value).unwrap();
        let (_, got) = children_of(&text).unwrap();
        let merged = format!("[{got}\n  ]");
        let want = serde_json::to_string_pretty(&value["childJobs"]).unwrap();
        // Same elements, same indentation as at depth 1 of a document.
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&merged).unwrap(),
            value["childJobs"]
        );
        assert_eq!(merged.lines().count(), want.lines().count());
    }
}
