//! The tar stream and its compressor.
//!
//! Every entry header is built here from the size fixed by the reader, and
//! the body is counted against it, so a header and its body can never
//! disagree. The end-of-archive blocks are written only by
//! [`ArchiveWriter::finish`]; an abandoned archive is cut off at the sink so
//! that no encoder `Drop` can make a failed stream look complete.

use std::io::{self, BufRead, Write};
use std::str::FromStr;

use crate::pgzip::{copy_exact, FragmentEnd, ParallelGzWriter, DEFAULT_BLOCK_SIZE};

pub mod index;
use index::{Fragment, Index, GZIP_HEADER};

/// Output container and compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// One gzip stream (the default).
    #[default]
    TarGz,
    /// One zstd frame.
    TarZst,
    /// Uncompressed tar.
    Tar,
}

impl Format {
    /// The file extension, e.g. `tar.gz`.
    pub fn extension(self) -> &'static str {
        match self {
            Format::TarGz => "tar.gz",
            Format::TarZst => "tar.zst",
            Format::Tar => "tar",
        }
    }

    /// The level used when none is given: gzip 6; zstd 1, which on logs is
    /// both faster and smaller than level 3 and needs a quarter of the memory.
    pub fn default_level(self) -> i32 {
        match self {
            Format::TarGz => 6,
            Format::TarZst => 1,
            Format::Tar => 0,
        }
    }

    /// The accepted compression levels.
    pub fn level_range(self) -> std::ops::RangeInclusive<i32> {
        match self {
            Format::TarGz => 0..=9,
            Format::TarZst => 1..=22,
            Format::Tar => 0..=0,
        }
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "tar.gz" | "tgz" | "gz" => Ok(Format::TarGz),
            "tar.zst" | "zst" | "zstd" => Ok(Format::TarZst),
            "tar" => Ok(Format::Tar),
            _ => Err(format!(
                "unknown format {s:?}; expected tar.gz, tar.zst or tar"
            )),
        }
    }
}

/// The bottom of the stack: counts what it forwards to the output, until
/// abandoned; then it refuses every write.
struct Gate<W> {
    inner: W,
    open: bool,
    written: u64,
}

impl<W: Write> Write for Gate<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.open {
            return Err(io::Error::other("archive abandoned"));
        }
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.open {
            return Ok(());
        }
        self.inner.flush()
    }
}

/// zstd as one frame per fragment: a frame is started by the first write
/// after a cut and finished by the next cut.
struct ZstFrames<W: Write> {
    /// The output while no frame is open.
    idle: Option<Gate<W>>,
    frame: Option<zstd::stream::write::Encoder<'static, Gate<W>>>,
    level: i32,
    threads: usize,
    /// Input of the current fragment so far.
    size: u64,
    ends: Vec<FragmentEnd>,
}

impl<W: Write> ZstFrames<W> {
    fn sink(&mut self) -> Option<&mut Gate<W>> {
        match &mut self.frame {
            Some(f) => Some(f.get_mut()),
            None => self.idle.as_mut(),
        }
    }

    fn take_sink(&mut self) -> io::Result<Gate<W>> {
        if let Some(frame) = self.frame.take() {
            return frame.finish();
        }
        self.idle
            .take()
            .ok_or_else(|| io::Error::other("zstd output lost after an error"))
    }

    fn cut(&mut self) -> io::Result<()> {
        let sink = self.take_sink()?;
        self.ends.push(FragmentEnd {
            end: sink.written,
            crc: 0,
            size: std::mem::take(&mut self.size),
        });
        self.idle = Some(sink);
        Ok(())
    }
}

