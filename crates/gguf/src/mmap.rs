//! The crate's only `unsafe`: mapping a file read-only.

use std::fs::File;

use memmap2::Mmap;

/// Maps `file` read-only.
#[allow(unsafe_code)]
pub(crate) fn map_read_only(file: &File) -> std::io::Result<Mmap> {
    // SAFETY: `Mmap::map` is unsafe because the mapped bytes can change underneath us if
    // another process modifies or truncates the file while it is mapped (truncation can
    // even turn reads into SIGBUS). wren opens model files read-only and never writes to
    // them; we assume, as every mmap-based model loader does, that nobody else modifies a
    // model file while it is in use. Everything read from the mapping is treated as
    // untrusted bytes and validated, so changed *contents* cannot cause memory unsafety
    // in this crate; only a concurrent truncation is outside what we can defend against.
    unsafe { Mmap::map(file) }
}
