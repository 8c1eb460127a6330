//! Redaction (PRODUCT.md §4): sensitive values in log lines are replaced by
//! consistent tokens.
//!
//! A [`Redactor`] turns a value into a token with a keyed hash
//! (`blake3::keyed_hash`) under a per-archive key: `10.1.2.3` becomes
//! `ip-1a2b3c4d5e` in every file of one archive, and a different key gives
//! unlinkable tokens. Tokens only use `[a-z0-9-]`, so they are safe inside JSON
//! strings, file names and archive paths.
//!
//! # What is replaced
//!
//! | Kind | Where | Example |
//! |---|---|---|
//! | [`Kind::Ip`] | IPv4 and IPv6 anywhere. The port is kept. | `10.0.0.5:27017` → `ip-…:27017`, `[fe80::1]:27017` → `[ip-…]:27017` |
//! | [`Kind::Host`] | The request's host names anywhere (also inside `metrics.monitor-db1.example.net:27017.info`); FQDNs (heuristic below); hosts of URLs and connection strings; values of host keys (`"host"`, `"hostAndPort"`, `"syncSource"`, `host=`, …). | `db1.example.net:27017` → `host-…:27017` |
//! | [`Kind::Email`] | `local@domain.tld` anywhere. | `"email":"email-…"` |
//! | [`Kind::Namespace`] | Values of `"ns"`, `"namespace"`, `"nss"` (logv2 and audit JSON, and `ns: "…"` in legacy text); legacy `command db.coll`, `query db.coll`, `getmore`, `update`, `insert`, `remove`, `createCollection:`, `on:`; database keys (`"db"`, `"$db"`, `"authenticationDatabase"`); collection keys (`"collection"`, and command names such as `"find"`, `"insert"`, `"aggregate"`). The database and the collection get one token each, the dot is kept: `testdb.robots` → `ns-….ns-…`, so that `"find":"robots"` gets the same collection token. | |
//! | [`Kind::User`] | User in connection strings and URLs (`mongodb://user:pass@`), `"user"`, `"principalName"`, `"userName"` values, legacy `principal <name>`, `user@db`, the user part of `"saslSupportedMechs":"db.user"`, home directories `/home/<user>/`, `/Users/<user>/`. | |
//! | [`Kind::Secret`] | Password in connection strings and URLs (and `user:pass@host` without a scheme), values of `"pwd"`, `"password"`, `"secret"`, `"apiKey"`…, and `password=…`, `pwd: …` in text. | |
//!
//! Kept on purpose, because they identify nothing and a support engineer
//! needs them: loopback and unspecified addresses (`127.0.0.0/8`, `0.0.0.0`,
//! `::1`, `::`), `localhost`, the system databases `admin`, `local`, `config`
//! with their internal collections (`local.oplog.rs`, `config.system.sessions`,
//! `admin.$cmd`), the `$cmd` pseudo-collection and `system.*` collections of
//! user databases (`system.buckets.` keeps its prefix: `ns-….system.buckets.ns-…`),
//! the internal user `__system`, and MongoDB's own public domains
//! (`*.mongodb.com`, `*.mongodb.org`; Atlas cluster hosts are `*.mongodb.net`
//! and are replaced).
//!
//! # Host name heuristic
//!
//! A word made of `[A-Za-z0-9.-]` (an `_` ends a word) is a host name when,
//! after trimming `.` and `-` at both ends, it has at least two labels, its last
//! label (the TLD) is alphabetic, and either
//!
//! - the TLD is one of a fixed list of real or internal TLDs (`com`, `net`,
//!   `org`, `io`, country codes that are not also file extensions or field
//!   names, and `local`, `internal`, `lan`, `localdomain`, `corp`, `home`, …),
//!   and a label before it contains a letter: `db1.example.net`,
//!   `Savinays-MacBook-Pro.local`; or
//! - it has at least three labels, all lowercase, none all digits, the first is
//!   not `admin`/`local`/`config`, the TLD is not a file extension (`gz`, `log`,
//!   `json`, …), and either a `:port` follows or another label contains a digit
//!   or `-`: `mongo-0.mongo-svc.prod`, `db1.prod.acme:27017`.
//!
//! So these stay: `mongod.log`, `collection-0-123.wt`, `config.go` (in
//! `src/config/config.go`), `4.0.10`, `v12.3.4.7674`,
//! `com.xgen.svc.mms.svc.ping.PingSvc` (uppercase, TLD not a TLD),
//! `org.mongodb.driver.protocol.command` (no digit or `-`),
//! `local.oplog.rs`, `agent.info` (`info` is deliberately not in the list).
//!
//! # JSON
//!
//! A line whose first non-blank byte is `{` is walked as JSON: every string
//! (key or value) is scanned on its own, so a replacement never covers a quote
//! or splits an escape sequence, and a line that was valid JSON stays valid. A
//! string with escapes is decoded first (so `\n10.0.0.5` is found), and the
//! replacement covers the whole escaped text. The key of each string value is
//! known, which drives the key rules above (`"user" : "x"` with the audit
//! log's spacing too). Text between strings is scanned as well, in case the
//! line is not JSON after all. Other lines are scanned as text, with the key
//! rules applied to `key: "value"` and `"key":"value"` (legacy text and the
//! JSON inside the Kubernetes wrapper's `contents`).
//!
//! Bytes that are not UTF-8 pass through unchanged outside replaced values; the
//! reported original value is converted lossily.
//!
//! Not replaced: bare collection and field names in query predicates and
//! documents other than e-mail addresses, IPs and host names; single-label
//! host names (`db1`, `ip-10-0-0-5`) unless they are in the request, in a host
//! key, `host=`, or a URL; org/group ids in agent URLs; x509 subjects other
//! than the FQDNs inside them and legacy `principal CN=…`.

use std::net::Ipv6Addr;
use std::sync::Arc;

use memchr::{memchr, memchr2, memrchr};
use regex::bytes::Regex;

/// The kinds of value replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Kind {
    /// IPv4 or IPv6 address (without its port).
    Ip,
    /// Host name.
    Host,
    /// E-mail address.
    Email,
    /// Database or collection name.
    Namespace,
    /// User name.
    User,
    /// Password or key.
    Secret,
}

impl Kind {
    /// The token prefix: `ip`, `host`, `email`, `ns`, `user`, `secret`.
    pub fn prefix(self) -> &'static str {
        match self {
            Kind::Ip => "ip",
            Kind::Host => "host",
            Kind::Email => "email",
            Kind::Namespace => "ns",
            Kind::User => "user",
            Kind::Secret => "secret",
        }
    }

    fn tag(self) -> u8 {
        self as u8
    }
}

