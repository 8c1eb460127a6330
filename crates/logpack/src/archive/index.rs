//! The fragment index (PRODUCT.md §8): where each child's fragment lies in
//! the compressed file, so that a program holding only the file can copy
//! fragments into another archive without inflating them.
//!
//! It is JSON, stored after the archive where every reader passes over it:
//!
//! ```text
//! tar.gz   [gzip member: header · child fragments · final fragment · trailer]
//!          [empty gzip member(s): FEXTRA subfields "LP" holding the JSON,
//!           the last one ending with an "LF" subfield holding the footer]
//! tar.zst  [frames of each child] [final frame] [skippable frame: JSON · footer]
//! ```
//!
//! An empty gzip member decodes to nothing, so readers that take every
//! member add no bytes to the tar, and readers that stop after the first
//! member never see it. The footer (fixed size, at a fixed distance from
//! the end of the file) gives the length of the whole index region and the
//! JSON's length and CRC-32. Nothing in it is trusted before it is checked:
//! [`Located::read`] bounds-checks every offset and length against the file.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;

use serde::{Deserialize, Serialize};

use super::Format;

/// The gzip header logpack writes: no name, no time, OS unknown.
pub(crate) const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
/// The empty gzip member's header: FLG = FEXTRA.
const INDEX_MEMBER_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 255];
/// An empty final fixed-Huffman block, then CRC-32 = 0 and ISIZE = 0.
const EMPTY_MEMBER_TAIL: [u8; 10] = [3, 0, 0, 0, 0, 0, 0, 0, 0, 0];
/// zstd skippable frame magic (0x184D2A50 to 0x184D2A5F are skippable).
const SKIPPABLE_MAGIC: u32 = 0x184D_2A5E;
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

const FOOTER_MAGIC: [u8; 8] = *b"LPKINDEX";
/// magic · region length u64 · JSON length u64 · JSON CRC-32 u32.
const FOOTER_LEN: usize = 28;
/// JSON bytes per gzip extra subfield (XLEN is 16 bits).
const CHUNK: usize = 65_000;
/// The largest index accepted: about 80,000 children.
pub const MAX_INDEX_BYTES: u64 = 16 << 20;

/// The index of one archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Index {
    /// Always 1.
    pub version: u32,
    /// `tar.gz` or `tar.zst`.
    pub format: String,
    /// One fragment per manifest child, in `childJobs` order.
    pub children: Vec<Fragment>,
    /// `manifest.json`, the end-of-archive blocks and, in gzip, the final
    /// deflate block.
    #[serde(rename = "final")]
    pub last: Fragment,
}

/// One fragment: a byte range of the file that decodes on its own to whole
/// tar records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fragment {
    /// The child's archive path (`childJobs[i].path`); none for the final
    /// fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Offset of its first compressed byte in the file.
    pub offset: u64,
    /// Compressed length (0 for a child with no entries).
    pub length: u64,
    /// Uncompressed length: whole 512-byte tar records.
    pub size: u64,
    /// CRC-32 of the uncompressed bytes (gzip only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32: Option<u32>,
}

/// The most uncompressed bytes an index may describe (1 PiB): sizes read
/// from elsewhere are bounded before CRCs are combined over them, so that
/// no sum of them, over thousands of archives, can overflow.
pub const MAX_ARCHIVE_SIZE: u64 = 1 << 50;

impl Fragment {
    /// Offset just past its last byte (saturating: an index read from
    /// elsewhere is checked after this is computed, never trusted before).
    pub fn end(&self) -> u64 {
        self.offset.saturating_add(self.length)
    }
}

impl Index {
    /// Checks that its fragments' sizes add up to at most
    /// [`MAX_ARCHIVE_SIZE`].
    pub fn check_sizes(&self) -> Result<(), String> {
        let mut total = 0u64;
        for f in self.children.iter().chain([&self.last]) {
            total = total
                .checked_add(f.size)
                .filter(|&t| t <= MAX_ARCHIVE_SIZE)
                .ok_or_else(|| format!("its fragments hold more than {MAX_ARCHIVE_SIZE} bytes"))?;
        }
        Ok(())
    }

    /// Writes the index after an archive of `format` (tar.gz or tar.zst).
    pub(crate) fn write_to(&self, format: Format, out: &mut dyn Write) -> io::Result<()> {
        let json = serde_json::to_vec(self)?;
        let crc = crc32fast::hash(&json);
        match format {
            Format::TarGz => write_gz(&json, crc, out),
            Format::TarZst => {
                let payload = json.len() + FOOTER_LEN;
                let region = 8 + payload as u64;
                let size =
                    u32::try_from(payload).map_err(|_| io::Error::other("index too large"))?;
                out.write_all(&SKIPPABLE_MAGIC.to_le_bytes())?;
                out.write_all(&size.to_le_bytes())?;
                out.write_all(&json)?;
                out.write_all(&footer(region, json.len() as u64, crc))
            }
            Format::Tar => Ok(()),
        }
    }
}

