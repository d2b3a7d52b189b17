//! skiff's integration harness: real services started on loopback by the
//! tests themselves, deterministic images, and the tools under test.

pub mod harness;