/// Replaces sensitive values with consistent tokens. Tokens come from a keyed
/// hash (blake3::keyed_hash) under a per-archive key: the same value gets the
/// same token in every file of one archive, different keys give unlinkable tokens.
/// A Redactor is cheap to clone and Send + Sync; it holds no mutable state, so many
/// threads can redact different files at once and still agree on tokens.
#[derive(Clone)]
pub struct Redactor {
    inner: Arc<Inner>,
}

struct Inner {
    key: [u8; 32],
    /// The request's host names, longest first, case-insensitive.
    known: Option<Known>,
}

enum Known {
    Regex(Regex),
    /// Lowercase names, if the pattern could not be built (never seen: the
    /// alternatives are escaped literals).
    Literals(Vec<Vec<u8>>),
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("Redactor").finish_non_exhaustive()
    }
}

/// A replacement found in one line, in the line's byte offsets.
struct Cand {
    start: usize,
    end: usize,
    kind: Kind,
    /// The value when it differs from `line[start..end]` (decoded JSON escapes).
    value: Option<Vec<u8>>,
}

/// Text to scan: a whole text line, the text between JSON strings, or one JSON
/// string (decoded when it has escapes).
struct Seg<'a> {
    t: &'a [u8],
    /// Offset of `t` in the line.
    base: usize,
    /// For decoded strings: the line offset (relative to `base`) of each byte of
    /// `t`, plus one entry for the end.
    map: Option<&'a [u32]>,
}

impl Seg<'_> {
    fn raw(&self, i: usize) -> usize {
        self.base + self.map.map_or(i, |m| m[i] as usize)
    }

    fn push(&self, out: &mut Vec<Cand>, s: usize, e: usize, kind: Kind) {
        if s >= e {
            return;
        }
        out.push(Cand {
            start: self.raw(s),
            end: self.raw(e),
            kind,
            value: self.map.map(|_| self.t[s..e].to_vec()),
        });
    }
}

// Byte classes.
const RUN: u8 = 1; // [A-Za-z0-9.-]: words that may be IPv4 or host names
const LOCAL: u8 = 2; // e-mail local part: RUN + _ % +
const HEX: u8 = 4;
const ALNUM: u8 = 8;
const SPECIAL: u8 = 16; // ':' and '/': IPv6 without a leading group, home dirs
const SPACE: u8 = 32;
const PASS: u8 = 64; // may be part of a password before '@'
const HOSTCH: u8 = 128; // host name in a host key value: RUN + '_'

const CLASS: [u8; 256] = {
    let mut c = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let mut v = 0;
        let alnum = b.is_ascii_alphanumeric();
        if alnum || b == b'.' || b == b'-' {
            v |= RUN | LOCAL | HOSTCH;
        }
        if b == b'_' {
            v |= HOSTCH;
        }
        if b == b'_' || b == b'%' || b == b'+' {
            v |= LOCAL;
        }
        if b.is_ascii_hexdigit() {
            v |= HEX;
        }
        if alnum {
            v |= ALNUM;
        }
        if b == b':' || b == b'/' {
            v |= SPECIAL;
        }
        if b == b' ' || b == b'\t' || b == b'\r' || b == b'\n' || b == 0x0b || b == 0x0c {
            v |= SPACE;
        }
        if b > b' '
            && b != 0x7f
            && !matches!(
                b,
                b'"' | b'\''
                    | b':'
                    | b'/'
                    | b'@'
                    | b','
                    | b';'
                    | b'<'
                    | b'>'
                    | b'('
                    | b')'
                    | b'['
                    | b']'
                    | b'{'
                    | b'}'
                    | b'`'
            )
        {
            v |= PASS;
        }
        c[i] = v;
        i += 1;
    }
    c
};

#[inline]
fn is(b: u8, class: u8) -> bool {
    CLASS[b as usize] & class != 0
}

/// Real or internal TLDs that are neither file extensions nor common field
/// names (so not `rs`, `py`, `sh`, `md`, `pl`, `so`, `zip`, `info`, `name`,
/// `id`, `me`, `it`, `test`).
const KNOWN_TLDS: &[&[u8]] = &[
    b"com",
    b"net",
    b"org",
    b"edu",
    b"gov",
    b"mil",
    b"int",
    b"io",
    b"co",
    b"ai",
    b"biz",
    b"cloud",
    b"dev",
    b"tech",
    b"online",
    b"site",
    b"xyz",
    b"eu",
    b"asia",
    b"us",
    b"uk",
    b"de",
    b"fr",
    b"nl",
    b"ch",
    b"at",
    b"be",
    b"ca",
    b"au",
    b"nz",
    b"jp",
    b"cn",
    b"kr",
    b"in",
    b"br",
    b"mx",
    b"es",
    b"se",
    b"no",
    b"dk",
    b"fi",
    b"ie",
    b"il",
    b"sg",
    b"hk",
    b"tw",
    b"za",
    b"ru",
    b"cz",
    b"local",
    b"internal",
    b"lan",
    b"localdomain",
    b"corp",
    b"home",
    b"intranet",
    b"intra",
    b"private",
    b"localhost",
    b"arpa",
    b"example",
];

/// Last labels that make a dotted word a file name rather than a host.
const FILE_EXTS: &[&[u8]] = &[
    b"gz", b"tgz", b"zip", b"tar", b"zst", b"bz", b"xz", b"log", b"txt", b"json", b"yaml", b"yml",
    b"conf", b"cfg", b"ini", b"pem", b"crt", b"key", b"pid", b"sock", b"wt", b"js", b"ts", b"go",
    b"py", b"rs", b"java", b"class", b"jar", b"so", b"dll", b"exe", b"sh", b"md", b"xml", b"html",
    b"bson", b"data", b"lock", b"tmp", b"bak", b"old", b"rpm", b"deb", b"msi", b"cpp", b"h",
    b"hpp", b"rb", b"csv", b"dat", b"bin", b"out", b"err", b"turtle",
];

/// Collections of `admin`, `local` and `config` that MongoDB itself creates.
const INTERNAL_COLLS: &[&[u8]] = &[
    b"oplog.",
    b"startup_log",
    b"replset.",
    b"system.",
    b"transactions",
    b"image_collection",
    b"cache.",
    b"tenantMigration",
    b"external_validation_keys",
    b"chunks",
    b"collections",
    b"databases",
    b"shards",
    b"version",
    b"settings",
    b"mongos",
    b"lockpings",
    b"locks",
    b"tags",
    b"migrations",
    b"changelog",
    b"actionlog",
    b"rangeDeletions",
    b"migrationCoordinators",
    b"placementHistory",
    b"clusterParameters",
    b"shardSplitDonors",
    b"shardMerge",
    b"reshardingOperations",
    b"localReshardingOperations",
    b"vectorClock",
    b"compactStructuredEncryptionCoordinator",
    b"$cmd",
];

