//! Joining fragments of archives into a new archive.
