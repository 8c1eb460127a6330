//! Reading an archive back and checking it against its own manifest.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

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
pub fn verify_path(path: &Path) -> Result<Verified> {
    let file = File::open(path).map_err(|source| Error::Input {
        path: path.to_path_buf(),
        source,
    })?;
    verify_reader(BufReader::new(file))
}

/// Like [`verify_path`], over any reader.
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