fn is_system_db(db: &[u8]) -> bool {
    matches!(db, b"admin" | b"local" | b"config" | b"$external")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyRule {
    /// `db.coll` or `db`.
    Ns,
    /// A database name.
    Db,
    /// A collection name (database unknown).
    Coll,
    User,
    Secret,
    /// `host[:port]`, maybe `set/h1:p,h2:p`. `strict`: only when it has a
    /// dot or a port (the key is also used for other things).
    Host {
        strict: bool,
    },
    /// `db.user` (`saslSupportedMechs`).
    DbUser,
}

fn key_rule(k: &[u8]) -> Option<KeyRule> {
    Some(match k {
        b"ns" | b"namespace" | b"nss" | b"fromNs" | b"toNs" | b"sourceNamespace"
        | b"targetNamespace" | b"renameCollection" => KeyRule::Ns,
        b"db" | b"$db" | b"dbName" | b"database" | b"authenticationDatabase" => KeyRule::Db,
        b"collection" | b"collectionName" | b"find" | b"insert" | b"update" | b"delete"
        | b"aggregate" | b"count" | b"distinct" | b"createIndexes" | b"dropIndexes"
        | b"findAndModify" | b"findandmodify" | b"listIndexes" | b"collMod" | b"create"
        | b"drop" | b"mapReduce" | b"collStats" | b"validate" | b"compact" | b"viewOn" => {
            KeyRule::Coll
        }
        b"user" | b"principalName" | b"userName" | b"username" | b"principal" => KeyRule::User,
        b"pwd" | b"password" | b"passwd" | b"secret" | b"apiKey" | b"privateKey"
        | b"privateApiKey" | b"clientSecret" | b"accessToken" => KeyRule::Secret,
        b"host"
        | b"hostAndPort"
        | b"hostName"
        | b"hostname"
        | b"hosts"
        | b"syncSource"
        | b"previousSyncSource"
        | b"newSyncSource"
        | b"syncSourceHost"
        | b"senderHost"
        | b"passives"
        | b"arbiters" => KeyRule::Host { strict: false },
        b"primary" | b"me" | b"from" | b"target" => KeyRule::Host { strict: true },
        b"saslSupportedMechs" => KeyRule::DbUser,
        _ => return None,
    })
}

fn is_secret_word(w: &[u8]) -> bool {
    w.eq_ignore_ascii_case(b"password")
        || w.eq_ignore_ascii_case(b"passwd")
        || w.eq_ignore_ascii_case(b"pwd")
        || w.eq_ignore_ascii_case(b"secret")
        || w.eq_ignore_ascii_case(b"apikey")
}

/// `a.b.c.d` with each part 1-3 digits and at most 255.
fn parse_ipv4(b: &[u8]) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut part = 0;
    let mut val: u32 = 0;
    let mut digits = 0;
    for &c in b {
        if c.is_ascii_digit() {
            digits += 1;
            val = val * 10 + u32::from(c - b'0');
            if digits > 3 || val > 255 {
                return None;
            }
        } else if c == b'.' {
            if digits == 0 || part == 3 {
                return None;
            }
            out[part] = val as u8;
            part += 1;
            val = 0;
            digits = 0;
        } else {
            return None;
        }
    }
    if part != 3 || digits == 0 {
        return None;
    }
    out[3] = val as u8;
    Some(out)
}

fn ipv4_kept(a: [u8; 4]) -> bool {
    a[0] == 127 || a == [0, 0, 0, 0]
}

fn parse_ipv6(b: &[u8]) -> Option<Ipv6Addr> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

fn ipv6_kept(a: &Ipv6Addr) -> bool {
    a.is_loopback()
        || a.is_unspecified()
        || a.to_ipv4_mapped().is_some_and(|v4| ipv4_kept(v4.octets()))
}

/// Whether `b` is an address (v4 or v6) and whether it is one we keep.
fn ip_class(b: &[u8]) -> Option<bool> {
    if let Some(a) = parse_ipv4(b) {
        return Some(ipv4_kept(a));
    }
    if b.contains(&b':') {
        if let Some(a) = parse_ipv6(b) {
            return Some(ipv6_kept(&a));
        }
    }
    None
}

/// The host name heuristic (see the module docs). `r` is trimmed and only
/// holds `[A-Za-z0-9.-]`.
fn host_like(r: &[u8], port_follows: bool) -> bool {
    let mut labels = 0;
    let mut has_upper = false;
    let mut any_all_digit = false;
    let mut alpha_before_tld = false;
    let mut digit_or_hyphen_before_tld = false;
    let mut first: &[u8] = &[];
    let mut tld: &[u8] = &[];
    for label in r.split(|&b| b == b'.') {
        if label.is_empty() {
            return false;
        }
        if labels == 0 {
            first = label;
        }
        if labels > 0 {
            // The previous `tld` was not the last label.
            alpha_before_tld |= tld.iter().any(u8::is_ascii_alphabetic);
            digit_or_hyphen_before_tld |= tld.iter().any(|b| b.is_ascii_digit() || *b == b'-');
        }
        has_upper |= label.iter().any(u8::is_ascii_uppercase);
        any_all_digit |= label.iter().all(u8::is_ascii_digit);
        tld = label;
        labels += 1;
    }
    if labels < 2 || tld.len() < 2 || !tld.iter().all(u8::is_ascii_alphabetic) {
        return false;
    }
    let mut lower = [0u8; 16];
    if tld.len() <= lower.len() {
        let l = &mut lower[..tld.len()];
        l.copy_from_slice(tld);
        l.make_ascii_lowercase();
        if KNOWN_TLDS.contains(&&*l) {
            return alpha_before_tld;
        }
        if FILE_EXTS.contains(&&*l) {
            return false;
        }
    }
    labels >= 3
        && !has_upper
        && !any_all_digit
        && !is_system_db(first)
        && (port_follows || digit_or_hyphen_before_tld)
}