impl<W: Write> Write for ZstFrames<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let frame = match &mut self.frame {
            Some(f) => f,
            None => {
                let sink = self.take_sink()?;
                let mut e = zstd::stream::write::Encoder::new(sink, self.level)?;
                if self.threads > 1 {
                    e.multithread(self.threads as u32)?;
                }
                self.frame.insert(e)
            }
        };
        let n = frame.write(buf)?;
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.frame {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

/// Plain tar: fragments are byte ranges of the output.
struct PlainFragments<W> {
    sink: Gate<W>,
    start: u64,
    ends: Vec<FragmentEnd>,
}

enum Encoder<'p, W: Write> {
    Gz(ParallelGzWriter<'p, Gate<W>>),
    Zst(ZstFrames<W>),
    Plain(PlainFragments<W>),
}

impl<W: Write> Encoder<'_, W> {
    fn sink(&mut self) -> Option<&mut Gate<W>> {
        match self {
            Encoder::Gz(e) => Some(e.get_mut()),
            Encoder::Zst(e) => e.sink(),
            Encoder::Plain(p) => Some(&mut p.sink),
        }
    }

    fn cut(&mut self) -> io::Result<()> {
        match self {
            Encoder::Gz(e) => e.cut(),
            Encoder::Zst(e) => e.cut(),
            Encoder::Plain(p) => {
                let size = p.sink.written - p.start;
                p.start = p.sink.written;
                p.ends.push(FragmentEnd {
                    end: p.sink.written,
                    crc: 0,
                    size,
                });
                Ok(())
            }
        }
    }

    /// Copies a whole fragment made elsewhere. Must follow a cut.
    fn append_fragment(&mut self, src: &mut dyn BufRead, f: &Fragment) -> io::Result<()> {
        let copy = |sink: &mut Gate<W>, src: &mut dyn BufRead| copy_exact(src, f.length, sink);
        match self {
            Encoder::Gz(e) => e.append_fragment(src, f.length, f.crc32.unwrap_or(0), f.size),
            Encoder::Zst(z) => {
                let mut sink = z.take_sink()?;
                let copied = copy(&mut sink, src);
                let end = sink.written;
                z.idle = Some(sink);
                copied?;
                z.ends.push(FragmentEnd {
                    end,
                    crc: 0,
                    size: f.size,
                });
                Ok(())
            }
            Encoder::Plain(p) => {
                copy(&mut p.sink, src)?;
                p.start = p.sink.written;
                p.ends.push(FragmentEnd {
                    end: p.sink.written,
                    crc: 0,
                    size: f.size,
                });
                Ok(())
            }
        }
    }

    /// Ends the final fragment (none for bare fragments) and returns the
    /// output with every fragment's end, as offsets in the output.
    fn finish(self, finish: Finish) -> io::Result<(Gate<W>, Vec<FragmentEnd>)> {
        match self {
            Encoder::Gz(e) => {
                let bare = e.is_bare();
                let done = e.finish_fragments()?;
                let header = if bare { 0 } else { GZIP_HEADER.len() as u64 };
                let ends = done
                    .fragments
                    .into_iter()
                    .map(|f| FragmentEnd {
                        end: f.end + header,
                        ..f
                    })
                    .collect();
                Ok((done.out, ends))
            }
            Encoder::Zst(mut z) => {
                if finish == Finish::Archive {
                    z.cut()?;
                } else if z.frame.is_some() {
                    return Err(io::Error::other("entries after the last fragment"));
                }
                let sink = z.take_sink()?;
                Ok((sink, z.ends))
            }
            Encoder::Plain(mut p) => {
                if finish == Finish::Archive {
                    p.ends.push(FragmentEnd {
                        end: p.sink.written,
                        crc: 0,
                        size: p.sink.written - p.start,
                    });
                } else if p.sink.written > p.start {
                    return Err(io::Error::other("entries after the last fragment"));
                }
                Ok((p.sink, p.ends))
            }
        }
    }
}

impl<W: Write> Write for Encoder<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Gz(e) => e.write(buf),
            Encoder::Zst(e) => e.write(buf),
            Encoder::Plain(p) => p.sink.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Gz(e) => e.flush(),
            Encoder::Zst(e) => e.flush(),
            Encoder::Plain(p) => p.sink.flush(),
        }
    }
}

/// What an archive's end is: a whole archive (the final fragment with
/// `manifest.json`, the trailer and the index), or bare fragments for a
/// caller that keeps the index and composes the archive later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Finish {
    /// A complete archive.
    #[default]
    Archive,
    /// The children's fragments only: no gzip header, no manifest, no end
    /// blocks, no trailer, no index; the offsets are from the first byte.
    Fragments,
}

