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

/// Drops the mapped pages inside `[offset, offset + len)` of `map` from this process's
/// resident set, best effort: only whole 64 KiB-aligned spans (a multiple of every common
/// page size) are released, and errors are ignored. A later read faults the pages back in
/// from the page cache or the file, unchanged.
#[cfg(unix)]
#[allow(unsafe_code)]
pub(crate) fn release(map: &Mmap, offset: usize, len: usize) {
    const SPAN: usize = 64 * 1024;
    let start = offset.next_multiple_of(SPAN);
    let end = (offset + len) / SPAN * SPAN;
    if end > start {
        // SAFETY: `MADV_DONTNEED` is unchecked because on a writable private mapping it
        // would discard modified pages. This mapping is read-only and never written, so
        // every page is clean and refaults with the file's bytes: any slice still pointing
        // into the range reads the same values as before.
        let _ = unsafe {
            map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
        };
    }
}

#[cfg(not(unix))]
pub(crate) fn release(_: &Mmap, _: usize, _: usize) {}
