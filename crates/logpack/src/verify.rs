//! Reading an archive back and checking it against its own manifest.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::archive::index::{Fragment, Located, RangeReader};
use crate::archive::Format;
use crate::error::{Error, Result};
use crate::manifest::{Manifest, MANIFEST_NAME};

/// What a successful verification found.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The archive's manifest.
    pub manifest: Manifest,
    /// Entries checked, the manifest excluded.
    pub entries: usize,
    /// Bytes of entry bodies checked.
    pub bytes: u64,
}

/// Opens `path` (tar.gz, tar.zst or tar, told apart by magic bytes) and checks
/// that every entry is a regular file listed in `manifest.json` with the same
/// size and SHA-256, that every listed file is present, that the manifest is
/// the last entry, and that the compressed stream itself is intact.
///
/// A tar.gz or tar.zst must carry its fragment index, and the index must be
/// true: every fragment is decoded on its own (so none leans on data before
/// it), its size and CRC-32 are the index's, the fragments' CRCs combine to
/// the gzip trailer's, each child's entries lie in that child's fragment,
/// and the index lists the manifest's children in order.
pub fn verify_path(path: &Path) -> Result<Verified> {
    let file = File::open(path).map_err(|source| Error::Input {
        path: path.to_path_buf(),
        source,
    })?;
    let located = Located::read(&file).map_err(|m| Error::Corrupt(format!("index: {m}")))?;
    let Some(located) = located else {
        return verify_reader(BufReader::new(file));
    };
    let mut fragments = Fragments::new(&file, &located);
    let starts = fragments.starts.clone();
    let count = located.index.children.len();
    let paths: Vec<&str> = located
        .index
        .children
        .iter()
        .map(|f| f.path.as_deref().unwrap_or_default())
        .collect();
    // Which fragment holds the header at `position` of the tar stream.
    let place = |name: &str, position: u64| -> Result<()> {
        let k = starts.partition_point(|&s| s <= position) - 1;
        let fits = if k < count {
            name.strip_prefix(paths[k])
                .is_some_and(|rest| rest.starts_with('/'))
        } else {
            name == MANIFEST_NAME
        };
        if fits {
            Ok(())
        } else {
            Err(Error::Corrupt(format!(
                "index: {name} lies in the fragment of {}",
                paths.get(k).copied().unwrap_or("the manifest")
            )))
        }
    };
    let verified = check_tar(&mut fragments, Some(&place))?;
    let listed: Vec<&str> = verified
        .manifest
        .child_jobs
        .iter()
        .map(|c| c.path.as_str())
        .collect();
    if listed != paths {
        return Err(Error::Corrupt(format!(
            "index: it lists {count} children that are not the manifest's {} in order",
            listed.len()
        )));
    }
    Ok(verified)
}

/// Like [`verify_path`], over any reader, without the index.
pub fn verify_reader(mut input: impl io::BufRead) -> Result<Verified> {
    let corrupt = |what: String| Error::Corrupt(what);
    let magic = input
        .fill_buf()
        .map_err(|e| corrupt(e.to_string()))?
        .to_vec();
    let decoder: Box<dyn Read + '_> = if magic.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::bufread::MultiGzDecoder::new(input))
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(
            zstd::stream::read::Decoder::with_buffer(input).map_err(|e| corrupt(e.to_string()))?,
        )
    } else {
        Box::new(input)
    };

    check_tar(decoder, None)
}

/// Checks that the entry `name`, whose header is at this offset of the
/// tar stream, lies in the right fragment.
type Place<'a> = &'a dyn Fn(&str, u64) -> Result<()>;