/// MongoDB's own public domains, kept.
fn host_allowed(r: &[u8]) -> bool {
    let ends = |suffix: &[u8]| {
        r.len() >= suffix.len() && r[r.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    r.eq_ignore_ascii_case(b"localhost")
        || r.eq_ignore_ascii_case(b"mongodb.com")
        || r.eq_ignore_ascii_case(b"mongodb.org")
        || ends(b".mongodb.com")
        || ends(b".mongodb.org")
}

fn trim_run(t: &[u8], mut s: usize, mut e: usize) -> (usize, usize) {
    while s < e && (t[s] == b'.' || t[s] == b'-') {
        s += 1;
    }
    while e > s && (t[e - 1] == b'.' || t[e - 1] == b'-') {
        e -= 1;
    }
    (s, e)
}

/// Decodes the JSON string `raw` (without quotes) into `dec`, with `map[i]` the
/// offset in `raw` of the escape that produced `dec[i]` and a last entry
/// `raw.len()`.
fn decode_json_string(raw: &[u8], dec: &mut Vec<u8>, map: &mut Vec<u32>) {
    dec.clear();
    map.clear();
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b != b'\\' {
            dec.push(b);
            map.push(i as u32);
            i += 1;
            continue;
        }
        let start = i;
        let Some(&c) = raw.get(i + 1) else {
            // A lone backslash at the end: keep it.
            dec.push(b);
            map.push(i as u32);
            break;
        };
        i += 2;
        let mut buf = [0u8; 4];
        let bytes: &[u8] = match c {
            b'n' => b"\n",
            b't' => b"\t",
            b'r' => b"\r",
            b'b' => b"\x08",
            b'f' => b"\x0c",
            b'u' => {
                let hex4 = |at: usize| -> Option<u32> {
                    let h = raw.get(at..at + 4)?;
                    u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
                };
                match hex4(i) {
                    Some(hi) => {
                        i += 4;
                        let mut cp = hi;
                        if (0xD800..0xDC00).contains(&hi)
                            && raw.get(i) == Some(&b'\\')
                            && raw.get(i + 1) == Some(&b'u')
                        {
                            if let Some(lo) = hex4(i + 2).filter(|lo| (0xDC00..0xE000).contains(lo))
                            {
                                cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                                i += 6;
                            }
                        }
                        char::from_u32(cp)
                            .unwrap_or(char::REPLACEMENT_CHARACTER)
                            .encode_utf8(&mut buf)
                            .as_bytes()
                    }
                    None => b"u",
                }
            }
            // `\"`, `\\`, `\/`, and invalid escapes: the character itself.
            _ => std::slice::from_ref(&raw[start + 1]),
        };
        for &d in bytes {
            dec.push(d);
            map.push(start as u32);
        }
    }
    map.push(raw.len() as u32);
}

impl Redactor {
    /// A redactor with the archive's `key`. `known_hosts` are the request's host
    /// names: they are replaced wherever they appear (case-insensitive, also as
    /// the host of `host:port` and inside longer words such as
    /// `metrics.monitor-db1.example.net:27017.info`), unless a letter or digit
    /// (or a `.`) comes right before them or a longer host name continues them.
    pub fn new(key: [u8; 32], known_hosts: &[String]) -> Redactor {
        let mut hosts: Vec<String> = known_hosts
            .iter()
            .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        hosts.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        hosts.dedup();
        let known = if hosts.is_empty() {
            None
        } else {
            let alternatives: Vec<String> = hosts.iter().map(|h| regex::escape(h)).collect();
            let pattern = format!("(?i-u:{})", alternatives.join("|"));
            Some(
                match regex::bytes::RegexBuilder::new(&pattern)
                    .size_limit(64 << 20)
                    .build()
                {
                    Ok(re) => Known::Regex(re),
                    Err(_) => Known::Literals(hosts.into_iter().map(String::into_bytes).collect()),
                },
            )
        };
        Redactor {
            inner: Arc::new(Inner { key, known }),
        }
    }

    /// A redactor with a fresh random key (one per archive).
    pub fn with_random_key(known_hosts: &[String]) -> Redactor {
        use rand::RngCore;
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Redactor::new(key, known_hosts)
    }

    /// The token for a value, e.g. "host-1a2b3c4d5e" (only [a-z0-9-] so it is safe inside JSON strings and paths).
    ///
    /// Host names and e-mail addresses are compared case-insensitively, IP
    /// addresses by value (`::FFFF:10.0.0.1` is `10.0.0.1`).
    pub fn token(&self, kind: Kind, value: &str) -> String {
        self.token_bytes(kind, value.as_bytes())
    }

    fn token_bytes(&self, kind: Kind, value: &[u8]) -> String {
        let mut input = Vec::with_capacity(value.len() + 1);
        input.push(kind.tag());
        match kind {
            Kind::Host | Kind::Email => {
                let v = if kind == Kind::Host {
                    let mut e = value.len();
                    while e > 0 && value[e - 1] == b'.' {
                        e -= 1;
                    }
                    &value[..e]
                } else {
                    value
                };
                input.extend(v.iter().map(u8::to_ascii_lowercase));
            }
            Kind::Ip => {
                if let Some(a) = parse_ipv4(value) {
                    input.extend_from_slice(std::net::Ipv4Addr::from(a).to_string().as_bytes());
                } else if let Some(a) = parse_ipv6(value) {
                    let s = match a.to_ipv4_mapped() {
                        Some(v4) => v4.to_string(),
                        None => a.to_string(),
                    };
                    input.extend_from_slice(s.as_bytes());
                } else {
                    input.extend_from_slice(value);
                }
            }
            _ => input.extend_from_slice(value),
        }
        let hash = blake3::keyed_hash(&self.inner.key, &input);
        let prefix = kind.prefix();
        let mut out = String::with_capacity(prefix.len() + 11);
        out.push_str(prefix);
        out.push('-');
        out.push_str(&hex::encode(&hash.as_bytes()[..5]));
        out
    }

    /// Redacts one line (without its '\n'), appending the result to `out`. Returns the replacements made, each as (kind, original value, token) so that the caller can build the token→value map.
    ///
    /// The return value is the number of replacements (the number of entries
    /// pushed to `found`); the same value found twice is reported twice.
    pub fn redact_line(
        &self,
        line: &[u8],
        out: &mut Vec<u8>,
        found: &mut Vec<(Kind, String, String)>,
    ) -> usize {
        let mut cands = Vec::new();
        let first = line.iter().position(|&b| !is(b, SPACE) && b != 0x1e);
        if first.is_some_and(|i| line[i] == b'{') {
            self.scan_json(line, &mut cands);
        } else {
            let seg = Seg {
                t: line,
                base: 0,
                map: None,
            };
            self.scan(&seg, 0, line.len(), true, &mut cands);
        }
        if let Some(known) = &self.inner.known {
            let knowns = known_matches(known, line);
            if !knowns.is_empty() {
                cands = merge_known(cands, knowns);
            }
        }
        if cands.is_empty() {
            out.extend_from_slice(line);
            return 0;
        }
        let mut prev = 0;
        for c in &cands {
            debug_assert!(c.start >= prev && c.end > c.start && c.end <= line.len());
            out.extend_from_slice(&line[prev..c.start]);
            let value = c.value.as_deref().unwrap_or(&line[c.start..c.end]);
            let token = self.token_bytes(c.kind, value);
            out.extend_from_slice(token.as_bytes());
            found.push((c.kind, String::from_utf8_lossy(value).into_owned(), token));
            prev = c.end;
        }
        out.extend_from_slice(&line[prev..]);
        cands.len()
    }

    /// Walks a JSON line: each string is scanned on its own, with its key.
    fn scan_json(&self, line: &[u8], cands: &mut Vec<Cand>) {
        let n = line.len();
        let mut dec = Vec::new();
        let mut map = Vec::new();
        let mut p = 0;
        // The key of the next string when it is a value.
        let mut pending: Option<(usize, usize)> = None;
        // The key of an array of strings (`"hosts":["a:1","b:2"]`).
        let mut array_key: Option<(usize, usize)> = None;
        while p < n {
            let q = memchr(b'"', &line[p..]).map_or(n, |x| p + x);
            if q > p {
                let gap = Seg {
                    t: &line[p..q],
                    base: p,
                    map: None,
                };
                self.scan(&gap, 0, q - p, false, cands);
                if array_key.is_some() && memchr2(b']', b'{', &line[p..q]).is_some() {
                    array_key = None;
                }
            }
            if q >= n {
                break;
            }
            let s = q + 1;
            let mut j = s;
            let mut escaped = false;
            let e = loop {
                if j >= n {
                    break n;
                }
                match memchr2(b'"', b'\\', &line[j..]) {
                    Some(x) if line[j + x] == b'\\' => {
                        escaped = true;
                        j += x + 2;
                    }
                    Some(x) => break j + x,
                    None => break n,
                }
            };
            let key = pending.take().or(array_key);
            let rule = key.and_then(|(ks, ke)| key_rule(&line[ks..ke]));
            if s < e {
                let seg = if escaped {
                    decode_json_string(&line[s..e], &mut dec, &mut map);
                    Seg {
                        t: &dec,
                        base: s,
                        map: Some(&map),
                    }
                } else {
                    Seg {
                        t: &line[s..e],
                        base: s,
                        map: None,
                    }
                };
                let len = seg.t.len();
                if !rule.is_some_and(|r| self.apply_rule(r, &seg, 0, len, cands)) {
                    self.scan(&seg, 0, len, true, cands);
                }
            }
            p = (e + 1).min(n);
            // Is this string a key?
            let mut k = p;
            while k < n && is(line[k], SPACE) {
                k += 1;
            }
            if k < n && line[k] == b':' {
                k += 1;
                while k < n && is(line[k], SPACE) {
                    k += 1;
                }
                if k < n && line[k] == b'"' {
                    pending = Some((s, e));
                } else if k < n && line[k] == b'[' {
                    array_key = Some((s, e));
                }
            }
        }
    }

    /// Scans `seg.t[from..to]` for everything but known hosts. `text`: also
    /// the key and keyword rules of text lines.
    fn scan(&self, seg: &Seg, from: usize, to: usize, text: bool, out: &mut Vec<Cand>) {
        let t = seg.t;
        let mut i = from;
        while i < to {
            let b = t[i];
            if !is(b, RUN) {
                if is(b, SPECIAL) {
                    if b == b':' {
                        if i + 1 < to
                            && t[i + 1] == b':'
                            && (i == from || !v6_left_blocker(t[i - 1]))
                        {
                            if let Some(end) = self.try_ipv6(seg, i, to, out) {
                                i = end;
                                continue;
                            }
                        }
                    } else if let Some(end) = self.try_home(seg, i, to, out) {
                        i = end;
                        continue;
                    }
                }
                i += 1;
                continue;
            }
            let s = i;
            let mut dot = false;
            while i < to && is(t[i], RUN) {
                dot |= t[i] == b'.';
                i += 1;
            }
            let e = i;
            let next = if e < to { t[e] } else { 0 };
            match next {
                b'@' => {
                    i = self.at_sign(seg, e, from, to, out);
                    continue;
                }
                b':' => {
                    if t[e..to].starts_with(b"://") {
                        i = self.url(seg, e + 3, to, out);
                        continue;
                    }
                    if e - s <= 4
                        && t[s..e].iter().all(|&b| is(b, HEX))
                        && (s == from || !v6_left_blocker(t[s - 1]))
                    {
                        if let Some(end) = self.try_ipv6(seg, s, to, out) {
                            i = end;
                            continue;
                        }
                    }
                    if !dot {
                        if let Some(end) = self.word_rule(seg, s, e, from, to, text, out) {
                            i = end;
                            continue;
                        }
                    }
                }
                b'=' | b' ' | b'"' if !dot => {
                    if let Some(end) = self.word_rule(seg, s, e, from, to, text, out) {
                        i = end;
                        continue;
                    }
                }
                _ => {}
            }
            if dot {
                self.dotted(seg, s, e, to, out);
            }
        }
    }

    /// A word with dots: IPv4, host name, or a word with an IPv4 inside.
    fn dotted(&self, seg: &Seg, s: usize, e: usize, to: usize, out: &mut Vec<Cand>) {
        let t = seg.t;
        let (s, e) = trim_run(t, s, e);
        if s >= e {
            return;
        }
        let r = &t[s..e];
        if r.iter().all(|&b| b.is_ascii_digit() || b == b'.') {
            if let Some(a) = parse_ipv4(r) {
                if !ipv4_kept(a) {
                    seg.push(out, s, e, Kind::Ip);
                }
            }
            return;
        }
        let port_follows = e + 1 < to && t[e] == b':' && t[e + 1].is_ascii_digit();
        if host_like(r, port_follows) {
            if !host_allowed(r) {
                seg.push(out, s, e, Kind::Host);
            }
            return;
        }
        // An IPv4 inside a longer word (`mongo-10.0.0.5`), unless a letter
        // touches it (`v1.2.3.4` is a version).
        let mut k = s;
        while k < e {
            if !t[k].is_ascii_digit() {
                k += 1;
                continue;
            }
            let a = k;
            while k < e && (t[k].is_ascii_digit() || t[k] == b'.') {
                k += 1;
            }
            let (a2, b2) = trim_run(t, a, k);
            let touches =
                (a > s && t[a - 1].is_ascii_alphabetic()) || (k < e && t[k].is_ascii_alphabetic());
            if !touches {
                if let Some(ip) = parse_ipv4(&t[a2..b2]) {
                    if !ipv4_kept(ip) {
                        seg.push(out, a2, b2, Kind::Ip);
                    }
                }
            }
        }
    }

    /// An IPv6 address starting at `s` (a hex group or `::`). Returns the end
    /// of the scanned extent when it was an address (replaced or kept).
    fn try_ipv6(&self, seg: &Seg, s: usize, to: usize, out: &mut Vec<Cand>) -> Option<usize> {
        let t = seg.t;
        let mut k = s;
        let mut colons = 0;
        while k < to && (is(t[k], HEX) || t[k] == b':' || t[k] == b'.') {
            colons += usize::from(t[k] == b':');
            k += 1;
        }
        if colons < 2 || (k < to && (is(t[k], ALNUM) || t[k] == b'_')) {
            return None;
        }
        let mut end = k;
        while end > s && t[end - 1] == b'.' {
            end -= 1;
        }
        let cand = &t[s..end];
        let double = memchr::memmem::find(cand, b"::").is_some();
        if !double && colons < 7 {
            return None;
        }
        let addr = parse_ipv6(cand).map(|a| (a, end)).or_else(|| {
            // `fe80::1:27017`: the last group is a port.
            let c = memrchr(b':', cand)?;
            let port = &cand[c + 1..];
            if port.is_empty() || !port.iter().all(u8::is_ascii_digit) || c == 0 {
                return None;
            }
            parse_ipv6(&cand[..c]).map(|a| (a, s + c))
        });
        let (addr, addr_end) = addr?;
        if !t[s..addr_end].iter().any(u8::is_ascii_digit) {
            return None; // `dead::beef`, `::`: more likely code than an address
        }
        if !ipv6_kept(&addr) {
            seg.push(out, s, addr_end, Kind::Ip);
        }
        Some(k)
    }

    /// `/home/<user>` and `/Users/<user>`.
    fn try_home(&self, seg: &Seg, i: usize, to: usize, out: &mut Vec<Cand>) -> Option<usize> {
        let t = &seg.t[i..to];
        let skip = if t.starts_with(b"/home/") {
            6
        } else if t.starts_with(b"/Users/") {
            7
        } else {
            return None;
        };
        let s = i + skip;
        let mut e = s;
        while e < to && is(seg.t[e], HOSTCH) {
            e += 1;
        }
        if e == s || seg.t[s..e] == *b"Shared" {
            return None;
        }
        seg.push(out, s, e, Kind::User);
        Some(e)
    }

    /// The word before `t[e]`, an '@': e-mail, `user:pass@host` or `user@db`.
    fn at_sign(&self, seg: &Seg, e: usize, from: usize, to: usize, out: &mut Vec<Cand>) -> usize {
        let t = seg.t;
        // The domain.
        let ds = e + 1;
        let mut de = ds;
        while de < to && is(t[de], RUN) {
            de += 1;
        }
        let (_, de) = trim_run(t, ds, de);
        let de = de.max(ds);
        // `user:pass@host` (no scheme): the password may hold more than word bytes.
        let mut ps = e;
        while ps > from && is(t[ps - 1], PASS) {
            ps -= 1;
        }
        if ps > from && t[ps - 1] == b':' && ps < e {
            let mut us = ps - 1;
            while us > from && is(t[us - 1], LOCAL) {
                us -= 1;
            }
            let user = &t[us..ps - 1];
            if !user.is_empty()
                && !user.iter().all(u8::is_ascii_digit)
                && !user.eq_ignore_ascii_case(b"mailto")
                && de > ds
            {
                seg.push(out, us, ps - 1, Kind::User);
                seg.push(out, ps, e, Kind::Secret);
                self.host_item(seg, ds, self.port_end(t, de, to), true, out);
                return self.port_end(t, de, to);
            }
        }
        let mut ls = e;
        while ls > from && is(t[ls - 1], LOCAL) {
            ls -= 1;
        }
        while ls < e && t[ls] == b'.' {
            ls += 1;
        }
        if ls >= e || de == ds {
            return e + 1;
        }
        let domain = &t[ds..de];
        match memrchr(b'.', domain) {
            Some(d) => {
                let tld = &domain[d + 1..];
                if tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic) {
                    seg.push(out, ls, de, Kind::Email);
                    return de;
                }
                e + 1
            }
            None => {
                // `user@db`.
                let user = &t[ls..e];
                if user != b"__system" && !user.iter().all(u8::is_ascii_digit) {
                    seg.push(out, ls, e, Kind::User);
                }
                de
            }
        }
    }

    /// The end of an optional `:port` at `e`.
    fn port_end(&self, t: &[u8], e: usize, to: usize) -> usize {
        if e + 1 < to && t[e] == b':' && t[e + 1].is_ascii_digit() {
            let mut k = e + 1;
            while k < to && t[k].is_ascii_digit() {
                k += 1;
            }
            k
        } else {
            e
        }
    }

    /// After `scheme://` at `a`: user info and hosts.
    fn url(&self, seg: &Seg, a: usize, to: usize, out: &mut Vec<Cand>) -> usize {
        let t = seg.t;
        let hard_end = t[a..to]
            .iter()
            .position(|&b| is(b, SPACE) || matches!(b, b'"' | b'\'' | b'<' | b'>' | b'`'))
            .map_or(to, |x| a + x);
        let stop = t[a..hard_end]
            .iter()
            .position(|&b| matches!(b, b'/' | b'?' | b'#'))
            .map_or(hard_end, |x| a + x);
        let mut hs = a;
        if let Some(at) = memrchr(b'@', &t[a..stop]).map(|x| a + x) {
            match memchr(b':', &t[a..at]).map(|x| a + x) {
                Some(c) => {
                    seg.push(out, a, c, Kind::User);
                    seg.push(out, c + 1, at, Kind::Secret);
                }
                None => seg.push(out, a, at, Kind::User),
            }
            hs = at + 1;
        }
        let host_end = t[hs..hard_end]
            .iter()
            .position(|&b| matches!(b, b'/' | b'?' | b'#' | b')' | b'}' | b';' | b'|' | b'\\'))
            .map_or(hard_end, |x| hs + x);
        let mut k = hs;
        while k < host_end {
            let ie = memchr(b',', &t[k..host_end]).map_or(host_end, |x| k + x);
            if !self.host_item(seg, k, ie, true, out) {
                // Not `host[:port]`: likely a password that was not encoded.
                seg.push(out, k, ie, Kind::Secret);
            }
            k = ie + 1;
        }
        host_end
    }

    /// One `host[:port]` or `[v6]:port` in `t[s..e]`. `any`: any word is a
    /// host (URL authority, host keys); otherwise only with a dot or a port.
    /// Returns false when the text does not have that shape.
    fn host_item(&self, seg: &Seg, s: usize, e: usize, any: bool, out: &mut Vec<Cand>) -> bool {
        let t = seg.t;
        let (mut s, mut e) = (s, e);
        while s < e && is(t[s], SPACE) {
            s += 1;
        }
        while e > s && is(t[e - 1], SPACE) {
            e -= 1;
        }
        if s == e {
            return true;
        }
        let v = &t[s..e];
        if v[0] == b'[' {
            let Some(close) = memchr(b']', v) else {
                return false;
            };
            let port = &v[close + 1..];
            if !(port.is_empty() || port[0] == b':' && port[1..].iter().all(u8::is_ascii_digit)) {
                return false;
            }
            return match ip_class(&v[1..close]) {
                Some(kept) => {
                    if !kept {
                        seg.push(out, s + 1, s + close, Kind::Ip);
                    }
                    true
                }
                None => false,
            };
        }
        if let Some(kept) = ip_class(v) {
            if !kept {
                seg.push(out, s, e, Kind::Ip);
            }
            return true;
        }
        let (host_end, has_port) = match memrchr(b':', v) {
            Some(c) if v[c + 1..].iter().all(u8::is_ascii_digit) => (s + c, c + 1 < v.len()),
            Some(_) => return false,
            None => (e, false),
        };
        let h = &t[s..host_end];
        if h.is_empty() || !h.iter().all(|&b| is(b, HOSTCH)) {
            return false;
        }
        if let Some(kept) = ip_class(h) {
            if !kept {
                seg.push(out, s, host_end, Kind::Ip);
            }
            return true;
        }
        if !h.iter().any(u8::is_ascii_alphabetic) {
            return false;
        }
        if !any && !has_port && !h.contains(&b'.') {
            return false;
        }
        let (hs, he) = trim_run(t, s, host_end);
        if hs < he && !host_allowed(&t[hs..he]) {
            seg.push(out, hs, he, Kind::Host);
        }
        true
    }

    /// A host key's value: `host[:port]`, a list, or `set/h1:p1,h2:p2`.
    fn host_value(&self, seg: &Seg, s: usize, e: usize, strict: bool, out: &mut Vec<Cand>) -> bool {
        let t = seg.t;
        let v = &t[s..e];
        let s = match memchr(b'/', v) {
            Some(x) if !v.contains(&b'[') => s + x + 1,
            _ => s,
        };
        let mark = out.len();
        let mut k = s;
        let mut all = true;
        while k <= e {
            let ie = memchr(b',', &t[k..e]).map_or(e, |x| k + x);
            if !self.host_item(seg, k, ie, !strict, out) {
                all = false;
                break;
            }
            k = ie + 1;
        }
        if !all {
            out.truncate(mark);
        }
        all
    }

    /// A database name, or `db.coll`.
    fn ns_value(&self, seg: &Seg, s: usize, e: usize, out: &mut Vec<Cand>) {
        let t = seg.t;
        match memchr(b'.', &t[s..e]) {
            Some(d) => {
                let db = &t[s..s + d];
                let system = is_system_db(db);
                if !system {
                    seg.push(out, s, s + d, Kind::Namespace);
                }
                self.coll_value(seg, s + d + 1, e, Some(system), out);
            }
            None => {
                if !is_system_db(&t[s..e]) {
                    seg.push(out, s, e, Kind::Namespace);
                }
            }
        }
    }

    /// A collection name; `system_db`: whether its database is a system one
    /// (None: unknown).
    fn coll_value(
        &self,
        seg: &Seg,
        s: usize,
        e: usize,
        system_db: Option<bool>,
        out: &mut Vec<Cand>,
    ) {
        let c = &seg.t[s..e];
        if c.is_empty() || c == b"$cmd" || c.starts_with(b"$cmd.") {
            return;
        }
        if c.starts_with(b"system.buckets.") {
            seg.push(out, s + 15, e, Kind::Namespace);
            return;
        }
        if c.starts_with(b"system.") {
            return;
        }
        let internal = match system_db {
            Some(true) => INTERNAL_COLLS.iter().any(|p| c.starts_with(p)),
            Some(false) => false,
            None => c == b"oplog.rs" || c == b"startup_log" || c.starts_with(b"replset."),
        };
        if !internal {
            seg.push(out, s, e, Kind::Namespace);
        }
    }

    fn user_value(&self, seg: &Seg, s: usize, e: usize, out: &mut Vec<Cand>) {
        let v = &seg.t[s..e];
        if !v.is_empty() && v != b"__system" {
            seg.push(out, s, e, Kind::User);
        }
    }

    /// Applies a key rule to the value `seg.t[s..e]`. False: the value did not
    /// have the expected shape, scan it as text.
    fn apply_rule(
        &self,
        rule: KeyRule,
        seg: &Seg,
        s: usize,
        e: usize,
        out: &mut Vec<Cand>,
    ) -> bool {
        if s >= e {
            return true;
        }
        match rule {
            KeyRule::Ns => self.ns_value(seg, s, e, out),
            KeyRule::Db => {
                if !is_system_db(&seg.t[s..e]) {
                    seg.push(out, s, e, Kind::Namespace);
                }
            }
            KeyRule::Coll => self.coll_value(seg, s, e, None, out),
            KeyRule::User => self.user_value(seg, s, e, out),
            KeyRule::Secret => seg.push(out, s, e, Kind::Secret),
            KeyRule::Host { strict } => return self.host_value(seg, s, e, strict, out),
            KeyRule::DbUser => match memchr(b'.', &seg.t[s..e]) {
                Some(d) => {
                    if !is_system_db(&seg.t[s..s + d]) {
                        seg.push(out, s, s + d, Kind::Namespace);
                    }
                    self.user_value(seg, s + d + 1, e, out);
                }
                None => self.user_value(seg, s, e, out),
            },
        }
        true
    }

    /// Rules on a word without dots followed by `:`, `=`, ` ` or `"`.
    /// Returns where scanning resumes when a rule applied.
    #[allow(clippy::too_many_arguments)]
    fn word_rule(
        &self,
        seg: &Seg,
        s: usize,
        e: usize,
        from: usize,
        to: usize,
        text: bool,
        out: &mut Vec<Cand>,
    ) -> Option<usize> {
        let t = seg.t;
        let w = &t[s..e];
        let next = t[e];
        let skip_spaces = |mut k: usize| {
            while k < to && (t[k] == b' ' || t[k] == b'\t') {
                k += 1;
            }
            k
        };
        // `password=…`, `pwd: …` everywhere.
        if (next == b'=' || next == b':') && is_secret_word(w) {
            let mut k = skip_spaces(e + 1);
            let quoted = k < to && (t[k] == b'"' || t[k] == b'\'');
            let q = if quoted { t[k] } else { 0 };
            if quoted {
                k += 1;
            }
            let mut v = k;
            while v < to
                && if quoted {
                    t[v] != q
                } else {
                    !is(t[v], SPACE)
                        && !matches!(t[v], b'&' | b',' | b';' | b'"' | b'\'' | b')' | b'}' | b']')
                }
            {
                v += 1;
            }
            if v > k {
                seg.push(out, k, v, Kind::Secret);
                return Some(v);
            }
            return None;
        }
        if !text {
            return None;
        }
        // `key: "value"`, `"key" : "value"`, `$db: "value"`.
        if next == b':' || next == b'"' {
            let ks = if s > from && t[s - 1] == b'$' {
                s - 1
            } else {
                s
            };
            let mut k = e;
            if next == b'"' {
                if !(ks > from && t[ks - 1] == b'"') {
                    return None;
                }
                k += 1;
                k = skip_spaces(k);
            }
            if k < to && t[k] == b':' {
                let k = skip_spaces(k + 1);
                if k < to && t[k] == b'"' {
                    if let Some(rule) = key_rule(&t[ks..e]) {
                        let vs = k + 1;
                        let ve = memchr(b'"', &t[vs..to]).map_or(to, |x| vs + x);
                        if !self.apply_rule(rule, seg, vs, ve, out) {
                            self.scan(seg, vs, ve, true, out);
                        }
                        return Some(ve);
                    }
                }
            }
        }
        // Keywords of legacy text lines.
        match w {
            b"command" | b"query" | b"getmore" | b"update" | b"insert" | b"remove"
            | b"killcursors" | b"createCollection" | b"dropCollection" | b"on" => {
                let mut k = e;
                if k < to && t[k] == b':' {
                    k += 1;
                } else if w == b"on" {
                    return None;
                }
                if k >= to || t[k] != b' ' {
                    return None;
                }
                let vs = skip_spaces(k);
                let mut ve = vs;
                while ve < to
                    && !is(t[ve], SPACE)
                    && !matches!(
                        t[ve],
                        b'{' | b'}' | b'[' | b']' | b'(' | b')' | b',' | b';' | b'"' | b'\''
                    )
                {
                    ve += 1;
                }
                let v = &t[vs..ve];
                let d = memchr(b'.', v)?;
                let db = &v[..d];
                if db.is_empty()
                    || !db.iter().all(|&b| is(b, HOSTCH))
                    || db.iter().all(u8::is_ascii_digit)
                {
                    return None;
                }
                self.ns_value(seg, vs, ve, out);
                Some(ve)
            }
            b"principal" if next == b' ' => {
                let vs = skip_spaces(e);
                let mut ve = vs;
                while ve < to && !is(t[ve], SPACE) {
                    ve += 1;
                }
                self.user_value(seg, vs, ve, out);
                Some(ve)
            }
            b"host" | b"hostname" if next == b'=' => {
                let vs = e + 1;
                let mut ve = vs;
                while ve < to
                    && !is(t[ve], SPACE)
                    && !matches!(t[ve], b',' | b';' | b'"' | b'\'' | b'&')
                {
                    ve += 1;
                }
                if ve > vs && self.host_value(seg, vs, ve, false, out) {
                    Some(ve)
                } else {
                    None
                }
            }
            _ => None,
        }
    }
}

