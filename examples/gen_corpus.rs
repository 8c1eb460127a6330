//! Deterministic benchmark corpus for logpack.
//!
//! ```sh
//! cargo run --release --example gen_corpus -- --size 1G --out target/bench-corpus-1G
//! cargo run --release --example gen_corpus -- --size 0 --small-files 20000 --out target/bench-corpus-small-20000
//! ```
//!
//! Writes `OUT/hosts/...` (a deployment of about `--size` bytes on disk) and
//! `OUT/request.json` naming it, so that both `logpack collect OUT/request.json`
//! and `tar -C OUT hosts` read exactly the same files (nothing under `hosts/`
//! is outside a component). `OUT/corpus.json` records the parameters and the
//! totals; `benches/compare.sh` reuses a corpus whose parameters match.
//!
//! The deployment: three hosts. Replica set `rs0` has a member on each host
//! (db3's is an old 4.0 server writing legacy text), `rs1` has members on db1
//! and db2, and db1 runs a mongos. Each process has a live log, rotated
//! siblings (`mongod.log.2026-11-19T10-00-00`) and one rotated `.gz` (gzip
//! level 6, as logrotate's `compress` writes it), plus FTDC
//! `diagnostic.data/metrics.*` files (BSON documents whose chunk payload is
//! zlib-compressed at the default level, as mongod does, so they compress
//! poorly like real FTDC). Each host has
//! automation (verbose, plain, stderr), monitoring and (db1) backup agent logs.
//! Log lines are logv2 JSON with varying connection ids, client addresses,
//! durations and namespaces, and occasional slow-query lines of 1-10 KB.
//!
//! `--small-files N` adds N files of 4-16 KiB spread over the FTDC and agent
//! directories (one in four is FTDC, the rest rotated agent logs); with
//! `--size 0` the corpus is (nearly) only those files.
//!
//! Compressibility: `gzip -6` shrinks the `--size` corpus about 8.4x (text about
//! 13x; FTDC and the rotated `.gz` files, 7% of the bytes, not at all) and the
//! small-files corpus about 3.3x.
//!
//! Output depends only on the arguments (fixed seed per file, fixed mtimes),
//! not on the number of generator threads.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use clap::Parser;
use flate2::{Compress, Compression, FlushCompress};
use rand::rngs::SmallRng;
use rand::{Rng, RngCore, SeedableRng};

#[derive(Parser)]
#[command(about = "Generate a deterministic MongoDB deployment log corpus for benchmarks")]
struct Args {
    /// Approximate bytes on disk: 64M, 256M, 1G (binary units; K, M, G, T; 0 for none).
    #[arg(long, default_value = "1G", value_parser = parse_size)]
    size: u64,
    /// Output directory (created; its `hosts/` is replaced if it holds a previous corpus).
    #[arg(long)]
    out: PathBuf,
    /// Additionally write this many files of 4-16 KiB over the FTDC and agent directories.
    #[arg(long, default_value_t = 0)]
    small_files: usize,
    /// Seed of the whole corpus.
    #[arg(long, default_value_t = 20261120)]
    seed: u64,
    /// Generator threads (default: available cores). Does not change the output.
    #[arg(long)]
    threads: Option<usize>,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (num, mul) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1u64 << 10),
        Some('m' | 'M') => (&t[..t.len() - 1], 1 << 20),
        Some('g' | 'G') => (&t[..t.len() - 1], 1 << 30),
        Some('t' | 'T') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size such as 64M or 1G"))?;
    if !(v >= 0.0 && v.is_finite()) {
        return Err(format!("{s:?} is not a size such as 64M or 1G"));
    }
    Ok((v * mul as f64).round() as u64)
}

// ---------------------------------------------------------------------------------------------
// Fast formatting helpers: everything is pushed into one reused buffer.

#[inline]
fn s(b: &mut Vec<u8>, x: &str) {
    b.extend_from_slice(x.as_bytes());
}

#[inline]
fn u(b: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    b.extend_from_slice(&tmp[i..]);
}

