//! Shared by the benches: a seeded generator, so every run sees the same bytes.
#![allow(dead_code)] // each bench uses a different part

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng};

/// The (database, collection) pairs the generated log lines name.
pub const NAMESPACES: [(&str, &str); 6] = [
    ("shop", "orders"),
    ("shop", "customers"),
    ("shop", "inventory"),
    ("analytics", "events"),
    ("analytics", "sessions"),
    ("auth", "tokens"),
];

/// rand's `StdRng` from a fixed seed, with the three draws the generators use.
pub struct Rng(StdRng);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(StdRng::seed_from_u64(seed))
    }

    pub fn next(&mut self) -> u64 {
        self.0.random()
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0.random_range(0..n.max(1))
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// A random version-4 UUID in its usual text form.
    pub fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }
}
