//! `GgufFile`: an opened, fully validated GGUF file and access to its tensors.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use crate::parse::{parse, Parsed};
use crate::tensor::TensorInfo;
use crate::value::Value;
use crate::{mmap, GgufError};

/// The bytes of the file: a read-only memory map, or an owned buffer.
enum Backing {
    Mmap(memmap2::Mmap),
    Bytes(Vec<u8>),
}

impl Backing {
    fn bytes(&self) -> &[u8] {
        match self {
            Backing::Mmap(m) => m,
            Backing::Bytes(b) => b,
        }
    }
}

/// A GGUF file whose header, metadata and tensor table have been validated.
/// Tensor data is served zero-copy from the mapping.
pub struct GgufFile {
    backing: Backing,
    pub(crate) version: u32,
    pub(crate) alignment: u64,
    pub(crate) metadata: Vec<(String, Value)>,
    pub(crate) metadata_index: HashMap<String, usize>,
    pub(crate) tensors: Vec<TensorInfo>,
    pub(crate) tensor_index: HashMap<String, usize>,
    pub(crate) data_offset: u64,
}

impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile")
            .field("version", &self.version)
            .field("file_size", &self.file_size())
            .field("metadata", &self.metadata.len())
            .field("tensors", &self.tensors.len())
            .finish()
    }
}

impl GgufFile {
    /// Memory-maps `path` read-only and validates it.
    pub fn open(path: &Path) -> Result<GgufFile, GgufError> {
        let io = |err| GgufError::Io {
            path: path.to_owned(),
            err,
        };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        // Mapping an empty file fails on some platforms; parse it as bytes for the same error.
        let backing = if len == 0 {
            Backing::Bytes(Vec::new())
        } else {
            Backing::Mmap(mmap::map_read_only(&file).map_err(io)?)
        };
        Self::from_backing(backing)
    }

    /// Validates a GGUF file held in memory (same checks as [`GgufFile::open`]).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<GgufFile, GgufError> {
        Self::from_backing(Backing::Bytes(bytes))
    }

    fn from_backing(backing: Backing) -> Result<GgufFile, GgufError> {
        let Parsed {
            version,
            alignment,
            metadata,
            metadata_index,
            tensors,
            tensor_index,
            data_offset,
        } = parse(backing.bytes())?;
        Ok(GgufFile {
            backing,
            version,
            alignment,
            metadata,
            metadata_index,
            tensors,
            tensor_index,
            data_offset,
        })
    }

    /// GGUF format version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Data alignment: `general.alignment`, or 32.
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// All metadata key/value pairs in file order.
    pub fn metadata(&self) -> &[(String, Value)] {
        &self.metadata
    }

    /// The value of metadata key `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata_index.get(key).map(|&i| &self.metadata[i].1)
    }

    /// All tensors in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    /// The tensor called `name`, if present.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensor_index.get(name).map(|&i| &self.tensors[i])
    }

    /// The raw bytes of tensor `t` (zero-copy). For a file from [`GgufFile::open`] the slice
    /// starts at an `alignment()`-aligned address (the mapping is page-aligned); for
    /// [`GgufFile::from_bytes`] only the file offset is aligned.
    ///
    /// Panics if `t` does not describe a region of this file (a `TensorInfo` from another
    /// file or modified by the caller); infos from [`GgufFile::tensors`] always do.
    pub fn tensor_data(&self, t: &TensorInfo) -> &[u8] {
        let start = self
            .data_offset
            .checked_add(t.offset)
            .and_then(|s| usize::try_from(s).ok());
        let end = start.and_then(|s| s.checked_add(usize::try_from(t.n_bytes).ok()?));
        match (start, end) {
            (Some(s), Some(e)) if e <= self.backing.bytes().len() => &self.backing.bytes()[s..e],
            _ => panic!(
                "tensor {}: offset {} + {} bytes is not inside this GGUF file ({} bytes)",
                t.name,
                t.offset,
                t.n_bytes,
                self.file_size()
            ),
        }
    }

    /// Hints that bytes `range` of tensor `t`'s data will not be read again (they were
    /// copied, e.g. repacked for the kernels): a mapped file drops those pages from the
    /// resident set (whole 64 KiB spans inside the range); reading them later still works.
    /// A no-op for files held in memory. Panics if `range` is outside the tensor.
    pub fn release_tensor_range(&self, t: &TensorInfo, range: std::ops::Range<usize>) {
        if let Backing::Mmap(m) = &self.backing {
            let data = &self.tensor_data(t)[range];
            let offset = data.as_ptr() as usize - m.as_ptr() as usize;
            mmap::release(m, offset, data.len());
        }
    }

    /// Absolute file offset of the tensor data section.
    pub fn data_offset(&self) -> u64 {
        self.data_offset
    }

    /// Size of the whole file in bytes.
    pub fn file_size(&self) -> u64 {
        self.backing.bytes().len() as u64
    }

    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        self.backing.bytes()
    }
}
