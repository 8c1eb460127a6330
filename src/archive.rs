//! The tar stream and its compressor.
//!
//! Every entry header is built here from the size fixed by the reader, and
//! the body is counted against it, so a header and its body can never
//! disagree. The end-of-archive blocks are written only by
//! [`ArchiveWriter::finish`]; an abandoned archive is cut off at the sink so
//! that no encoder `Drop` can make a failed stream look complete.

use std::io::{self, Write};
use std::str::FromStr;

use crate::pgzip::{ParallelGzWriter, DEFAULT_BLOCK_SIZE};

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

/// The bottom of the stack: forwards to the output until abandoned, then
/// refuses every write.
struct Sink<W> {
    inner: W,
    open: bool,
}

impl<W: Write> Write for Sink<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.open {
            return Err(io::Error::other("archive abandoned"));
        }
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.open {
            return Ok(());
        }
        self.inner.flush()
    }
}

enum Encoder<'p, W: Write> {
    Gz(ParallelGzWriter<'p, Sink<W>>),
    Zst(zstd::stream::write::Encoder<'static, Sink<W>>),
    Plain(Sink<W>),
}

impl<W: Write> Encoder<'_, W> {
    fn sink(&mut self) -> &mut Sink<W> {
        match self {
            Encoder::Gz(e) => e.get_mut(),
            Encoder::Zst(e) => e.get_mut(),
            Encoder::Plain(s) => s,
        }
    }

    fn finish(self) -> io::Result<W> {
        let sink = match self {
            Encoder::Gz(e) => e.finish()?,
            Encoder::Zst(e) => e.finish()?,
            Encoder::Plain(s) => s,
        };
        Ok(sink.inner)
    }
}

impl<W: Write> Write for Encoder<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Gz(e) => e.write(buf),
            Encoder::Zst(e) => e.write(buf),
            Encoder::Plain(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Gz(e) => e.flush(),
            Encoder::Zst(e) => e.flush(),
            Encoder::Plain(s) => s.flush(),
        }
    }
}

/// Writes tar entries into a compressed stream.
///
/// An entry is written in three steps, [`begin_entry`](Self::begin_entry),
/// [`write_body`](Self::write_body) and [`end_entry`](Self::end_entry), so
/// that readers can push their chunks straight into the compressor; a body
/// longer or shorter than its header's size is an error, never a corrupt
/// entry.
pub(crate) struct ArchiveWriter<'p, W: Write> {
    tar: tar::Builder<Encoder<'p, W>>,
    /// Body bytes still owed to the open entry, and its full size.
    open: Option<(u64, u64)>,
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
    ) -> io::Result<Self> {
        let sink = Sink {
            inner: out,
            open: true,
        };
        let encoder = match format {
            Format::TarGz => Encoder::Gz(ParallelGzWriter::new(
                sink,
                level as u32,
                DEFAULT_BLOCK_SIZE,
                pool,
            )),
            Format::TarZst => {
                let mut e = zstd::stream::write::Encoder::new(sink, level)?;
                if threads > 1 {
                    e.multithread(threads as u32)?;
                }
                Encoder::Zst(e)
            }
            Format::Tar => Encoder::Plain(sink),
        };
        Ok(ArchiveWriter {
            tar: tar::Builder::new(encoder),
            open: None,
        })
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
        if let Encoder::Gz(gz) = self.tar.get_mut() {
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
        self.tar.append_data(&mut header, path, io::empty())?;
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
        self.tar.get_mut().write_all(data)
    }

    /// Completes the open entry: its body must be complete. Pads it to a
    /// 512-byte record.
    pub fn end_entry(&mut self) -> io::Result<()> {
        match self.open.take() {
            None => Err(io::Error::other("no entry is open")),
            Some((0, size)) => {
                let padding = (512 - size % 512) % 512;
                self.tar
                    .get_mut()
                    .write_all(&[0u8; 512][..padding as usize])
            }
            Some((left, _)) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("entry body ended {left} bytes early"),
            )),
        }
    }

    /// Writes the end-of-archive blocks and finishes the encoder, checking
    /// every error, and returns the output.
    pub fn finish(self) -> io::Result<W> {
        if self.open.is_some() {
            return Err(io::Error::other("an entry is still open"));
        }
        self.tar.into_inner()?.finish()
    }

    /// Drops the archive without completing it: nothing more reaches the output.
    pub fn abandon(mut self) {
        self.tar.get_mut().sink().open = false;
    }
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
        let mut w = ArchiveWriter::new(Vec::new(), Format::Tar, 0, 1, None).unwrap();
        let long = format!("{}/file.log", "d".repeat(120));
        for n in [0usize, 1, 511, 512, 513] {
            append(&mut w, &format!("f{n}"), &vec![b'x'; n]).unwrap();
        }
        append(&mut w, &long, b"abc").unwrap();
        let got = entries(w.finish().unwrap());
        assert_eq!(got.len(), 6);
        for (i, n) in [0usize, 1, 511, 512, 513].iter().enumerate() {
            assert_eq!(got[i], (format!("f{n}"), vec![b'x'; *n]));
        }
        assert_eq!(got[5], (long, b"abc".to_vec()));
    }

    #[test]
    fn short_body_is_an_error_not_a_corrupt_entry() {
        let mut w = ArchiveWriter::new(Vec::new(), Format::Tar, 0, 1, None).unwrap();
        w.begin_entry("f", 10, 0, false).unwrap();
        w.write_body(b"abc").unwrap();
        let err = w.end_entry().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(err.to_string().contains("7 bytes early"), "{err}");
    }

    #[test]
    fn long_body_is_an_error_and_nothing_of_it_is_written() {
        let mut w = ArchiveWriter::new(Vec::new(), Format::Tar, 0, 1, None).unwrap();
        w.begin_entry("f", 2, 0, false).unwrap();
        let err = w.write_body(b"abcdef").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        // The entry can still be completed with the right bytes.
        w.write_body(b"ab").unwrap();
        w.end_entry().unwrap();
        assert_eq!(
            entries(w.finish().unwrap()),
            vec![("f".to_string(), b"ab".to_vec())]
        );
    }

    #[test]
    fn finishing_with_an_open_entry_is_an_error() {
        let mut w = ArchiveWriter::new(Vec::new(), Format::Tar, 0, 1, None).unwrap();
        w.begin_entry("f", 1, 0, false).unwrap();
        assert!(w.finish().is_err());
    }

    #[test]
    fn abandoned_gzip_stream_is_not_completed() {
        let mut out = Vec::new();
        {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .unwrap();
            let mut w = ArchiveWriter::new(&mut out, Format::TarGz, 6, 1, Some(&pool)).unwrap();
            append(&mut w, "f", b"abc").unwrap();
            w.abandon();
        }
        let mut d = flate2::read::GzDecoder::new(&out[..]);
        assert!(
            d.read_to_end(&mut Vec::new()).is_err(),
            "an abandoned stream must not decode cleanly"
        );
    }
}
