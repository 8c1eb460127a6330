//! Prints what discovery finds on this host: the summary on stderr, the
//! request (if any) on stdout. `cargo run -p logpack-discover --example
//! discover [PROC_ROOT [ETC_ROOT [OPT_ROOT]]]`.

use std::path::PathBuf;

fn main() {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let mut roots = logpack_discover::Roots::default();
    if let Some(p) = args.next() {
        roots.proc_root = p;
    }
    if let Some(e) = args.next() {
        roots.etc_root = e;
    }
    if let Some(o) = args.next() {
        roots.opt_root = o;
    }
    let found = logpack_discover::discover(&roots);
    eprint!("{}", found.summary());
    match found.request_json(true) {
        Some(json) => println!("{json}"),
        None => std::process::exit(3),
    }
}