fn footer(region: u64, json_len: u64, crc: u32) -> [u8; FOOTER_LEN] {
    let mut f = [0u8; FOOTER_LEN];
    f[..8].copy_from_slice(&FOOTER_MAGIC);
    f[8..16].copy_from_slice(&region.to_le_bytes());
    f[16..24].copy_from_slice(&json_len.to_le_bytes());
    f[24..].copy_from_slice(&crc.to_le_bytes());
    f
}

/// The gzip form: one empty member per chunk of JSON, the footer in an
/// `LF` subfield at the very end of the last member's extra field.
fn write_gz(json: &[u8], crc: u32, out: &mut dyn Write) -> io::Result<()> {
    let chunks: Vec<&[u8]> = if json.is_empty() {
        vec![&[]]
    } else {
        json.chunks(CHUNK).collect()
    };
    let footer_field = 4 + FOOTER_LEN;
    let region: u64 = chunks
        .iter()
        .map(|c| (10 + 2 + 4 + c.len() + 10) as u64)
        .sum::<u64>()
        + footer_field as u64;
    for (i, chunk) in chunks.iter().enumerate() {
        let last = i + 1 == chunks.len();
        let xlen = 4 + chunk.len() + if last { footer_field } else { 0 };
        out.write_all(&INDEX_MEMBER_HEADER)?;
        out.write_all(&(xlen as u16).to_le_bytes())?;
        out.write_all(b"LP")?;
        out.write_all(&(chunk.len() as u16).to_le_bytes())?;
        out.write_all(chunk)?;
        if last {
            out.write_all(b"LF")?;
            out.write_all(&(FOOTER_LEN as u16).to_le_bytes())?;
            out.write_all(&footer(region, json.len() as u64, crc))?;
        }
        out.write_all(&EMPTY_MEMBER_TAIL)?;
    }
    Ok(())
}

/// A fragment's bytes in `file`, read 256 KiB at a time.
pub(crate) fn fragment_reader<'f>(file: &'f File, f: &Fragment) -> io::BufReader<RangeReader<'f>> {
    io::BufReader::with_capacity(
        256 << 10,
        RangeReader {
            file,
            at: f.offset,
            end: f.end(),
        },
    )
}

/// Reads `[at, end)` of a file.
pub(crate) struct RangeReader<'f> {
    pub file: &'f File,
    pub at: u64,
    pub end: u64,
}

impl Read for RangeReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let want = (self.end - self.at).min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.at)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the file ends before offset {}", self.end),
            ));
        }
        self.at += n as u64;
        Ok(n)
    }
}

/// An index read from a file and checked against it.
#[derive(Debug, Clone)]
pub struct Located {
    /// The index.
    pub index: Index,
    /// The archive's format.
    pub format: Format,
    /// Where the index region starts: the archive proper ends here.
    pub archive_end: u64,
    /// The gzip trailer's CRC-32 and ISIZE (tar.gz).
    pub trailer: Option<(u32, u32)>,
}