/// Writes tar entries into a compressed stream made of fragments: one per
/// child, ended by [`cut`](Self::cut), then the final one.
///
/// An entry is written in three steps, [`begin_entry`](Self::begin_entry),
/// [`write_body`](Self::write_body) and [`end_entry`](Self::end_entry), so
/// that readers can push their chunks straight into the compressor; a body
/// longer or shorter than its header's size is an error, never a corrupt
/// entry. Dropping the writer without [`finish`](Self::finish) cuts the
/// output off, so nothing can make an abandoned archive look complete.
pub(crate) struct ArchiveWriter<'p, W: Write> {
    /// `None` once finished.
    encoder: Option<Encoder<'p, W>>,
    /// Renders headers (with GNU long names) into its buffer, which is then
    /// copied to the encoder. Its own end blocks, written on drop, go
    /// nowhere.
    headers: tar::Builder<Vec<u8>>,
    format: Format,
    finish: Finish,
    /// Body bytes still owed to the open entry, and its full size.
    open: Option<(u64, u64)>,
    /// The archive path of each child whose fragment is done.
    paths: Vec<String>,
}

/// An archive as [`ArchiveWriter::finish`] leaves it.
pub(crate) struct Written<W> {
    pub out: W,
    /// Where each fragment lies; `None` for a plain tar.
    pub index: Option<Index>,
}

impl<'p, W: Write> ArchiveWriter<'p, W> {
    /// Starts an archive on `out`. gzip blocks are deflated on `pool`, or on
    /// the caller's thread when there is none; `threads` sizes zstd's own
    /// workers (1: none, zstd runs on the caller's thread).
    pub fn new(
        out: W,
        format: Format,
        level: i32,
        threads: usize,
        pool: Option<&'p rayon::ThreadPool>,
        finish: Finish,
    ) -> io::Result<Self> {
        let sink = Gate {
            inner: out,
            open: true,
            written: 0,
        };
        let encoder = match format {
            Format::TarGz => {
                let gz = ParallelGzWriter::new(sink, level as u32, DEFAULT_BLOCK_SIZE, pool);
                Encoder::Gz(match finish {
                    Finish::Archive => gz,
                    Finish::Fragments => gz.bare(),
                })
            }
            Format::TarZst => Encoder::Zst(ZstFrames {
                idle: Some(sink),
                frame: None,
                level,
                threads,
                size: 0,
                ends: Vec::new(),
            }),
            Format::Tar => Encoder::Plain(PlainFragments {
                sink,
                start: 0,
                ends: Vec::new(),
            }),
        };
        Ok(ArchiveWriter {
            encoder: Some(encoder),
            headers: tar::Builder::new(Vec::with_capacity(1024)),
            format,
            finish,
            open: None,
            paths: Vec::new(),
        })
    }