#[inline]
fn pad(b: &mut Vec<u8>, n: u64, width: usize) {
    let mut tmp = [b'0'; 20];
    let mut i = tmp.len();
    let mut n = n;
    while i > tmp.len() - width || n > 0 {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    b.extend_from_slice(&tmp[i..]);
}

fn digits(n: u64) -> usize {
    let mut d = 1;
    let mut n = n / 10;
    while n > 0 {
        d += 1;
        n /= 10;
    }
    d
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[inline]
fn hex(b: &mut Vec<u8>, rng: &mut SmallRng, n: usize) {
    let mut left = n;
    while left > 0 {
        let mut r = rng.next_u64();
        for _ in 0..left.min(16) {
            b.push(HEX[(r & 15) as usize]);
            r >>= 4;
        }
        left -= left.min(16);
    }
}

fn uuid(b: &mut Vec<u8>, rng: &mut SmallRng) {
    hex(b, rng, 8);
    b.push(b'-');
    hex(b, rng, 4);
    s(b, "-4");
    hex(b, rng, 3);
    b.push(b'-');
    b.push(b"89ab"[rng.random_range(0..4)]);
    hex(b, rng, 3);
    b.push(b'-');
    hex(b, rng, 12);
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil(days: i64) -> (i64, u64, u64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u64;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u64;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Timestamp styles.
#[derive(Clone, Copy)]
enum Ts {
    /// `2026-11-19T10:01:05.854` (caller adds the offset)
    Iso,
    /// `2026/11/19 10:01:05.854`
    Slash,
}

fn ts(b: &mut Vec<u8>, ms: i64, style: Ts) {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000) as u64;
    let (y, mo, d) = civil(days);
    let (dsep, tsep) = match style {
        Ts::Iso => (b'-', b'T'),
        Ts::Slash => (b'/', b' '),
    };
    pad(b, y as u64, 4);
    b.push(dsep);
    pad(b, mo, 2);
    b.push(dsep);
    pad(b, d, 2);
    b.push(tsep);
    hms(b, rem);
}

/// `10:01:05.854` from milliseconds into the day.
fn hms(b: &mut Vec<u8>, rem: u64) {
    pad(b, rem / 3_600_000, 2);
    b.push(b':');
    pad(b, rem / 60_000 % 60, 2);
    b.push(b':');
    pad(b, rem / 1000 % 60, 2);
    b.push(b'.');
    pad(b, rem % 1000, 3);
}

/// `host:port`.
fn host_port(b: &mut Vec<u8>, host: &str, port: u16) {
    s(b, host);
    b.push(b':');
    u(b, u64::from(port));
}

/// `2026-11-19T10-00-00` for rotated file names.
fn rot_name(ms: i64) -> String {
    let mut b = Vec::new();
    ts(&mut b, ms, Ts::Iso);
    b.truncate(19);
    for c in &mut b[11..] {
        if *c == b':' {
            *c = b'-';
        }
    }
    String::from_utf8(b).expect("ascii")
}

// ---------------------------------------------------------------------------------------------
// Vocabulary

const DBS: &[&str] = &[
    "shop",
    "inventory",
    "analytics",
    "users",
    "billing",
    "catalog",
];
const COLLS: &[&str] = &[
    "orders",
    "carts",
    "products",
    "sessions",
    "events",
    "invoices",
    "customers",
    "payments",
    "shipments",
    "reviews",
    "stock",
    "prices",
];
const FIELDS: &[&str] = &[
    "customerId",
    "status",
    "sku",
    "region",
    "createdAt",
    "updatedAt",
    "orderId",
    "email",
    "warehouse",
    "category",
    "tenantId",
    "priority",
];
const STATUSES: &[&str] = &[
    "pending",
    "paid",
    "shipped",
    "delivered",
    "cancelled",
    "refunded",
];
const APPS: &[&str] = &[
    "orders-api",
    "checkout-svc",
    "catalog-sync",
    "billing-worker",
    "reporting",
    "mongosh 2.3.1",
    "inventory-etl",
];
const USERS: &[&str] = &[
    "svc_orders",
    "svc_checkout",
    "svc_catalog",
    "svc_billing",
    "reporting_ro",
    "admin",
    "svc_inventory",
];
const DRIVERS: &[(&str, &str, &str)] = &[
    ("nodejs", "6.10.0", "Node.js v20.18.0, LE (unified)"),
    ("PyMongo", "4.8.0", "CPython 3.11.9.final.0"),
    (
        "mongo-java-driver|sync",
        "5.2.1",
        "Java/Eclipse Adoptium/21.0.5+11-LTS",
    ),
    ("mongo-go-driver", "v1.17.1", "go1.23.3"),
];
const KERNELS: &[&str] = &["5.15.0-1051-aws", "6.8.0-1018-aws", "5.14.0-427.el9.x86_64"];

// ---------------------------------------------------------------------------------------------
// The plan

#[derive(Clone, Copy, PartialEq, Eq)]
enum Text {
    /// logv2 JSON (mongod / mongos 8.0)
    Logv2,
    /// legacy text (mongod 4.0)
    Legacy,
    AgentVerbose,
    AgentPlain,
    AgentStderr,
    Monitoring,
    Backup,
}

#[derive(Clone, Copy)]
enum Body {
    Text(Text),
    /// FTDC metrics file; `true` when it starts with a metadata document.
    Ftdc(bool),
}

#[derive(Clone)]
struct Proc {
    host: String,
    port: u16,
    /// `rs0_27017`, `mongos_27016`: the agent's process name
    name: String,
    rs: Option<String>,
}

struct Task {
    path: PathBuf,
    body: Body,
    /// bytes on disk to reach (compressed bytes for `.gz`)
    target: u64,
    gz: bool,
    /// time span of the content, epoch milliseconds
    start_ms: i64,
    end_ms: i64,
    /// host and process the content is about; `procs` are the agent's processes
    host: String,
    port: u16,
    rs: Option<String>,
    procs: Vec<Proc>,
    seed: u64,
}

/// The corpus covers 2026-11-15T10:00Z .. 2026-11-20T10:30Z: one day per rotated file.
fn end_ms() -> i64 {
    let t: jiff::Timestamp = "2026-11-20T10:30:00Z".parse().expect("valid timestamp");
    t.as_millisecond()
}
const DAY: i64 = 86_400_000;

struct Planner {
    tasks: Vec<Task>,
    seed: u64,
}

fn mix(mut z: u64) -> u64 {
    // splitmix64 finaliser
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Planner {
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        path: PathBuf,
        body: Body,
        target: u64,
        gz: bool,
        start_ms: i64,
        end_ms: i64,
        p: &Proc,
        procs: &[Proc],
    ) {
        let seed = mix(self.seed ^ mix(self.tasks.len() as u64 + 1));
        self.tasks.push(Task {
            path,
            body,
            target,
            gz,
            start_ms,
            end_ms,
            host: p.host.clone(),
            port: p.port,
            rs: p.rs.clone(),
            procs: procs.to_vec(),
            seed,
        });
    }
}

/// A process's log family: gz (oldest), three rotated days, the live file.
#[allow(clippy::too_many_arguments)]
fn plan_log_family(
    pl: &mut Planner,
    dir: &Path,
    base: &str,
    text: Text,
    budget: u64,
    p: &Proc,
    procs: &[Proc],
    end: i64,
) {
    let live_start = end - DAY - 30 * 60_000;
    let rot_at = |k: i64| live_start - k * DAY; // k-th rotation before the live file began
    let gz_b = budget * 2 / 100;
    let rot_b = budget * 23 / 100;
    let live_b = budget - gz_b - 3 * rot_b;
    if gz_b >= 16 << 10 {
        let name = format!("{base}.{}.gz", rot_name(rot_at(3)));
        pl.add(
            dir.join(name),
            Body::Text(text),
            gz_b,
            true,
            rot_at(4),
            rot_at(3),
            p,
            procs,
        );
    }
    if rot_b >= 4 << 10 {
        for k in (0..3).rev() {
            let name = format!("{base}.{}", rot_name(rot_at(k)));
            pl.add(
                dir.join(name),
                Body::Text(text),
                rot_b,
                false,
                rot_at(k + 1),
                rot_at(k),
                p,
                procs,
            );
        }
    }
    pl.add(
        dir.join(base),
        Body::Text(text),
        live_b.max(4 << 10),
        false,
        live_start,
        end,
        p,
        procs,
    );
}

const FTDC_FILE_MAX: u64 = 10 << 20;

fn plan_ftdc(pl: &mut Planner, dir: &Path, budget: u64, p: &Proc, end: i64) {
    let first = end - 5 * DAY;
    if budget >= 64 << 10 {
        let n = budget.div_ceil(FTDC_FILE_MAX);
        let each = budget / n;
        let span = (end - first) / n as i64;
        for i in 0..n as i64 {
            let start = first + i * span;
            let name = format!("metrics.{}Z-00000", rot_name(start));
            pl.add(
                dir.join(name),
                Body::Ftdc(true),
                each,
                false,
                start,
                start + span,
                p,
                &[],
            );
        }
    }
    pl.add(
        dir.join("metrics.interim"),
        Body::Ftdc(false),
        12 << 10,
        false,
        end - 10_000,
        end,
        p,
        &[],
    );
}

struct Layout {
    request: String,
    /// directories that receive small files: (dir, is FTDC, proc)
    small_dirs: Vec<(PathBuf, bool, Proc, Vec<Proc>)>,
}

fn plan(out: &Path, size: u64, seed: u64) -> (Planner, Layout) {
    let end = end_ms();
    let mut pl = Planner {
        tasks: Vec::new(),
        seed,
    };
    let hosts_dir = out.join("hosts");
    let proc = |host: &str, port: u16, rs: Option<&str>| Proc {
        host: host.to_string(),
        port,
        name: match rs {
            Some(r) => format!("{r}_{port}"),
            None => format!("mongos_{port}"),
        },
        rs: rs.map(str::to_string),
    };
    /// A host: short name, FQDN, its mongods (replica set, port, legacy text?), its mongos port.
    type Host<'a> = (&'a str, &'a str, Vec<(&'a str, u16, bool)>, Option<u16>);
    let hosts: [Host; 3] = [
        (
            "db1",
            "db1.example.net",
            vec![("rs0", 27017, false), ("rs1", 27018, false)],
            Some(27016),
        ),
        (
            "db2",
            "db2.example.net",
            vec![("rs0", 27017, false), ("rs1", 27018, false)],
            None,
        ),
        ("db3", "db3.example.net", vec![("rs0", 27017, true)], None),
    ];
    // Shares of the size: mongod logs 78%, mongos 4%, agents 15%, FTDC 3%.
    let n_mongod: u64 = hosts.iter().map(|h| h.2.len() as u64).sum();
    let mongod_b = size * 78 / 100 / n_mongod;
    let mongos_b = size * 4 / 100;
    let agent_b = size * 15 / 100 / hosts.len() as u64;
    let ftdc_b = size * 3 / 100 / (n_mongod + 1);

    let mut req_hosts = Vec::new();
    let mut small_dirs = Vec::new();
    for (short, fqdn, mongods, mongos) in &hosts {
        let hdir = hosts_dir.join(short);
        let mut procs = Vec::new();
        let mut req_procs = Vec::new();
        for (rs, port, legacy) in mongods {
            let p = proc(fqdn, *port, Some(rs));
            let pdir = hdir.join(&p.name);
            let text = if *legacy { Text::Legacy } else { Text::Logv2 };
            plan_log_family(&mut pl, &pdir, "mongod.log", text, mongod_b, &p, &[], end);
            let ddir = pdir.join("db").join("diagnostic.data");
            plan_ftdc(&mut pl, &ddir, ftdc_b, &p, end);
            small_dirs.push((ddir, true, p.clone(), Vec::new()));
            req_procs.push(format!(
                "{{\"type\": \"mongod\", \"replicaSet\": \"{rs}\", \"port\": {port}, \
                 \"logPath\": \"hosts/{short}/{n}/mongod.log\", \"dbPath\": \"hosts/{short}/{n}/db\"}}",
                n = p.name
            ));
            procs.push(p);
        }
        if let Some(port) = mongos {
            let p = proc(fqdn, *port, None);
            let pdir = hdir.join("mongos");
            plan_log_family(
                &mut pl,
                &pdir,
                "mongos.log",
                Text::Logv2,
                mongos_b,
                &p,
                &[],
                end,
            );
            let ddir = pdir.join("mongos.diagnostic.data");
            plan_ftdc(&mut pl, &ddir, ftdc_b, &p, end);
            small_dirs.push((ddir, true, p.clone(), Vec::new()));
            req_procs.push(format!(
                "{{\"type\": \"mongos\", \"port\": {port}, \"logPath\": \"hosts/{short}/mongos/mongos.log\"}}"
            ));
            procs.push(p);
        }
        // Agents: verbose 74% (family with rotations and a .gz), plain 10%, monitoring 11%,
        // backup (db1) 5%, stderr tiny.
        let adir = hdir.join("agent");
        let hp = proc(fqdn, 0, None);
        plan_log_family(
            &mut pl,
            &adir,
            "automation-agent-verbose.log",
            Text::AgentVerbose,
            agent_b * 74 / 100,
            &hp,
            &procs,
            end,
        );
        pl.add(
            adir.join("automation-agent.log"),
            Body::Text(Text::AgentPlain),
            (agent_b / 10).max(4 << 10),
            false,
            end - 5 * DAY,
            end,
            &hp,
            &procs,
        );
        pl.add(
            adir.join("automation-agent-stderr.log"),
            Body::Text(Text::AgentStderr),
            1 << 10,
            false,
            end - 5 * DAY,
            end,
            &hp,
            &procs,
        );
        pl.add(
            adir.join("monitoring-agent.log"),
            Body::Text(Text::Monitoring),
            (agent_b * 11 / 100).max(4 << 10),
            false,
            end - 2 * DAY,
            end,
            &hp,
            &procs,
        );
        if *short == "db1" {
            pl.add(
                adir.join("backup-agent.log"),
                Body::Text(Text::Backup),
                (agent_b * 5 / 100).max(4 << 10),
                false,
                end - 2 * DAY,
                end,
                &hp,
                &procs,
            );
        }
        small_dirs.push((adir, false, hp, procs.clone()));
        req_hosts.push(format!(
            "    {{\"hostname\": \"{fqdn}\",\n     \"agentLogDir\": \"hosts/{short}/agent\",\n     \"processes\": [\n       {}\n     ]}}",
            req_procs.join(",\n       ")
        ));
    }
    let request = format!(
        "{{\n  \"resourceType\": \"CLUSTER\",\n  \"resourceName\": \"benchCluster\",\n  \"hosts\": [\n{}\n  ]\n}}\n",
        req_hosts.join(",\n")
    );
    serde_json::from_str::<serde_json::Value>(&request).expect("the request is valid JSON");
    (
        pl,
        Layout {
            request,
            small_dirs,
        },
    )
}

fn plan_small(pl: &mut Planner, layout: &Layout, n: usize) {
    if n == 0 {
        return;
    }
    let end = end_ms();
    let ftdc: Vec<_> = layout.small_dirs.iter().filter(|d| d.1).collect();
    let agent: Vec<_> = layout.small_dirs.iter().filter(|d| !d.1).collect();
    // One file in four is FTDC (nearly incompressible), the rest rotated agent logs, so that
    // the mix compresses like a real agent host's many small files (about 3x).
    // Each directory's files are two minutes apart, older than everything else.
    let per_dir = n.div_ceil(agent.len().min(ftdc.len()).max(1));
    let first = end - 6 * DAY - per_dir as i64 * 120_000;
    let mut count = vec![0i64; layout.small_dirs.len()];
    let mut size_rng = SmallRng::seed_from_u64(mix(pl.seed ^ 0x5AA1));
    for i in 0..n {
        let (dir, is_ftdc, p, procs) = if i % 4 == 3 {
            ftdc[(i / 4) % ftdc.len()]
        } else {
            agent[(i - i / 4) % agent.len()]
        };
        let slot = layout
            .small_dirs
            .iter()
            .position(|d| &d.0 == dir)
            .expect("listed");
        let start = first + count[slot] * 120_000;
        count[slot] += 1;
        let target = size_rng.random_range(4096..=16384u64);
        let (name, body) = if *is_ftdc {
            (
                format!("metrics.{}Z-00000", rot_name(start)),
                Body::Ftdc(true),
            )
        } else if count[slot] % 3 == 0 {
            (
                format!("monitoring-agent.log.{}", rot_name(start + 120_000)),
                Body::Text(Text::Monitoring),
            )
        } else {
            (
                format!("automation-agent-verbose.log.{}", rot_name(start + 120_000)),
                Body::Text(Text::AgentVerbose),
            )
        };
        pl.add(
            dir.join(name),
            body,
            target,
            false,
            start,
            start + 120_000,
            p,
            procs,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Text generation

#[derive(Clone, Copy)]
struct Conn {
    id: u64,
    ip: u32,
    port: u16,
    app: u8,
    /// the session id the client's commands carry
    lsid: [u8; 36],
    /// the connection's uuid, logged when it is accepted and when it ends
    uuid: [u8; 36],
}

/// A query shape: what an application runs over and over, with its own values.
#[derive(Clone, Copy)]
struct Shape {
    db: u8,
    coll: u8,
    f1: u8,
    f2: u8,
    kind: u8,
    status: u8,
    app: u8,
    limit: u16,
    val: u32,
    reslen: u32,
    hash: [u8; 8],
}

const N_CONNS: usize = 64;
const N_SHAPES: usize = 40;

struct Gen<'a> {
    rng: SmallRng,
    t: &'a Task,
    /// current line time
    ms: i64,
    conns: [Conn; N_CONNS],
    shapes: [Shape; N_SHAPES],
    /// values of `$in` lists in long lines
    skus: [u32; 256],
    /// connections that ran the last commands: clients send bursts
    recent: [usize; 4],
    /// a run of near-identical slow queries (a batch job, a retry storm): lines left
    burst: u32,
    burst_with: (Shape, Conn),
    /// position in the agent's iteration
    step: usize,
    next_conn: u64,
    open: u64,
    ts_i: u64,
}

fn uuid_arr(rng: &mut SmallRng) -> [u8; 36] {
    let mut v = Vec::with_capacity(36);
    uuid(&mut v, rng);
    v.try_into().expect("36 bytes")
}

impl<'a> Gen<'a> {
    fn new(t: &'a Task) -> Self {
        let mut rng = SmallRng::seed_from_u64(t.seed);
        let next_conn = rng.random_range(1000..400_000u64);
        let blank = Conn {
            id: 0,
            ip: 0,
            port: 0,
            app: 0,
            lsid: [b'0'; 36],
            uuid: [b'0'; 36],
        };
        let mut shapes = [Shape {
            db: 0,
            coll: 0,
            f1: 0,
            f2: 1,
            kind: 0,
            status: 0,
            app: 0,
            limit: 0,
            val: 0,
            reslen: 0,
            hash: [b'0'; 8],
        }; N_SHAPES];
        for sh in &mut shapes {
            let f1 = rng.random_range(0..FIELDS.len());
            let f2 = (f1 + rng.random_range(1..FIELDS.len())) % FIELDS.len();
            *sh = Shape {
                db: rng.random_range(0..DBS.len()) as u8,
                coll: rng.random_range(0..COLLS.len()) as u8,
                f1: f1 as u8,
                f2: f2 as u8,
                kind: rng.random_range(0..4),
                status: rng.random_range(0..STATUSES.len()) as u8,
                app: rng.random_range(0..APPS.len()) as u8,
                limit: [10, 20, 50, 100, 500][rng.random_range(0..5)],
                val: rng.random_range(1..10_000_000),
                reslen: rng.random_range(200..400_000),
                hash: [0; 8].map(|_: u8| b"0123456789ABCDEF"[rng.random_range(0..16)]),
            };
        }
        let mut skus = [0u32; 256];
        for x in &mut skus {
            *x = rng.random_range(10_000..100_000);
        }
        let mut g = Gen {
            rng,
            t,
            ms: t.start_ms,
            conns: [blank; N_CONNS],
            shapes,
            skus,
            recent: [0, 1, 2, 3],
            burst: 0,
            burst_with: (shapes[0], blank),
            step: 0,
            next_conn,
            open: 0,
            ts_i: 1,
        };
        for i in 0..N_CONNS {
            g.conns[i] = g.new_conn();
        }
        g.open = g.rng.random_range(60..200);
        g
    }

    fn new_conn(&mut self) -> Conn {
        self.next_conn += self.rng.random_range(1..4);
        Conn {
            id: self.next_conn,
            // 10.20.{0..3}.{10..41}
            ip: (10 << 24)
                | (20 << 16)
                | (self.rng.random_range(0..4u32) << 8)
                | self.rng.random_range(10..42u32),
            port: self.rng.random_range(32768..61000),
            app: self.rng.random_range(0..APPS.len()) as u8,
            lsid: uuid_arr(&mut self.rng),
            uuid: uuid_arr(&mut self.rng),
        }
    }

    /// The rest of a "Connection accepted" / "Connection ended" line, from
    /// the remote address on.
    fn connection_attr(&self, b: &mut Vec<u8>, c: &Conn) {
        Self::ip(b, c);
        s(
            b,
            "\",\"isLoadBalanced\":false,\"uuid\":{\"uuid\":{\"$uuid\":\"",
        );
        b.extend_from_slice(&c.uuid);
        s(b, "\"}},\"connectionId\":");
        u(b, c.id);
        s(b, ",\"connectionCount\":");
        u(b, self.open);
        s(b, "}}\n");
    }

    fn ip(b: &mut Vec<u8>, c: &Conn) {
        u(b, u64::from(c.ip >> 24));
        b.push(b'.');
        u(b, u64::from((c.ip >> 16) & 255));
        b.push(b'.');
        u(b, u64::from((c.ip >> 8) & 255));
        b.push(b'.');
        u(b, u64::from(c.ip & 255));
        b.push(b':');
        u(b, u64::from(c.port));
    }

    fn logv2_head(
        &mut self,
        b: &mut Vec<u8>,
        sev: &str,
        comp: &str,
        id: u64,
        ctx: &str,
        ctx_n: Option<u64>,
    ) {
        s(b, "{\"t\":{\"$date\":\"");
        ts(b, self.ms, Ts::Iso);
        s(b, "+00:00\"},\"s\":\"");
        s(b, sev);
        s(b, "\",");
        for _ in sev.len()..3 {
            b.push(b' ');
        }
        s(b, "\"c\":\"");
        s(b, comp);
        s(b, "\",");
        for _ in comp.len()..9 {
            b.push(b' ');
        }
        s(b, "\"id\":");
        u(b, id);
        b.push(b',');
        for _ in digits(id)..8 {
            b.push(b' ');
        }
        s(b, "\"ctx\":\"");
        s(b, ctx);
        if let Some(n) = ctx_n {
            u(b, n);
        }
        s(b, "\",");
    }

    fn cluster_ts(&mut self, b: &mut Vec<u8>) {
        s(b, "{\"$timestamp\":{\"t\":");
        u(b, (self.ms / 1000) as u64);
        s(b, ",\"i\":");
        self.ts_i = if self.rng.random_bool(0.5) {
            1
        } else {
            self.ts_i % 20 + self.rng.random_range(1..4)
        };
        u(b, self.ts_i);
        s(b, "}}");
    }

    fn conn(&mut self) -> Conn {
        if self.rng.random_bool(0.75) {
            return self.conns[self.recent[self.rng.random_range(0..4)]];
        }
        let i = self.rng.random_range(0..N_CONNS);
        self.recent.rotate_right(1);
        self.recent[0] = i;
        self.conns[i]
    }

    /// A skewed choice: a few shapes dominate, as a few queries do in a real workload.
    fn shape(&mut self) -> Shape {
        let x: f64 = self.rng.random();
        self.shapes[((x * x * x) * N_SHAPES as f64) as usize % N_SHAPES]
    }

    /// Starts a burst now and then; true while one runs.
    fn in_burst(&mut self) -> bool {
        if self.burst > 0 {
            self.burst -= 1;
            return true;
        }
        if self.rng.random_bool(0.008) {
            self.burst = self.rng.random_range(5..100);
            let sh = self.shape();
            let c = self.conn();
            self.burst_with = (sh, c);
        }
        false
    }

    fn logv2(&mut self, b: &mut Vec<u8>) {
        if self.in_burst() {
            let w = self.burst_with;
            return self.slow_query_with(b, None, w);
        }
        let r = self.rng.random_range(0..1000u32);
        match r {
            0..=69 => {
                let i = self.rng.random_range(0..N_CONNS);
                let c = self.new_conn();
                self.conns[i] = c;
                self.open = (self.open + 1).min(5000);
                self.logv2_head(b, "I", "NETWORK", 22943, "listener", None);
                s(b, "\"msg\":\"Connection accepted\",\"attr\":{\"remote\":\"");
                self.connection_attr(b, &c);
            }
            70..=129 => {
                let c = self.conn();
                let (dn, dv, plat) = DRIVERS[usize::from(c.app) % DRIVERS.len()];
                self.logv2_head(b, "I", "NETWORK", 51800, "conn", Some(c.id));
                s(b, "\"msg\":\"client metadata\",\"attr\":{\"remote\":\"");
                Self::ip(b, &c);
                s(b, "\",\"client\":\"conn");
                u(b, c.id);
                s(
                    b,
                    "\",\"negotiatedCompressors\":[],\"doc\":{\"application\":{\"name\":\"",
                );
                s(b, APPS[c.app as usize]);
                s(b, "\"},\"driver\":{\"name\":\"");
                s(b, dn);
                s(b, "\",\"version\":\"");
                s(b, dv);
                s(b, "\"},\"os\":{\"type\":\"Linux\",\"name\":\"Linux\",\"architecture\":\"x86_64\",\"version\":\"");
                s(b, KERNELS[usize::from(c.app) % KERNELS.len()]);
                s(b, "\"},\"platform\":\"");
                s(b, plat);
                s(b, "\"}}}\n");
            }
            130..=179 => {
                let c = self.conn();
                self.logv2_head(b, "I", "ACCESS", 5286306, "conn", Some(c.id));
                s(
                    b,
                    "\"msg\":\"Successfully authenticated\",\"attr\":{\"client\":\"",
                );
                Self::ip(b, &c);
                s(b, "\",\"isSpeculative\":true,\"isClusterMember\":false,\"mechanism\":\"SCRAM-SHA-256\",\"user\":\"");
                s(b, USERS[c.app as usize % USERS.len()]);
                s(b, "\",\"db\":\"admin\",\"result\":0,\"metrics\":{\"conversation_duration\":{\"micros\":");
                u(b, self.rng.random_range(900..9_000));
                s(
                    b,
                    ",\"summary\":{\"0\":{\"step\":1,\"step_total\":2,\"duration_micros\":",
                );
                u(b, self.rng.random_range(100..900));
                s(
                    b,
                    "},\"1\":{\"step\":2,\"step_total\":2,\"duration_micros\":",
                );
                u(b, self.rng.random_range(10..90));
                s(b, "}}}},\"extraInfo\":{}}}\n");
            }
            180..=249 => {
                let i = self.rng.random_range(0..N_CONNS);
                let c = self.conns[i];
                self.conns[i] = self.new_conn();
                self.open = self.open.saturating_sub(1).max(3);
                self.logv2_head(b, "I", "NETWORK", 22944, "conn", Some(c.id));
                s(b, "\"msg\":\"Connection ended\",\"attr\":{\"remote\":\"");
                self.connection_attr(b, &c);
            }
            250..=289 => {
                let c = self.conn();
                self.logv2_head(b, "I", "NETWORK", 6723804, "conn", Some(c.id));
                s(
                    b,
                    "\"msg\":\"Ingress TLS handshake complete\",\"attr\":{\"durationMillis\":",
                );
                u(b, self.rng.random_range(1..30));
                s(b, "}}\n");
            }
            290..=324 => {
                let c = self.conn();
                self.logv2_head(b, "I", "NETWORK", 6788700, "conn", Some(c.id));
                s(b, "\"msg\":\"Received first command on ingress connection since session start or auth handshake\",\"attr\":{\"elapsedMillis\":");
                u(b, self.rng.random_range(0..20));
                s(b, "}}\n");
            }
            325..=624 => self.slow_query(b, None),
            625..=627 => {
                let n = self.rng.random_range(1000..10_000);
                self.slow_query(b, Some(n));
            }
            628..=739 => {
                self.logv2_head(b, "I", "WTCHKPT", 22430, "Checkpointer", None);
                s(
                    b,
                    "\"msg\":\"WiredTiger message\",\"attr\":{\"message\":{\"ts_sec\":",
                );
                u(b, (self.ms / 1000) as u64);
                s(b, ",\"ts_usec\":");
                u(b, (self.ms % 1000) as u64 * 1000);
                s(b, ",\"thread\":\"");
                u(b, self.t.seed % 60_000 + 2000);
                s(b, ":0x7f3a9c5e1640\",\"session_name\":\"WT_SESSION.checkpoint\",\"category\":\"WT_VERB_CHECKPOINT_PROGRESS\",\"category_id\":6,\"verbose_level\":\"DEBUG_1\",\"verbose_level_id\":1,\"msg\":\"saving checkpoint snapshot min: ");
                let snap = (self.ms / 1000) as u64 - 1_790_000_000;
                u(b, snap);
                s(b, ", snapshot max: ");
                u(b, snap);
                s(b, " snapshot count: 0, oldest timestamp: (");
                u(b, (self.ms / 1000 - 300) as u64);
                s(b, ", 1) , meta checkpoint timestamp: (");
                u(b, (self.ms / 1000) as u64);
                s(b, ", 1) base write gen: ");
                u(b, snap / 3);
                s(b, "\"}}}\n");
            }
            740..=889 => {
                let peer = self.rng.random_range(1..4u64);
                let n = self.rng.random_range(0..12);
                self.logv2_head(b, "D2", "REPL_HB", 4615620, "ReplCoord-", Some(n));
                s(
                    b,
                    "\"msg\":\"Received response to heartbeat\",\"attr\":{\"requestId\":",
                );
                u(b, self.ms as u64 / 2000 % 10_000_000);
                s(b, ",\"target\":\"db");
                u(b, peer);
                s(b, ".example.net:");
                u(b, u64::from(self.t.port));
                s(
                    b,
                    "\",\"response\":{\"ok\":1.0,\"state\":2,\"v\":41,\"configTerm\":7,\"set\":\"",
                );
                s(b, self.t.rs.as_deref().unwrap_or("rs0"));
                s(
                    b,
                    "\",\"term\":7,\"primaryId\":0,\"durableOpTime\":{\"ts\":",
                );
                self.cluster_ts(b);
                s(b, ",\"t\":7},\"opTime\":{\"ts\":");
                self.cluster_ts(b);
                s(
                    b,
                    ",\"t\":7},\"electionTime\":{\"$timestamp\":{\"t\":1795000000,\"i\":1}}}}}\n",
                );
            }
            890..=909 => {
                let sh = self.shape();
                let n = self.rng.random_range(0..4);
                self.logv2_head(
                    b,
                    "I",
                    "INDEX",
                    20345,
                    "IndexBuildsCoordinatorMongod-",
                    Some(n),
                );
                s(b, "\"msg\":\"Index build: done building\",\"attr\":{\"buildUUID\":{\"uuid\":{\"$uuid\":\"");
                uuid(b, &mut self.rng);
                s(b, "\"}},\"collectionUUID\":{\"uuid\":{\"$uuid\":\"");
                uuid(b, &mut self.rng);
                s(b, "\"}},\"namespace\":\"");
                s(b, DBS[sh.db as usize]);
                b.push(b'.');
                s(b, COLLS[sh.coll as usize]);
                s(b, "\",\"index\":\"");
                s(b, FIELDS[sh.f1 as usize]);
                s(b, "_1\",\"ident\":\"index-");
                u(b, self.rng.random_range(10..5000));
                s(b, "--");
                u(b, self.t.seed >> 4);
                s(b, "\",\"collectionIdent\":\"collection-");
                u(b, self.rng.random_range(10..5000));
                s(b, "--");
                u(b, self.t.seed >> 4);
                s(b, "\",\"commitTimestamp\":");
                self.cluster_ts(b);
                s(b, "}}\n");
            }
            910..=939 => {
                let c = self.conn();
                self.logv2_head(b, "W", "NETWORK", 4615610, "conn", Some(c.id));
                s(b, "\"msg\":\"Failed to check socket connectivity\",\"attr\":{\"error\":{\"code\":6,\"codeName\":\"HostUnreachable\",\"errmsg\":\"Connection reset by peer\"},\"remote\":\"");
                Self::ip(b, &c);
                s(b, "\"}}\n");
            }
            940..=959 => {
                self.logv2_head(b, "I", "STORAGE", 22260, "TimestampMonitor", None);
                s(
                    b,
                    "\"msg\":\"Removing historical entries older than\",\"attr\":{\"timestamp\":",
                );
                self.cluster_ts(b);
                s(b, "}}\n");
            }
            960..=989 => {
                let c = self.conn();
                self.logv2_head(b, "I", "-", 20883, "conn", Some(c.id));
                s(b, "\"msg\":\"Interrupted operation as its client disconnected\",\"attr\":{\"opId\":");
                u(b, (self.ms as u64 / 100) % 100_000_000);
                s(b, "}}\n");
            }
            _ => {
                let c = self.conn();
                self.logv2_head(b, "E", "NETWORK", 23256, "conn", Some(c.id));
                s(b, "\"msg\":\"SSL peer certificate validation failed\",\"attr\":{\"reason\":\"certificate has expired\",\"remote\":\"");
                Self::ip(b, &c);
                s(b, "\"}}\n");
            }
        }
    }

    /// A slow query line; `long` asks for about that many bytes (an aggregate with a big `$in`).
    fn slow_query(&mut self, b: &mut Vec<u8>, long: Option<usize>) {
        let c = self.conn();
        let sh = self.shape();
        self.slow_query_with(b, long, (sh, c));
    }

    fn slow_query_with(&mut self, b: &mut Vec<u8>, long: Option<usize>, (sh, c): (Shape, Conn)) {
        let line_start = b.len();
        let db = DBS[sh.db as usize];
        let coll = COLLS[sh.coll as usize];
        let f1 = FIELDS[sh.f1 as usize];
        let f2 = FIELDS[sh.f2 as usize];
        let kind = if long.is_some() { 3 } else { sh.kind };
        self.logv2_head(b, "I", "COMMAND", 51803, "conn", Some(c.id));
        s(b, "\"msg\":\"Slow query\",\"attr\":{\"type\":\"command\",\"isFromUserConnection\":true,\"ns\":\"");
        s(b, db);
        b.push(b'.');
        s(b, coll);
        s(b, "\",\"collectionType\":\"normal\",\"appName\":\"");
        s(b, APPS[sh.app as usize]);
        s(b, "\",\"command\":{");
        match kind {
            0 | 1 => {
                s(b, "\"find\":\"");
                s(b, coll);
                s(b, "\",\"filter\":{\"");
                s(b, f1);
                s(b, "\":");
                u(b, u64::from(sh.val));
                s(b, ",\"status\":\"");
                s(b, STATUSES[sh.status as usize]);
                s(b, "\"},\"sort\":{\"");
                s(b, f2);
                s(b, "\":-1},\"limit\":");
                u(b, u64::from(sh.limit));
            }
            2 => {
                s(b, "\"update\":\"");
                s(b, coll);
                s(b, "\",\"ordered\":true,\"updates\":[{\"q\":{\"");
                s(b, f1);
                s(b, "\":");
                u(b, u64::from(sh.val));
                s(b, "},\"u\":{\"$set\":{\"");
                s(b, f2);
                s(b, "\":\"");
                s(b, STATUSES[sh.status as usize]);
                s(b, "\",\"updatedAt\":{\"$date\":\"");
                ts(b, self.ms - 3, Ts::Iso);
                s(b, "Z\"}},\"$inc\":{\"version\":1}},\"upsert\":false}]");
            }
            _ => {
                s(b, "\"aggregate\":\"");
                s(b, coll);
                s(b, "\",\"pipeline\":[{\"$match\":{\"");
                s(b, f1);
                s(b, "\":{\"$in\":[");
                if let Some(n) = long {
                    let mut first = true;
                    while b.len() - line_start < n {
                        if !first {
                            b.push(b',');
                        }
                        first = false;
                        s(b, "\"SKU-");
                        u(
                            b,
                            u64::from(self.skus[self.rng.random_range(0..self.skus.len())]),
                        );
                        b.push(b'"');
                    }
                } else {
                    s(b, "\"SKU-");
                    u(b, u64::from(sh.val % 90_000 + 10_000));
                    b.push(b'"');
                }
                s(b, "]}}},{\"$group\":{\"_id\":\"$");
                s(b, f2);
                s(b, "\",\"total\":{\"$sum\":\"$amount\"},\"n\":{\"$sum\":1}}},{\"$sort\":{\"total\":-1}}],\"cursor\":{},\"allowDiskUse\":true");
            }
        }
        s(b, ",\"lsid\":{\"id\":{\"$uuid\":\"");
        b.extend_from_slice(&c.lsid);
        s(b, "\"}},\"$clusterTime\":{\"clusterTime\":");
        self.cluster_ts(b);
        s(b, ",\"signature\":{\"hash\":{\"$binary\":{\"base64\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAA=\",\"subType\":\"0\"}},\"keyId\":0}},\"$db\":\"");
        s(b, db);
        s(b, "\"},\"planSummary\":\"");
        if kind == 2 {
            s(b, "IXSCAN { ");
            s(b, f1);
            s(b, ": 1 }");
        } else {
            s(b, "IXSCAN { ");
            s(b, f1);
            s(b, ": 1, ");
            s(b, f2);
            s(b, ": -1 }");
        }
        let keys = u64::from(sh.limit) + self.rng.random_range(0..64u64);
        s(b, "\",\"planningTimeMicros\":");
        u(b, u64::from(sh.reslen % 300 + 20));
        s(b, ",\"keysExamined\":");
        u(b, keys);
        s(b, ",\"docsExamined\":");
        u(b, keys);
        s(b, ",\"nreturned\":");
        u(b, u64::from(sh.limit));
        s(b, ",\"queryHash\":\"");
        b.extend_from_slice(&sh.hash);
        s(b, "\",\"queryFramework\":\"classic\",\"reslen\":");
        u(b, u64::from(sh.reslen));
        let y = keys / 128;
        s(
            b,
            ",\"locks\":{\"FeatureCompatibilityVersion\":{\"acquireCount\":{\"r\":",
        );
        u(b, y + 1);
        s(b, "}},\"Global\":{\"acquireCount\":{\"r\":");
        u(b, y + 1);
        s(b, "}},\"Mutex\":{\"acquireCount\":{\"r\":1}}},\"readConcern\":{\"level\":\"local\",\"provenance\":\"implicitDefault\"},\"storage\":{");
        if self.rng.random_bool(0.2) {
            s(b, "\"data\":{\"bytesRead\":");
            u(b, self.rng.random_range(4096..2_000_000));
            s(b, ",\"timeReadingMicros\":");
            u(b, self.rng.random_range(10..20_000));
            s(b, "}");
        }
        s(b, "},\"cpuNanos\":");
        u(b, self.rng.random_range(50_000..90_000_000));
        s(b, ",\"remote\":\"");
        Self::ip(b, &c);
        s(b, "\",\"numYields\":");
        u(b, y);
        s(b, ",\"queues\":{\"execution\":{\"admissions\":");
        u(b, y + 1);
        s(b, "}},\"protocol\":\"op_msg\",\"durationMillis\":");
        u(b, 100 + self.rng.random_range(0..3000u64).pow(2) / 1000);
        s(b, "}}\n");
    }

    fn legacy_prefix(
        &mut self,
        b: &mut Vec<u8>,
        sev: &str,
        comp: &str,
        ctx: &str,
        ctx_n: Option<u64>,
    ) {
        ts(b, self.ms, Ts::Iso);
        s(b, "+0000 ");
        s(b, sev);
        b.push(b' ');
        s(b, comp);
        for _ in comp.len()..8 {
            b.push(b' ');
        }
        s(b, " [");
        s(b, ctx);
        if let Some(n) = ctx_n {
            u(b, n);
        }
        s(b, "] ");
    }

    fn legacy(&mut self, b: &mut Vec<u8>) {
        let burst = self.in_burst();
        let r = if burst {
            370
        } else {
            self.rng.random_range(0..1000u32)
        };
        match r {
            0..=99 => {
                let i = self.rng.random_range(0..N_CONNS);
                let c = self.new_conn();
                self.conns[i] = c;
                self.open = (self.open + 1).min(5000);
                self.legacy_prefix(b, "I", "NETWORK", "listener", None);
                s(b, "connection accepted from ");
                Self::ip(b, &c);
                s(b, " #");
                u(b, c.id);
                s(b, " (");
                u(b, self.open);
                s(b, " connections now open)\n");
            }
            100..=189 => {
                let c = self.conn();
                let (dn, dv, plat) = DRIVERS[usize::from(c.app) % DRIVERS.len()];
                self.legacy_prefix(b, "I", "NETWORK", "conn", Some(c.id));
                s(b, "received client metadata from ");
                Self::ip(b, &c);
                s(b, " conn");
                u(b, c.id);
                s(b, ": { application: { name: \"");
                s(b, APPS[c.app as usize]);
                s(b, "\" }, driver: { name: \"");
                s(b, dn);
                s(b, "\", version: \"");
                s(b, dv);
                s(b, "\" }, os: { type: \"Linux\", name: \"Linux\", architecture: \"x86_64\", version: \"");
                s(b, KERNELS[usize::from(c.app) % KERNELS.len()]);
                s(b, "\" }, platform: \"");
                s(b, plat);
                s(b, "\" }\n");
            }
            190..=269 => {
                let c = self.conn();
                self.legacy_prefix(b, "I", "ACCESS", "conn", Some(c.id));
                s(b, "Successfully authenticated as principal ");
                s(b, USERS[c.app as usize % USERS.len()]);
                s(b, " on admin from client ");
                Self::ip(b, &c);
                b.push(b'\n');
            }
            270..=369 => {
                let i = self.rng.random_range(0..N_CONNS);
                let c = self.conns[i];
                self.conns[i] = self.new_conn();
                self.open = self.open.saturating_sub(1).max(3);
                self.legacy_prefix(b, "I", "NETWORK", "conn", Some(c.id));
                s(b, "end connection ");
                Self::ip(b, &c);
                s(b, " (");
                u(b, self.open);
                s(b, " connections now open)\n");
            }
            370..=719 => {
                let (sh, c) = if burst {
                    self.burst_with
                } else {
                    (self.shape(), self.conn())
                };
                let line_start = b.len();
                let long = (r >= 717).then(|| self.rng.random_range(1000..10_000usize));
                let db = DBS[sh.db as usize];
                let coll = COLLS[sh.coll as usize];
                let f1 = FIELDS[sh.f1 as usize];
                let f2 = FIELDS[sh.f2 as usize];
                self.legacy_prefix(b, "I", "COMMAND", "conn", Some(c.id));
                s(b, "command ");
                s(b, db);
                b.push(b'.');
                s(b, coll);
                s(b, " appName: \"");
                s(b, APPS[sh.app as usize]);
                s(b, "\" command: find { find: \"");
                s(b, coll);
                s(b, "\", filter: { ");
                s(b, f1);
                s(b, ": ");
                match long {
                    Some(n) => {
                        s(b, "{ $in: [ ");
                        while b.len() - line_start < n {
                            s(b, "\"SKU-");
                            u(
                                b,
                                u64::from(self.skus[self.rng.random_range(0..self.skus.len())]),
                            );
                            s(b, "\", ");
                        }
                        s(b, "\"SKU-0\" ] }");
                    }
                    None => u(b, u64::from(sh.val)),
                }
                s(b, ", status: \"");
                s(b, STATUSES[sh.status as usize]);
                s(b, "\" }, sort: { ");
                s(b, f2);
                s(b, ": -1 }, limit: ");
                u(b, u64::from(sh.limit));
                s(b, ", $db: \"");
                s(b, db);
                s(b, "\", lsid: { id: UUID(\"");
                b.extend_from_slice(&c.lsid);
                s(b, "\") } } planSummary: IXSCAN { ");
                s(b, f1);
                s(b, ": 1, ");
                s(b, f2);
                s(b, ": -1 } keysExamined:");
                let keys = u64::from(sh.limit) + self.rng.random_range(0..64u64);
                u(b, keys);
                s(b, " docsExamined:");
                u(b, keys);
                s(b, " cursorExhausted:1 numYields:");
                let y = keys / 128;
                u(b, y);
                s(b, " nreturned:");
                u(b, u64::from(sh.limit));
                s(b, " reslen:");
                u(b, u64::from(sh.reslen));
                s(b, " locks:{ Global: { acquireCount: { r: ");
                u(b, y + 1);
                s(b, " } }, Database: { acquireCount: { r: ");
                u(b, y + 1);
                s(b, " } }, Collection: { acquireCount: { r: ");
                u(b, y + 1);
                s(b, " } } } storage:{");
                if self.rng.random_bool(0.2) {
                    s(b, " data: { bytesRead: ");
                    u(b, self.rng.random_range(4096..2_000_000));
                    s(b, ", timeReadingMicros: ");
                    u(b, self.rng.random_range(10..20_000));
                    s(b, " } ");
                }
                s(b, "} protocol:op_msg ");
                u(b, 100 + self.rng.random_range(0..3000u64).pow(2) / 1000);
                s(b, "ms\n");
            }
            720..=769 => {
                let c = self.conn();
                let sh = self.shape();
                self.legacy_prefix(b, "I", "WRITE", "conn", Some(c.id));
                s(b, "update ");
                s(b, DBS[sh.db as usize]);
                b.push(b'.');
                s(b, COLLS[sh.coll as usize]);
                s(b, " command: { q: { ");
                s(b, FIELDS[sh.f1 as usize]);
                s(b, ": ");
                u(b, u64::from(sh.val));
                s(b, " }, u: { $set: { status: \"");
                s(b, STATUSES[sh.status as usize]);
                s(
                    b,
                    "\" } }, multi: false, upsert: false } planSummary: IXSCAN { ",
                );
                s(b, FIELDS[sh.f1 as usize]);
                s(b, ": 1 } keysExamined:1 docsExamined:1 nMatched:1 nModified:1 keysInserted:1 keysDeleted:1 numYields:0 locks:{ Global: { acquireCount: { r: 2, w: 2 } }, Database: { acquireCount: { w: 2 } }, Collection: { acquireCount: { w: 1 } }, oplog: { acquireCount: { w: 1 } } } ");
                u(b, 100 + self.rng.random_range(0..400));
                s(b, "ms\n");
            }
            770..=909 => {
                let peer = self.rng.random_range(1..3u64);
                self.legacy_prefix(b, "D", "REPL_HB", "replexec-", Some(self.ms as u64 % 7));
                s(b, "Received response to heartbeat (requestId: ");
                u(b, self.ms as u64 / 2000 % 10_000_000);
                s(b, ") from db");
                u(b, peer);
                s(b, ".example.net:27017, { ok: 1.0, state: 1, v: 41, hbmsg: \"\", set: \"rs0\", syncingTo: \"\", term: 7, primaryId: 0, durableOpTime: { ts: Timestamp(");
                u(b, (self.ms / 1000) as u64);
                s(b, ", 1), t: 7 }, opTime: { ts: Timestamp(");
                u(b, (self.ms / 1000) as u64);
                s(b, ", 1), t: 7 }, operationTime: Timestamp(");
                u(b, (self.ms / 1000) as u64);
                s(b, ", 1) }\n");
            }
            910..=979 => {
                self.legacy_prefix(b, "I", "CONTROL", "LogicalSessionCacheRefresh", None);
                s(b, "Sessions collection is not set up; waiting until next sessions refresh interval: Replication has not yet been configured\n");
            }
            _ => {
                self.legacy_prefix(b, "W", "NETWORK", "ReplicaSetMonitor-TaskExecutor", None);
                s(b, "Unable to reach primary for set rs0\n");
            }
        }
    }

    /// `[time] [level] [source] ` then, for a line about one process,
    /// `<name> `, then the agent's own `[hh:mm:ss.mmm] ` clock.
    fn agent_head(&mut self, b: &mut Vec<u8>, level: &str, src: &str, process: Option<&str>) {
        b.push(b'[');
        ts(b, self.ms, Ts::Iso);
        s(b, "+0000] [");
        s(b, level);
        s(b, "] [");
        s(b, src);
        s(b, "] ");
        if let Some(p) = process {
            s(b, "<");
            s(b, p);
            s(b, "> ");
        }
        b.push(b'[');
        hms(b, self.ms.rem_euclid(DAY) as u64);
        s(b, "] ");
    }

    fn agent_verbose(&mut self, b: &mut Vec<u8>) {
        // One iteration: config, serverStatus of each process, goal state of each, summary;
        // now and then a debug or warning line in between.
        let np = self.t.procs.len().max(1);
        let (r, pi) = if self.rng.random_bool(0.05) {
            (
                if self.rng.random_bool(0.7) { 90 } else { 97 },
                self.rng.random_range(0..np),
            )
        } else {
            let st = self.step % (3 + 2 * np);
            self.step += 1;
            match st {
                0 => (0, 0),
                1 => (8, 0),
                k if k < 2 + np => (15, k - 2),
                k if k < 2 + 2 * np => (60, k - 2 - np),
                _ => (80, 0),
            }
        };
        let p = self.t.procs.get(pi).cloned();
        let pname = p
            .as_ref()
            .map_or("rs0_27017", |p| p.name.as_str())
            .to_string();
        let pport = p.as_ref().map_or(27017, |p| p.port);
        match r {
            0..=7 => {
                self.agent_head(
                    b,
                    ".info",
                    "src/config/config.go:ReadClusterConfig:911",
                    None,
                );
                s(b, "Retrieving cluster config from https://om1.example.net:8443/agents/api/automation/conf/v1/6740a1b2c3d4e5f6a7b8c9d0?av=108.0.4.8796-1&aos=linux&aa=x86_64&ab=64&ad=ubuntu2204&ah=");
                s(b, &self.t.host);
                s(b, "&ahs=");
                s(b, &self.t.host);
                s(b, "&at=");
                u(b, self.ms as u64);
                b.push(b'\n');
            }
            8..=14 => {
                self.agent_head(
                    b,
                    ".info",
                    "main/components/agent.go:LoadClusterConfig:536",
                    None,
                );
                s(b, "clusterConfig unchanged\n");
            }
            15..=59 => {
                self.agent_head(
                    b,
                    ".debug",
                    "src/mongoctl/processctl.go:GetServerStatus:1247",
                    Some(&pname),
                );
                s(b, "Got serverStatus from ");
                host_port(b, &self.t.host, pport);
                s(b, " in ");
                u(b, self.rng.random_range(1..40));
                s(b, "ms\n");
            }
            60..=79 => {
                self.agent_head(
                    b,
                    ".info",
                    "src/director/director.go:planAndExecute:690",
                    Some(&pname),
                );
                s(b, "In Goal State for clusterConfig version: ");
                u(b, 41 + (self.ms - self.t.start_ms) as u64 / (6 * 3_600_000));
                b.push(b'\n');
            }
            80..=89 => {
                self.agent_head(b, ".info", "main/components/agent.go:Iterate:1630", None);
                s(b, "All ");
                u(b, np as u64);
                s(b, " Mongo processes are in goal state. Monitoring in goal state, Backup in goal state\n");
            }
            90..=96 => {
                self.agent_head(
                    b,
                    ".debug",
                    "src/mongoclientservice/mongoclientservice.go:getClient:372",
                    Some(&pname),
                );
                s(b, "Reusing cached client for conn params = ");
                host_port(b, &self.t.host, pport);
                s(b, " (local=false) id=0xc00");
                u(b, u64::from(pport) * 7919);
                b.push(b'\n');
            }
            _ => {
                self.agent_head(
                    b,
                    ".warn",
                    "cm/mongoclientservice/mongoclientservice.go:sendClientToRequesters:609",
                    Some(&pname),
                );
                s(b, "Error getting client ready for conn params = ");
                host_port(b, &self.t.host, pport);
                s(b, " (local=false). Informing all requests and disposing of client (0x0). requests=[ 0xc00");
                u(b, u64::from(pport) * 7919);
                s(
                    b,
                    " ] : connection() error occurred during connection handshake: dial tcp ",
                );
                host_port(b, &self.t.host, pport);
                s(b, ": i/o timeout\n");
            }
        }
    }

    fn agent_plain(&mut self, b: &mut Vec<u8>) {
        match self.rng.random_range(0..4u32) {
            0 => {
                self.agent_head(b, ".info", "main/components/agent.go:Iterate:1630", None);
                s(b, "All ");
                u(b, self.t.procs.len() as u64);
                s(b, " Mongo processes are in goal state. Monitoring in goal state, Backup in goal state\n");
            }
            1 => {
                self.agent_head(
                    b,
                    ".info",
                    "src/config/config.go:ReadClusterConfig:911",
                    None,
                );
                s(b, "clusterConfig version ");
                u(b, 41 + (self.ms - self.t.start_ms) as u64 / (6 * 3_600_000));
                s(b, " unchanged\n");
            }
            2 => {
                self.agent_head(b, ".info", "src/runtimestats/printer.go:mainLoop:58", None);
                s(b, "Process Runtime Stats: goroutines=");
                u(b, self.rng.random_range(80..160));
                s(b, " heapAlloc=");
                u(b, self.rng.random_range(20_000_000..90_000_000));
                s(b, " numGC=");
                u(b, (self.ms - self.t.start_ms) as u64 / 60_000);
                b.push(b'\n');
            }
            _ => {
                self.agent_head(b, ".warn", "src/action/dochecks.go:DoChecks:72", None);
                s(b, "Check for disk space on /data returned ");
                u(b, self.rng.random_range(60..95));
                s(b, "% used\n");
            }
        }
    }

    fn monitoring(&mut self, b: &mut Vec<u8>) {
        // One iteration: ping each process, collect three things from each, sleep.
        let np = self.t.procs.len().max(1);
        let st = self.step % (4 * np + 1);
        self.step += 1;
        let port = self.t.procs.get(st % np).map_or(27017, |p| p.port);
        b.push(b'[');
        ts(b, self.ms, Ts::Iso);
        s(b, "+0000] ");
        let r = if st == 4 * np {
            if self.rng.random_bool(0.05) {
                8
            } else {
                9
            }
        } else if st < np {
            0
        } else {
            4
        };
        match r {
            0..=3 => {
                s(b, "[metrics.monitor-");
                host_port(b, &self.t.host, port);
                s(b, ".info] [monitoring/ping.go:doPing:412] Ping took ");
                u(b, self.rng.random_range(1..40));
                s(b, "ms\n");
            }
            4..=7 => {
                s(b, "[metrics.collector-");
                host_port(b, &self.t.host, port);
                s(b, ".info] [components/collector.go:collect:188] Collected ");
                s(
                    b,
                    ["serverStatus", "dbstats", "replSetGetStatus"][(st - np) / np],
                );
                s(b, " in ");
                u(b, self.rng.random_range(1..400));
                s(b, "ms\n");
            }
            8 => {
                s(b, "[agent.info] [monitoring/agent.go:Iterate:216] Received new configuration: Assigned ");
                u(b, np as u64);
                s(b, " out of 4 plus 0 chunk monitor(s)\n");
            }
            _ => s(
                b,
                "[agent.info] [monitoring/agent.go:func3:311] Done. Sleeping for 55s...\n",
            ),
        }
    }

    fn backup(&mut self, b: &mut Vec<u8>) {
        b.push(b'[');
        ts(b, self.ms, Ts::Iso);
        s(b, "+0000] [backup.info] [components/oplog.go:tail:");
        u(b, self.rng.random_range(100..400));
        s(b, "] Sent oplog batch for rs0: ");
        u(b, self.rng.random_range(1..5000));
        s(b, " entries, ");
        u(b, self.rng.random_range(1000..9_000_000));
        s(b, " bytes, last ts ");
        u(b, (self.ms / 1000) as u64);
        s(b, ":");
        u(b, self.rng.random_range(1..50));
        b.push(b'\n');
    }

    fn line(&mut self, b: &mut Vec<u8>, text: Text) {
        match text {
            Text::Logv2 => self.logv2(b),
            Text::Legacy => self.legacy(b),
            Text::AgentVerbose => self.agent_verbose(b),
            Text::AgentPlain => self.agent_plain(b),
            Text::Monitoring => self.monitoring(b),
            Text::Backup => self.backup(b),
            Text::AgentStderr => {
                s(b, "[");
                ts(b, self.ms, Ts::Slash);
                s(b, "] [.error] [main/main.go:main:91] mongodb-mms-automation-agent: failed to read /etc/mongodb-mms/automation-agent.config: permission denied; retrying\n");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sinks

/// A writer that counts what goes through it (compressed bytes of a `.gz`).
struct Count<W> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for Count<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let k = self.inner.write(buf)?;
        self.n += k as u64;
        Ok(k)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

const CHUNK: usize = 1 << 20;

fn write_text(t: &Task, text: Text, f: File) -> io::Result<u64> {
    let mut g = Gen::new(t);
    let mut b: Vec<u8> = Vec::with_capacity((t.target as usize).min(CHUNK) + (64 << 10));
    let span = (t.end_ms - t.start_ms).max(1) as u128;
    if t.gz {
        // rotated .gz: logrotate's `compress` runs gzip at its default level 6, whose
        // output gzip cannot shrink further; aim at `target` compressed bytes
        let est_raw = (t.target * 12).max(1) as u128;
        let mut raw = 0u64;
        let sink = Count { inner: f, n: 0 };
        let mut enc = flate2::GzBuilder::new().write(sink, Compression::new(6));
        let chunk = (CHUNK / 4).min((t.target as usize * 2).max(16 << 10));
        while enc.get_ref().n < t.target {
            while b.len() < chunk {
                let pos = raw + b.len() as u64;
                g.ms = t.start_ms + (span * u128::from(pos).min(est_raw) / est_raw) as i64;
                g.line(&mut b, text);
            }
            enc.write_all(&b)?;
            raw += b.len() as u64;
            b.clear();
        }
        let sink = enc.finish()?;
        Ok(sink.n)
    } else {
        let mut w = BufWriter::with_capacity(0, f); // we buffer ourselves
        let target = t.target;
        let mut done = 0u64;
        while done < target {
            let pos = done + b.len() as u64;
            g.ms = t.start_ms + (span * u128::from(pos) / u128::from(target)) as i64;
            g.line(&mut b, text);
            if b.len() >= CHUNK || done + b.len() as u64 >= target {
                w.write_all(&b)?;
                done += b.len() as u64;
                b.clear();
            }
        }
        w.flush()?;
        Ok(done)
    }
}

/// Minimal BSON writer.
struct Bson {
    b: Vec<u8>,
    open: Vec<usize>,
}

impl Bson {
    fn new() -> Self {
        let mut b = Bson {
            b: Vec::with_capacity(1 << 10),
            open: Vec::new(),
        };
        b.begin_root();
        b
    }
    fn begin_root(&mut self) {
        self.open.push(self.b.len());
        self.b.extend_from_slice(&[0; 4]);
    }
    fn key(&mut self, ty: u8, k: &str) {
        self.b.push(ty);
        self.b.extend_from_slice(k.as_bytes());
        self.b.push(0);
    }
    fn doc(&mut self, k: &str) {
        self.key(0x03, k);
        self.begin_root();
    }
    fn end(&mut self) {
        self.b.push(0);
        let at = self.open.pop().expect("open document");
        let len = (self.b.len() - at) as i32;
        self.b[at..at + 4].copy_from_slice(&len.to_le_bytes());
    }
    fn str(&mut self, k: &str, v: &str) {
        self.key(0x02, k);
        self.b
            .extend_from_slice(&(v.len() as i32 + 1).to_le_bytes());
        self.b.extend_from_slice(v.as_bytes());
        self.b.push(0);
    }
    fn i32(&mut self, k: &str, v: i32) {
        self.key(0x10, k);
        self.b.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, k: &str, v: i64) {
        self.key(0x12, k);
        self.b.extend_from_slice(&v.to_le_bytes());
    }
    fn date(&mut self, k: &str, ms: i64) {
        self.key(0x09, k);
        self.b.extend_from_slice(&ms.to_le_bytes());
    }
    fn f64(&mut self, k: &str, v: f64) {
        self.key(0x01, k);
        self.b.extend_from_slice(&v.to_le_bytes());
    }
    fn bool(&mut self, k: &str, v: bool) {
        self.key(0x08, k);
        self.b.push(u8::from(v));
    }
    fn bin(&mut self, k: &str, v: &[u8]) {
        self.key(0x05, k);
        self.b.extend_from_slice(&(v.len() as i32).to_le_bytes());
        self.b.push(0);
        self.b.extend_from_slice(v);
    }
    fn finish(mut self) -> Vec<u8> {
        self.end();
        self.b
    }
}

fn ftdc_meta(t: &Task) -> Vec<u8> {
    let mut d = Bson::new();
    d.date("_id", t.start_ms);
    d.i32("type", 0);
    d.doc("doc");
    d.date("start", t.start_ms);
    d.doc("buildInfo");
    d.str("version", "8.0.4");
    d.str("gitVersion", "bc35ab4305d9920d9d0491c1c9ef9b72383d31f9");
    d.str("allocator", "tcmalloc-google");
    d.i32("bits", 64);
    d.bool("debug", false);
    d.f64("ok", 1.0);
    d.end();
    d.doc("hostInfo");
    d.doc("system");
    d.date("currentTime", t.start_ms);
    d.str("hostname", &format!("{}:{}", t.host, t.port));
    d.i32("cpuAddrSize", 64);
    d.i64("memSizeMB", 31_998);
    d.i32("numCores", 8);
    d.str("cpuArch", "x86_64");
    d.bool("numaEnabled", false);
    d.end();
    d.doc("os");
    d.str("type", "Linux");
    d.str("name", "Ubuntu");
    d.str("version", "22.04");
    d.end();
    d.f64("ok", 1.0);
    d.end();
    d.date("end", t.start_ms + 5);
    d.end();
    d.finish()
}

fn write_ftdc(t: &Task, meta: bool, f: File) -> io::Result<u64> {
    let mut rng = SmallRng::seed_from_u64(t.seed);
    let mut w = BufWriter::with_capacity((t.target as usize).clamp(4 << 10, CHUNK), f);
    let mut done = 0u64;
    let m = ftdc_meta(t);
    if meta {
        w.write_all(&m)?;
        done += m.len() as u64;
    }
    // mongod compresses FTDC chunks at zlib's default level
    let mut z = Compress::new(Compression::new(6), true);
    let mut raw = Vec::with_capacity(64 << 10);
    let mut comp = Vec::with_capacity(72 << 10);
    let span = (t.end_ms - t.start_ms).max(1) as u128;
    let target = t.target.max(256);
    while done < target {
        // Chunk: uint32 raw length + zlib(reference doc, metric counts, delta varints).
        // The deltas are pseudo-random bytes, so the payload is nearly incompressible.
        let left = (target - done) as usize;
        let raw_len = (left + left / 8 + 64).clamp(512, 60 << 10);
        raw.clear();
        raw.extend_from_slice(&m[..m.len().min(raw_len / 4)]);
        raw.extend_from_slice(&(raw_len as u32 / 8).to_le_bytes());
        raw.extend_from_slice(&(300u32).to_le_bytes());
        let at = raw.len();
        raw.resize(raw_len.max(at), 0);
        rng.fill_bytes(&mut raw[at..]);
        for x in &mut raw[at..] {
            if *x < 40 {
                *x = 0; // zero runs as in real delta encoding
            }
        }
        comp.clear();
        comp.extend_from_slice(&(raw.len() as u32).to_le_bytes());
        z.reset();
        z.compress_vec(&raw, &mut comp, FlushCompress::Finish)
            .map_err(io::Error::other)?;
        let ms = t.start_ms + (span * u128::from(done) / u128::from(target)) as i64;
        let mut d = Bson::new();
        d.date("_id", ms - ms % 1000);
        d.i32("type", 1);
        d.bin("data", &comp);
        let doc = d.finish();
        w.write_all(&doc)?;
        done += doc.len() as u64;
    }
    w.flush()?;
    Ok(done)
}

fn run_task(t: &Task) -> io::Result<u64> {
    let f = File::create(&t.path)?;
    let n = match t.body {
        Body::Text(text) => write_text(t, text, f.try_clone()?)?,
        Body::Ftdc(meta) => write_ftdc(t, meta, f.try_clone()?)?,
    };
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_millis(t.end_ms.max(0) as u64);
    f.set_modified(mtime)?;
    Ok(n)
}

// ---------------------------------------------------------------------------------------------

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen_corpus: error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> io::Result<()> {
    let started = Instant::now();
    let out = &args.out;
    fs::create_dir_all(out)?;
    let hosts = out.join("hosts");
    let marker = out.join("corpus.json");
    if hosts.exists() {
        if !marker.exists() {
            return Err(io::Error::other(format!(
                "{} exists but {} does not: not a corpus this tool wrote; refusing to replace it",
                hosts.display(),
                marker.display()
            )));
        }
        fs::remove_dir_all(&hosts)?;
    }
    // Marks the directory as ours before anything is written, and as incomplete until the end.
    let params = serde_json::json!({
        "size": args.size,
        "smallFiles": args.small_files,
        "seed": args.seed,
        "complete": false,
    });
    fs::write(
        &marker,
        serde_json::to_string_pretty(&params).expect("json") + "\n",
    )?;
    let (mut pl, layout) = plan(out, args.size, args.seed);
    plan_small(&mut pl, &layout, args.small_files);
    let mut dirs: Vec<&Path> = pl.tasks.iter().filter_map(|t| t.path.parent()).collect();
    dirs.sort();
    dirs.dedup();
    for d in dirs {
        fs::create_dir_all(d)?;
    }
    fs::write(out.join("request.json"), &layout.request)?;

    // Biggest first, so that the threads finish together.
    let mut order: Vec<usize> = (0..pl.tasks.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(pl.tasks[i].target));
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let next = AtomicUsize::new(0);
    let sizes: Vec<Mutex<u64>> = (0..pl.tasks.len()).map(|_| Mutex::new(0)).collect();
    let err: Mutex<Option<io::Error>> = Mutex::new(None);
    std::thread::scope(|sc| {
        for _ in 0..threads {
            sc.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&i) = order.get(k) else { break };
                if err.lock().expect("lock").is_some() {
                    break;
                }
                let t = &pl.tasks[i];
                match run_task(t) {
                    Ok(n) => *sizes[i].lock().expect("lock") = n,
                    Err(e) => {
                        let e = io::Error::new(e.kind(), format!("{}: {e}", t.path.display()));
                        err.lock().expect("lock").get_or_insert(e);
                        break;
                    }
                }
            });
        }
    });
    if let Some(e) = err.into_inner().expect("lock") {
        return Err(e);
    }
    let sizes: Vec<u64> = sizes
        .into_iter()
        .map(|m| m.into_inner().expect("lock"))
        .collect();
    let total: u64 = sizes.iter().sum();
    let mut by_kind: [(u64, u64); 4] = [(0, 0); 4]; // logs, gz, ftdc, agent
    for (t, n) in pl.tasks.iter().zip(&sizes) {
        let k = match t.body {
            _ if t.gz => 1,
            Body::Ftdc(_) => 2,
            Body::Text(Text::Logv2 | Text::Legacy) => 0,
            Body::Text(_) => 3,
        };
        by_kind[k].0 += 1;
        by_kind[k].1 += n;
    }
    let secs = started.elapsed().as_secs_f64();
    let summary = serde_json::json!({
        "size": args.size,
        "smallFiles": args.small_files,
        "seed": args.seed,
        "complete": true,
        "files": pl.tasks.len(),
        "bytes": total,
    });
    fs::write(
        &marker,
        serde_json::to_string_pretty(&summary).expect("json") + "\n",
    )?;
    use std::fmt::Write as _;
    let mut msg = String::new();
    let mib = |n: u64| n as f64 / (1u64 << 20) as f64;
    let _ = writeln!(
        msg,
        "gen_corpus: {} files, {} bytes ({:.1} MiB) under {} in {:.2} s ({:.0} MB/s, {threads} threads)",
        pl.tasks.len(),
        total,
        mib(total),
        hosts.display(),
        secs,
        total as f64 / 1e6 / secs.max(1e-9)
    );
    for (name, (n, b)) in ["mongod/mongos logs", "rotated .gz", "FTDC", "agent logs"]
        .iter()
        .zip(by_kind)
    {
        let _ = writeln!(msg, "  {name:<20} {n:>6} files {:>10.1} MiB", mib(b));
    }
    let _ = writeln!(msg, "  request: {}", out.join("request.json").display());
    // A closed stdout (`| head`) is not an error of the generator.
    let _ = io::stdout().write_all(msg.as_bytes());
    Ok(())
}