/// Checks the tar stream of `decoder` against its manifest; `place` checks
/// where each entry's header lies.
fn check_tar(decoder: impl Read, place: Option<Place<'_>>) -> Result<Verified> {
    let corrupt = |what: String| Error::Corrupt(what);
    let mut archive = tar::Archive::new(decoder);
    let mut seen: Vec<(String, u64, String)> = Vec::new();
    let mut manifest_json: Option<Vec<u8>> = None;
    let entries = archive.entries().map_err(|e| corrupt(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| corrupt(format!("after {} entries: {e}", seen.len())))?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if manifest_json.is_some() {
            return Err(corrupt(format!(
                "{name} follows {MANIFEST_NAME}, which must be last"
            )));
        }
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(corrupt(format!("{name} is not a regular file")));
        }
        if let Some(place) = place {
            place(&name, entry.raw_header_position())?;
        }
        if name == MANIFEST_NAME {
            let mut json = Vec::new();
            entry
                .read_to_end(&mut json)
                .map_err(|e| corrupt(format!("{name}: {e}")))?;
            manifest_json = Some(json);
            continue;
        }
        let mut hasher = Sha256::new();
        let n = io::copy(&mut entry, &mut HashWriter(&mut hasher))
            .map_err(|e| corrupt(format!("{name}: {e}")))?;
        seen.push((name, n, hex::encode(hasher.finalize())));
    }
    // Drain the decoder: the gzip CRC and length, or the zstd checksum, are
    // only checked at the very end; what follows the end blocks must be zeros.
    let mut rest = archive.into_inner();
    let mut tail = [0u8; 64 * 1024];
    loop {
        let n = rest
            .read(&mut tail)
            .map_err(|e| corrupt(format!("compressed stream: {e}")))?;
        if n == 0 {
            break;
        }
        if tail[..n].iter().any(|&b| b != 0) {
            return Err(corrupt("data after the end of the archive".into()));
        }
    }

    let json = manifest_json.ok_or_else(|| corrupt(format!("no {MANIFEST_NAME} entry")))?;
    let manifest: Manifest = serde_json::from_slice(&json)
        .map_err(|e| corrupt(format!("{MANIFEST_NAME} does not parse: {e}")))?;
    let mut listed: HashMap<String, (u64, &str)> = HashMap::new();
    for (path, file) in manifest.archived_files() {
        listed.insert(path, (file.archived_bytes, file.sha256.as_str()));
    }
    let mut bytes = 0;
    for (name, size, sha) in &seen {
        let Some((want_size, want_sha)) = listed.get(name) else {
            return Err(corrupt(format!("{name} is not listed in {MANIFEST_NAME}")));
        };
        if size != want_size {
            return Err(corrupt(format!(
                "{name}: {size} bytes, manifest says {want_size}"
            )));
        }
        if sha != want_sha {
            return Err(corrupt(format!(
                "{name}: sha256 {sha}, manifest says {want_sha}"
            )));
        }
        bytes += size;
    }
    if seen.len() != listed.len() {
        let present: std::collections::HashSet<&str> =
            seen.iter().map(|(n, _, _)| n.as_str()).collect();
        let missing = listed.keys().find(|p| !present.contains(p.as_str()));
        return Err(corrupt(match missing {
            Some(p) => format!("{p} is listed in {MANIFEST_NAME} but missing from the archive"),
            None => format!(
                "an entry appears twice in the archive ({} entries, {} listed)",
                seen.len(),
                listed.len()
            ),
        }));
    }
    let entries = seen.len();
    Ok(Verified {
        manifest,
        entries,
        bytes,
    })
}

struct HashWriter<'a>(&'a mut Sha256);

impl io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The tar stream of an indexed archive, decoded one fragment at a time,
/// each with a fresh decoder, and each checked against the index.
struct Fragments<'f> {
    file: &'f File,
    format: Format,
    list: Vec<Fragment>,
    /// Where each fragment starts in the tar stream.
    starts: Vec<u64>,
    next: usize,
    current: Option<Decoding<'f>>,
}

enum Decoding<'f> {
    Gz {
        input: BufReader<RangeReader<'f>>,
        inflate: flate2::Decompress,
        crc: crc32fast::Hasher,
        ended: bool,
    },
    Zst(
        zstd::stream::read::Decoder<'static, BufReader<RangeReader<'f>>>,
        u64,
    ),
    Empty,
}

