//! The JSON string unescaper that selection (`select/parse.rs`) and
//! redaction (`redact.rs`) share, so that both read an escape the same way.

/// What one escape stands for: up to four bytes of UTF-8.
pub(crate) struct Unescaped {
    bytes: [u8; 4],
    len: usize,
}

impl Unescaped {
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Decodes the escape that starts at `s[i]` (a backslash) and returns what
/// it stands for and the index just past it; `None` when it is not a JSON
/// escape (a backslash at the end, an unknown letter, `\u` without four hex
/// digits). A surrogate pair becomes one character, a lone surrogate U+FFFD.
pub(crate) fn unescape_at(s: &[u8], i: usize) -> Option<(Unescaped, usize)> {
    let one = |b: u8| Unescaped {
        bytes: [b, 0, 0, 0],
        len: 1,
    };
    let decoded = match *s.get(i + 1)? {
        e @ (b'"' | b'\\' | b'/') => one(e),
        b'b' => one(0x08),
        b'f' => one(0x0C),
        b'n' => one(b'\n'),
        b'r' => one(b'\r'),
        b't' => one(b'\t'),
        b'u' => {
            let hi = hex4(s, i + 2)?;
            let mut next = i + 6;
            let mut cp = hi;
            if (0xD800..0xDC00).contains(&hi) && s.get(next..next + 2) == Some(b"\\u") {
                if let Some(lo) = hex4(s, next + 2).filter(|lo| (0xDC00..0xE000).contains(lo)) {
                    cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    next += 6;
                }
            }
            let mut bytes = [0u8; 4];
            let ch = char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER);
            let len = ch.encode_utf8(&mut bytes).len();
            return Some((Unescaped { bytes, len }, next));
        }
        _ => return None,
    };
    Some((decoded, i + 2))
}

/// Four hex digits at `s[i..]`, and nothing else (no sign).
fn hex4(s: &[u8], i: usize) -> Option<u32> {
    s.get(i..i + 4)?
        .iter()
        .try_fold(0u32, |acc, &c| Some(acc * 16 + (c as char).to_digit(16)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Option<(String, usize)> {
        unescape_at(s.as_bytes(), 0)
            .map(|(u, next)| (String::from_utf8(u.as_bytes().to_vec()).unwrap(), next))
    }

    #[test]
    fn escapes() {
        assert_eq!(at(r#"\"x"#), Some(("\"".into(), 2)));
        assert_eq!(at(r"\n"), Some(("\n".into(), 2)));
        assert_eq!(at(r"\u00e9z"), Some(("é".into(), 6)));
        assert_eq!(at(r"\ud83e\udd80"), Some(("🦀".into(), 12)));
        assert_eq!(at(r"\ud83ex"), Some(("\u{fffd}".into(), 6)));
        assert_eq!(at(r"\q"), None);
        assert_eq!(at(r"\"), None);
        assert_eq!(at(r"\u12"), None);
        // A sign is not a hex digit (u32::from_str_radix would take it).
        assert_eq!(at(r"\u+0041"), None);
    }
}