/// Reads `len` bytes at `offset`, refusing ranges outside the file.
fn read_exact_at(file: &File, file_len: u64, offset: u64, len: u64) -> Result<Vec<u8>, String> {
    if offset.checked_add(len).is_none_or(|end| end > file_len) {
        return Err(format!(
            "range {offset}+{len} is outside the file ({file_len} bytes)"
        ));
    }
    let mut buf = vec![0u8; len as usize];
    file.read_exact_at(&mut buf, offset)
        .map_err(|e| format!("cannot read {len} bytes at {offset}: {e}"))?;
    Ok(buf)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

impl Located {
    /// Finds, reads and checks the index of the archive in `file`. The
    /// error says what is wrong, for a message; `Ok(None)` means the file
    /// has no index at all (a plain tar, or not logpack's).
    pub fn read(file: &File) -> Result<Option<Located>, String> {
        let file_len = file
            .metadata()
            .map_err(|e| format!("cannot stat: {e}"))?
            .len();
        let head = read_exact_at(file, file_len, 0, file_len.min(10))?;
        let format = if head.starts_with(&[0x1f, 0x8b]) {
            Format::TarGz
        } else if head.starts_with(&ZSTD_MAGIC) {
            Format::TarZst
        } else {
            return Ok(None);
        };
        let (json, archive_end) = match format {
            Format::TarGz => read_gz_region(file, file_len)?,
            _ => read_zst_region(file, file_len)?,
        };
        let index: Index =
            serde_json::from_slice(&json).map_err(|e| format!("the index does not parse: {e}"))?;
        let mut located = Located {
            index,
            format,
            archive_end,
            trailer: None,
        };
        located.check(file, file_len, &head)?;
        Ok(Some(located))
    }

    /// Every fragment in file order, the final one last.
    pub fn fragments(&self) -> impl Iterator<Item = &Fragment> {
        self.index.children.iter().chain([&self.index.last])
    }

    /// Checks that the fragments tile the archive from its header to its
    /// trailer, that sizes are whole tar records, and for gzip that the
    /// fragments' CRCs and sizes combine to the trailer's and each child's
    /// fragment ends with a sync flush.
    fn check(&mut self, file: &File, file_len: u64, head: &[u8]) -> Result<(), String> {
        let index = &self.index;
        if index.version != 1 {
            return Err(format!("index version {} is not supported", index.version));
        }
        if index.format != self.format.extension() {
            return Err(format!(
                "the index says {} but the file is {}",
                index.format,
                self.format.extension()
            ));
        }
        index.check_sizes()?;
        let gz = self.format == Format::TarGz;
        let mut at = if gz {
            if head != GZIP_HEADER {
                return Err("the gzip header is not logpack's".into());
            }
            GZIP_HEADER.len() as u64
        } else {
            0
        };
        let mut crc = crc32fast::Hasher::new();
        let count = index.children.len();
        for (i, f) in self.fragments().enumerate() {
            let what = if i < count {
                format!("fragment {i}")
            } else {
                "the final fragment".to_string()
            };
            if f.offset != at {
                return Err(format!(
                    "{what} starts at {} but the previous one ends at {at}",
                    f.offset
                ));
            }
            at = f
                .offset
                .checked_add(f.length)
                .filter(|&e| e <= self.archive_end)
                .ok_or_else(|| {
                    format!(
                        "{what} ({}+{}) runs past the end of the archive ({})",
                        f.offset, f.length, self.archive_end
                    )
                })?;
            if f.size % 512 != 0 {
                return Err(format!(
                    "{what} holds {} bytes, not whole tar records",
                    f.size
                ));
            }
            if (f.length == 0) != (f.size == 0) {
                return Err(format!(
                    "{what}: {} compressed bytes for {} bytes",
                    f.length, f.size
                ));
            }
            match (i < count, &f.path) {
                (true, Some(p)) => {
                    if p.is_empty() || p.starts_with('/') || p.split('/').any(|c| c == "..") {
                        return Err(format!("{what} has an unsafe path {p:?}"));
                    }
                }
                (true, None) => return Err(format!("{what} has no path")),
                (false, Some(_)) => return Err(format!("{what} has a path")),
                (false, None) => {}
            }
            match (gz, f.crc32) {
                (true, Some(c)) => crc.combine(&crc32fast::Hasher::new_with_initial_len(c, f.size)),
                (true, None) => return Err(format!("{what} has no crc32")),
                (false, Some(_)) => return Err(format!("{what} has a crc32 in a zstd archive")),
                (false, None) => {}
            }
            if gz && i < count && f.length > 0 {
                let tail =
                    read_exact_at(file, file_len, f.end() - f.length.min(4), 4.min(f.length))?;
                if tail != [0, 0, 0xff, 0xff] {
                    return Err(format!("{what} does not end with a sync flush"));
                }
            }
        }
        if index.last.size < 3 * 512 {
            return Err("the final fragment is too small to hold a manifest".into());
        }
        let trailer_len = if gz { 8 } else { 0 };
        if at + trailer_len != self.archive_end {
            return Err(format!(
                "the fragments end at {at}, but the archive ends at {}",
                self.archive_end
            ));
        }
        if gz {
            let t = read_exact_at(file, file_len, at, 8)?;
            let (want_crc, want_size) = (u32_at(&t, 0), u32_at(&t, 4));
            let size = crc.total_len() as u32;
            let combined = crc.finalize();
            if combined != want_crc || size != want_size {
                return Err(format!(
                    "the fragments' CRC-32 {combined:08x} and size {size} do not match \
                     the gzip trailer's {want_crc:08x} and {want_size}"
                ));
            }
            self.trailer = Some((want_crc, want_size));
        }
        Ok(())
    }
}

fn check_footer(f: &[u8], file_len: u64) -> Result<(u64, u64, u32), String> {
    if f[..8] != FOOTER_MAGIC {
        return Err("damaged index footer".into());
    }
    let (region, json_len, crc) = (u64_at(f, 8), u64_at(f, 16), u32_at(f, 24));
    if region > file_len || json_len > MAX_INDEX_BYTES || region > MAX_INDEX_BYTES * 2 {
        return Err(format!(
            "index footer gives impossible lengths (region {region}, index {json_len}, file {file_len})"
        ));
    }
    Ok((region, json_len, crc))
}

fn no_index() -> String {
    "no fragment index at the end of the file (not written by this logpack, or cut short)".into()
}

fn read_gz_region(file: &File, file_len: u64) -> Result<(Vec<u8>, u64), String> {
    let tail_len = (4 + FOOTER_LEN + EMPTY_MEMBER_TAIL.len()) as u64;
    if file_len < tail_len + 20 {
        return Err(no_index());
    }
    let tail = read_exact_at(file, file_len, file_len - tail_len, tail_len)?;
    if tail[..4] != [b'L', b'F', FOOTER_LEN as u8, 0] || tail[4 + FOOTER_LEN..] != EMPTY_MEMBER_TAIL
    {
        return Err(no_index());
    }
    let (region, json_len, crc) = check_footer(&tail[4..4 + FOOTER_LEN], file_len)?;
    let start = file_len - region;
    let bytes = read_exact_at(file, file_len, start, region)?;
    let mut json = Vec::with_capacity(json_len as usize);
    let mut at = 0usize;
    let bad =
        |what: &str, at: usize| format!("damaged index member at {}: {what}", start + at as u64);
    let mut footer_seen = false;
    while at < bytes.len() {
        if footer_seen {
            return Err(bad("data after the footer", at));
        }
        let rest = &bytes[at..];
        if rest.len() < 12 || rest[..10] != INDEX_MEMBER_HEADER {
            return Err(bad("not an index member header", at));
        }
        let xlen = u16::from_le_bytes([rest[10], rest[11]]) as usize;
        let extra = rest
            .get(12..12 + xlen)
            .ok_or_else(|| bad("extra field past the end", at))?;
        let mut x = 0;
        while x < extra.len() {
            let field = extra
                .get(x..x + 4)
                .ok_or_else(|| bad("short subfield", at))?;
            let len = u16::from_le_bytes([field[2], field[3]]) as usize;
            let data = extra
                .get(x + 4..x + 4 + len)
                .ok_or_else(|| bad("subfield past the extra field", at))?;
            match &field[..2] {
                b"LP" if !footer_seen => json.extend_from_slice(data),
                b"LF" if len == FOOTER_LEN && x + 4 + len == extra.len() => footer_seen = true,
                _ => return Err(bad("unexpected subfield", at)),
            }
            if json.len() as u64 > json_len {
                return Err(bad("more index than the footer says", at));
            }
            x += 4 + len;
        }
        let after = 12 + xlen;
        if rest.get(after..after + 10) != Some(&EMPTY_MEMBER_TAIL[..]) {
            return Err(bad("the member is not empty", at));
        }
        at += after + 10;
    }
    if !footer_seen || json.len() as u64 != json_len || crc32fast::hash(&json) != crc {
        return Err("the index does not match its footer's length and CRC-32".into());
    }
    Ok((json, start))
}

fn read_zst_region(file: &File, file_len: u64) -> Result<(Vec<u8>, u64), String> {
    if file_len < (8 + FOOTER_LEN) as u64 {
        return Err(no_index());
    }
    let footer = read_exact_at(
        file,
        file_len,
        file_len - FOOTER_LEN as u64,
        FOOTER_LEN as u64,
    )?;
    if footer[..8] != FOOTER_MAGIC {
        return Err(no_index());
    }
    let (region, json_len, crc) = check_footer(&footer, file_len)?;
    if region != 8 + json_len + FOOTER_LEN as u64 {
        return Err("the index footer's lengths disagree".into());
    }
    let start = file_len - region;
    let frame = read_exact_at(file, file_len, start, 8 + json_len)?;
    if u32_at(&frame, 0) != SKIPPABLE_MAGIC
        || u32_at(&frame, 4) as u64 != json_len + FOOTER_LEN as u64
    {
        return Err("the index's skippable frame header is damaged".into());
    }
    let json = frame[8..].to_vec();
    if crc32fast::hash(&json) != crc {
        return Err("the index does not match its footer's CRC-32".into());
    }
    Ok((json, start))
}