/// A byte that, right before a hex group, means it is not the start of an
/// IPv6 address (`T10:49:06`, `std::`).
fn v6_left_blocker(b: u8) -> bool {
    is(b, ALNUM) || matches!(b, b'_' | b'.' | b':' | b'-')
}

/// Occurrences of the request's host names, with word boundaries.
fn known_matches(known: &Known, line: &[u8]) -> Vec<Cand> {
    let mut raw = Vec::new();
    match known {
        Known::Regex(re) => {
            let mut at = 0;
            while let Some(m) = re.find_at(line, at) {
                if bounded(line, m.start(), m.end()) {
                    raw.push((m.start(), m.end()));
                    at = m.end();
                } else {
                    at = m.start() + 1;
                }
            }
        }
        Known::Literals(hosts) => {
            let lower = line.to_ascii_lowercase();
            for h in hosts {
                for s in memchr::memmem::find_iter(&lower, h) {
                    if bounded(line, s, s + h.len()) {
                        raw.push((s, s + h.len()));
                    }
                }
            }
            raw.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
            let mut end = 0;
            raw.retain(|&(s, e)| {
                let keep = s >= end;
                if keep {
                    end = e;
                }
                keep
            });
        }
    }
    raw.into_iter()
        .map(|(start, end)| Cand {
            start,
            end,
            kind: Kind::Host,
            value: None,
        })
        .collect()
}