impl<'f> Fragments<'f> {
    fn new(file: &'f File, located: &Located) -> Fragments<'f> {
        let list: Vec<Fragment> = located.fragments().cloned().collect();
        let mut at = 0;
        let starts = list
            .iter()
            .map(|f| {
                let s = at;
                at += f.size;
                s
            })
            .collect();
        Fragments {
            file,
            format: located.format,
            list,
            starts,
            next: 0,
            current: None,
        }
    }

    fn open(&mut self) -> io::Result<()> {
        let f = &self.list[self.next];
        let input = BufReader::with_capacity(
            256 << 10,
            RangeReader {
                file: self.file,
                at: f.offset,
                end: f.end(),
            },
        );
        self.current = Some(if f.length == 0 {
            Decoding::Empty
        } else if self.format == Format::TarGz {
            Decoding::Gz {
                input,
                inflate: flate2::Decompress::new(false),
                crc: crc32fast::Hasher::new(),
                ended: false,
            }
        } else {
            Decoding::Zst(
                zstd::stream::read::Decoder::with_buffer(input)?.single_frame(),
                0,
            )
        });
        Ok(())
    }

    /// Checks the fragment just decoded against the index.
    fn close(&mut self) -> io::Result<()> {
        let i = self.next;
        let f = &self.list[i];
        let last = i + 1 == self.list.len();
        let bad = |what: String| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("index: fragment {i}: {what}"),
            )
        };
        match self.current.take() {
            Some(Decoding::Gz {
                inflate,
                crc,
                ended,
                ..
            }) => {
                if ended != last {
                    return Err(bad(if last {
                        "the final block is missing".into()
                    } else {
                        "it holds the final block".into()
                    }));
                }
                if inflate.total_in() != f.length || inflate.total_out() != f.size {
                    return Err(bad(format!(
                        "decodes {} of its {} bytes into {} bytes, the index says {}",
                        inflate.total_in(),
                        f.length,
                        inflate.total_out(),
                        f.size
                    )));
                }
                let crc = crc.finalize();
                if Some(crc) != f.crc32 {
                    return Err(bad(format!(
                        "CRC-32 {crc:08x}, the index says {:08x}",
                        f.crc32.unwrap_or(0)
                    )));
                }
            }
            Some(Decoding::Zst(decoder, size)) => {
                let mut input = decoder.finish();
                if !input.fill_buf()?.is_empty() || size != f.size {
                    return Err(bad(format!(
                        "is not one zstd frame of {} bytes (decoded {size})",
                        f.size
                    )));
                }
            }
            Some(Decoding::Empty) | None => {}
        }
        self.next += 1;
        Ok(())
    }
}

impl Read for Fragments<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.next >= self.list.len() {
                return Ok(0);
            }
            if self.current.is_none() {
                self.open()?;
            }
            let n = match self.current.as_mut().expect("opened") {
                Decoding::Empty => 0,
                Decoding::Zst(decoder, size) => {
                    let n = decoder.read(buf)?;
                    *size += n as u64;
                    n
                }
                Decoding::Gz {
                    input,
                    inflate,
                    crc,
                    ended,
                } => loop {
                    if *ended {
                        break 0;
                    }
                    let data = input.fill_buf()?;
                    let at_end = data.is_empty();
                    let (before_in, before_out) = (inflate.total_in(), inflate.total_out());
                    let status = inflate
                        .decompress(data, buf, flate2::FlushDecompress::None)
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                    let consumed = (inflate.total_in() - before_in) as usize;
                    let produced = (inflate.total_out() - before_out) as usize;
                    input.consume(consumed);
                    crc.update(&buf[..produced]);
                    *ended = status == flate2::Status::StreamEnd;
                    if produced > 0 || *ended || (at_end && consumed == 0) {
                        break produced;
                    }
                    if consumed == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "the deflate stream makes no progress",
                        ));
                    }
                },
            };
            if n > 0 {
                return Ok(n);
            }
            self.close()?;
        }
    }
}