    fn encoder(&mut self) -> io::Result<&mut Encoder<'p, W>> {
        self.encoder
            .as_mut()
            .ok_or_else(|| io::Error::other("the archive is finished"))
    }

    /// Writes the header of a regular file of exactly `size` bytes; its body
    /// follows through [`write_body`](Self::write_body). `precompressed`
    /// says the body is likely compressed already: a tar.gz then stores its
    /// incompressible stretches rather than deflating them.
    pub fn begin_entry(
        &mut self,
        path: &str,
        size: u64,
        mtime: u64,
        precompressed: bool,
    ) -> io::Result<()> {
        if self.open.is_some() {
            return Err(io::Error::other("an entry is already open"));
        }
        if let Encoder::Gz(gz) = self.encoder()? {
            gz.set_precompressed(precompressed);
        }
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(size);
        header.set_mode(0o644);
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        // tar-rs writes the header (and a GNU long-name entry when the path
        // needs one) and then copies the body it is given and pads what it
        // copied: given no body, it writes exactly the header.
        self.headers.get_mut().clear();
        self.headers.append_data(&mut header, path, io::empty())?;
        let rendered = std::mem::take(self.headers.get_mut());
        let written = self.encoder()?.write_all(&rendered);
        *self.headers.get_mut() = rendered;
        written?;
        self.open = Some((size, size));
        Ok(())
    }

    /// Writes the next bytes of the open entry's body.
    pub fn write_body(&mut self, data: &[u8]) -> io::Result<()> {
        let Some((left, _)) = self.open.as_mut() else {
            return Err(io::Error::other("no entry is open"));
        };
        if data.len() as u64 > *left {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("entry body is {} bytes too long", data.len() as u64 - *left),
            ));
        }
        *left -= data.len() as u64;
        self.encoder()?.write_all(data)
    }

    /// Completes the open entry: its body must be complete. Pads it to a
    /// 512-byte record.
    pub fn end_entry(&mut self) -> io::Result<()> {
        match self.open.take() {
            None => Err(io::Error::other("no entry is open")),
            Some((0, size)) => {
                let padding = (512 - size % 512) % 512;
                self.encoder()?.write_all(&[0u8; 512][..padding as usize])
            }
            Some((left, _)) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("entry body ended {left} bytes early"),
            )),
        }
    }

    /// Appends the entry `path` whose body `write` produces, called twice
    /// (once to count its bytes for the tar header, once into the archive)
    /// rather than held whole in memory: a manifest of many files is the
    /// largest thing a run would hold.
    pub fn append_streamed(
        &mut self,
        path: &str,
        mtime: u64,
        write: impl Fn(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<()> {
        struct Count(u64);
        impl Write for Count {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0 += buf.len() as u64;
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        struct EntryBody<'w, 'p, W: Write>(&'w mut ArchiveWriter<'p, W>);
        impl<W: Write> Write for EntryBody<'_, '_, W> {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0.write_body(buf)?;
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }

        let mut count = Count(0);
        write(&mut count)?;
        self.begin_entry(path, count.0, mtime, false)?;
        let mut body = io::BufWriter::with_capacity(64 << 10, EntryBody(self));
        write(&mut body)?;
        body.flush()?;
        drop(body);
        self.end_entry()
    }

    /// Ends the fragment of the child at `path`: every entry written since
    /// the last cut belongs to it.
    pub fn cut(&mut self, path: &str) -> io::Result<()> {
        if self.open.is_some() {
            return Err(io::Error::other("a fragment cannot end inside an entry"));
        }
        self.encoder()?.cut()?;
        self.paths.push(path.to_string());
        Ok(())
    }

    /// Copies a child's whole fragment, made by another run, from `src`.
    pub fn append_fragment(
        &mut self,
        src: &mut dyn BufRead,
        fragment: &Fragment,
    ) -> io::Result<()> {
        if self.open.is_some() {
            return Err(io::Error::other("a fragment cannot start inside an entry"));
        }
        let path = fragment
            .path
            .clone()
            .ok_or_else(|| io::Error::other("a child's fragment has no path"))?;
        self.encoder()?.append_fragment(src, fragment)?;
        self.paths.push(path);
        Ok(())
    }

    /// The output, between fragments (a composer switches it between
    /// copying and dropping what the writer writes).
    pub(crate) fn sink_mut(&mut self) -> &mut W {
        let sink = self
            .encoder
            .as_mut()
            .and_then(|e| e.sink())
            .expect("the writer has its sink until finished");
        &mut sink.inner
    }

    /// Ends the archive: for [`Finish::Archive`] the end-of-archive blocks,
    /// the final block, the trailer and the index, checking every error.
    /// Entries written since the last cut form the final fragment.
    pub fn finish(mut self) -> io::Result<Written<W>> {
        if self.open.is_some() {
            return Err(io::Error::other("an entry is still open"));
        }
        let mut encoder = self.encoder.take().expect("finished once");
        if self.finish == Finish::Archive {
            encoder.write_all(&[0u8; 1024])?;
        }
        let (mut sink, ends) = encoder.finish(self.finish)?;
        let paths = std::mem::take(&mut self.paths);
        let index = build_index(self.format, self.finish, paths, &ends)?;
        if let (Some(index), Finish::Archive) = (&index, self.finish) {
            index.write_to(self.format, &mut sink)?;
        }
        sink.flush()?;
        Ok(Written {
            out: sink.inner,
            index,
        })
    }
}

impl<W: Write> Drop for ArchiveWriter<'_, W> {
    fn drop(&mut self) {
        if let Some(sink) = self.encoder.as_mut().and_then(|e| e.sink()) {
            sink.open = false;
        }
    }
}

/// The index of a finished archive from its fragments' ends: one per child
/// (in `paths` order), then the final one.
fn build_index(
    format: Format,
    finish: Finish,
    paths: Vec<String>,
    ends: &[FragmentEnd],
) -> io::Result<Option<Index>> {
    if format == Format::Tar {
        return Ok(None);
    }
    let children_ends = match finish {
        Finish::Archive => ends.len().checked_sub(1),
        Finish::Fragments => Some(ends.len()),
    };
    if children_ends != Some(paths.len()) {
        return Err(io::Error::other(format!(
            "internal error: {} fragments for {} children",
            ends.len(),
            paths.len()
        )));
    }
    let mut start = match (format, finish) {
        (Format::TarGz, Finish::Archive) => GZIP_HEADER.len() as u64,
        _ => 0,
    };
    let gz = format == Format::TarGz;
    let mut fragments = ends.iter().map(|e| {
        let f = Fragment {
            path: None,
            offset: start,
            length: e.end - start,
            size: e.size,
            crc32: gz.then_some(e.crc),
        };
        start = e.end;
        f
    });
    let children: Vec<Fragment> = paths
        .into_iter()
        .map(|p| Fragment {
            path: Some(p),
            ..fragments.next().expect("counted")
        })
        .collect();
    let last = fragments.next().unwrap_or(Fragment {
        path: None,
        offset: start,
        length: 0,
        size: 0,
        crc32: None,
    });
    Ok(Some(Index {
        version: 1,
        format: format.extension().to_string(),
        children,
        last,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn entries(bytes: Vec<u8>) -> Vec<(String, Vec<u8>)> {
        let mut archive = tar::Archive::new(&bytes[..]);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let path = e.path().unwrap().to_string_lossy().into_owned();
                let mut body = Vec::new();
                e.read_to_end(&mut body).unwrap();
                (path, body)
            })
            .collect()
    }

    fn append<W: Write>(w: &mut ArchiveWriter<'_, W>, path: &str, data: &[u8]) -> io::Result<()> {
        w.begin_entry(path, data.len() as u64, 0, false)?;
        w.write_body(data)?;
        w.end_entry()
    }

    #[test]
    fn body_sizes_around_block_boundaries_round_trip() {
        let mut w =
            ArchiveWriter::new(Vec::new(), Format::Tar, 0, 1, None, Finish::Archive).unwrap();
        let long = format!("{}/file.log", "d".repeat(120));
        for n in [0usize, 1, 511, 512, 513] {
            append(&mut w, &format!("f{n}"), &vec![b'x'; n]).unwrap();
        }
        append(&mut w, &long, b"abc").unwrap();
        let got = entries(w.finish().unwrap().out);
        assert_eq!(got.len(), 6);
        for (i, n) in [0usize, 1, 511, 512, 513].iter().enumerate() {
            assert_eq!(got[i], (format!("f{n}"), vec![b'x'; *n]));
        }
        assert_eq!(got[5], (long, b"abc".to_vec()));
    }

    #[test]
    fn short_body_is_an_error_not_a_corrupt_entry() {
        let mut w =
            ArchiveWriter::new(Vec::new(), Format::Tar, 0, 1, None, Finish::Archive).unwrap();
        w.begin_entry("f", 10, 0, false).unwrap();
        w.write_body(b"abc").unwrap();
        let err = w.end_entry().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(err.to_string().contains("7 bytes early"), "{err}");
    }

    #[test]
    fn long_body_is_an_error_and_nothing_of_it_is_written() {
        let mut w =
            ArchiveWriter::new(Vec::new(), Format::Tar, 0, 1, None, Finish::Archive).unwrap();
        w.begin_entry("f", 2, 0, false).unwrap();
        let err = w.write_body(b"abcdef").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        // The entry can still be completed with the right bytes.
        w.write_body(b"ab").unwrap();
        w.end_entry().unwrap();
        assert_eq!(
            entries(w.finish().unwrap().out),
            vec![("f".to_string(), b"ab".to_vec())]
        );
    }

    #[test]
    fn finishing_with_an_open_entry_is_an_error() {
        let mut w =
            ArchiveWriter::new(Vec::new(), Format::Tar, 0, 1, None, Finish::Archive).unwrap();
        w.begin_entry("f", 1, 0, false).unwrap();
        assert!(w.finish().is_err());
    }

    #[test]
    fn a_dropped_plain_tar_gets_no_end_blocks() {
        let mut out = Vec::new();
        {
            let mut w =
                ArchiveWriter::new(&mut out, Format::Tar, 0, 1, None, Finish::Archive).unwrap();
            append(&mut w, "a", b"whole").unwrap();
            w.begin_entry("b", 10, 0, false).unwrap();
            w.write_body(b"half").unwrap();
            // Dropped as a panic would drop it: mid-entry, unfinished.
        }
        // Header and padded body of "a", then the header and 4 bytes of "b":
        // no padding, no end-of-archive blocks.
        assert_eq!(out.len(), 512 + 512 + 512 + 4);
        let mut archive = tar::Archive::new(&out[..]);
        let read: Result<Vec<_>, _> = archive
            .entries()
            .unwrap()
            .map(|e| e.and_then(|mut e| e.read_to_end(&mut Vec::new())))
            .collect();
        assert!(read.is_err(), "a cut-off tar must not read as complete");
    }

    #[test]
    fn fragments_tile_the_output_and_decode_alone() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let mut w = ArchiveWriter::new(
            Vec::new(),
            Format::TarGz,
            6,
            2,
            Some(&pool),
            Finish::Archive,
        )
        .unwrap();
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        append(&mut w, "c0/big", &big).unwrap();
        w.cut("c0").unwrap();
        w.cut("c1").unwrap(); // an empty child
        append(&mut w, "c2/small", b"small").unwrap();
        w.cut("c2").unwrap();
        append(&mut w, "manifest.json", b"{}").unwrap();
        let Written { out, index } = w.finish().unwrap();
        let index = index.unwrap();
        let paths: Vec<_> = index
            .children
            .iter()
            .map(|f| f.path.clone().unwrap())
            .collect();
        assert_eq!(paths, ["c0", "c1", "c2"]);
        assert_eq!(index.children[0].offset, 10);
        assert_eq!(index.children[1].length, 0);
        assert_eq!(index.children[1].size, 0);
        for f in &index.children {
            let bytes = &out[f.offset as usize..f.end() as usize];
            if f.length > 0 {
                assert_eq!(&bytes[bytes.len() - 4..], &[0, 0, 0xff, 0xff], "sync flush");
            }
            let mut d = flate2::Decompress::new(false);
            let mut tar = Vec::with_capacity(f.size as usize + 1);
            d.decompress_vec(bytes, &mut tar, flate2::FlushDecompress::Sync)
                .unwrap();
            assert_eq!(tar.len() as u64, f.size);
            assert_eq!(Some(crc32fast::hash(&tar)), f.crc32);
        }
        assert_eq!(index.last.offset, index.children[2].end());
        let gz_end = index.last.end() as usize + 8;
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(&out[..gz_end])
            .read_to_end(&mut tar)
            .unwrap();
        let got = entries(tar);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], ("c0/big".to_string(), big));
    }

    #[test]
    fn abandoned_gzip_stream_is_not_completed() {
        let mut out = Vec::new();
        {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .unwrap();
            let mut w =
                ArchiveWriter::new(&mut out, Format::TarGz, 6, 1, Some(&pool), Finish::Archive)
                    .unwrap();
            append(&mut w, "f", b"abc").unwrap();
            drop(w);
        }
        let mut d = flate2::read::GzDecoder::new(&out[..]);
        assert!(
            d.read_to_end(&mut Vec::new()).is_err(),
            "an abandoned stream must not decode cleanly"
        );
    }
}