/// Whether `line[s..e]` stands alone: no letter, digit or '.' before it (an
/// escape such as `\n` is not a letter), and no longer host name after it.
fn bounded(line: &[u8], s: usize, e: usize) -> bool {
    let left_ok = s == 0 || {
        let p = line[s - 1];
        !(is(p, ALNUM) || p == b'.') || (s >= 2 && line[s - 2] == b'\\')
    };
    let right_ok = e == line.len() || {
        let n = line[e];
        !(is(n, ALNUM) || n == b'-' || n == b'_')
            && !(n == b'.' && line.get(e + 1).is_some_and(|&b| is(b, ALNUM)))
    };
    left_ok && right_ok
}

/// Merges the request's host names into the other replacements: a host name
/// found by the heuristics that overlaps one gives way to it (the known name
/// gets its own token); any other kind (an e-mail address at that host, a
/// password) wins over it.
fn merge_known(cands: Vec<Cand>, knowns: Vec<Cand>) -> Vec<Cand> {
    let overlapping = |c: &Cand| {
        let first = knowns.partition_point(|k| k.end <= c.start);
        first
            ..first
                + knowns[first..]
                    .iter()
                    .take_while(|k| k.start < c.end)
                    .count()
    };
    let mut keep_known = vec![true; knowns.len()];
    for c in cands.iter().filter(|c| c.kind != Kind::Host) {
        for j in overlapping(c) {
            keep_known[j] = false;
        }
    }
    let mut merged = Vec::with_capacity(cands.len() + knowns.len());
    for c in cands {
        // A heuristic host gives way only to known names that are kept, so
        // that nothing it covered is left bare.
        let r = overlapping(&c);
        if c.kind == Kind::Host && !r.is_empty() && r.clone().all(|j| keep_known[j]) {
            continue;
        }
        for j in r {
            keep_known[j] = false;
        }
        merged.push(c);
    }
    merged.extend(
        knowns
            .into_iter()
            .zip(keep_known)
            .filter(|(_, k)| *k)
            .map(|(c, _)| c),
    );
    merged.sort_by_key(|c| c.start);
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
}
