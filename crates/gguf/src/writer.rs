//! `GgufWriter`: builds GGUF files in memory (tests across the workspace use it to make
//! tiny models).

use std::path::Path;

use crate::parse::DEFAULT_ALIGNMENT;
use crate::value::{type_id, Value};
use crate::GgmlType;

/// Builds a GGUF file (version 3 unless [`GgufWriter::set_version`] says otherwise).
///
/// Metadata is written in insertion order, then the tensor infos, then each tensor's data
/// padded to the alignment. The writer checks what a caller could get wrong by accident
/// (mixed-type arrays, data of the wrong size) and panics with a message; to write a
/// deliberately corrupt file use [`GgufWriter::add_tensor_unchecked`] or patch the bytes.
#[derive(Clone, Debug)]
pub struct GgufWriter {
    version: u32,
    metadata: Vec<(String, Value)>,
    tensors: Vec<PendingTensor>,
}

#[derive(Clone, Debug)]
struct PendingTensor {
    name: String,
    dims: Vec<u64>,
    ty_id: u32,
    data: Vec<u8>,
}

impl Default for GgufWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl GgufWriter {
    pub fn new() -> Self {
        GgufWriter {
            version: 3,
            metadata: Vec::new(),
            tensors: Vec::new(),
        }
    }

    /// A writer holding a copy of `file`: its version, metadata (alignment included) and
    /// tensors, in order. Used to add metadata to a converted model (`wren sparsify`).
    pub fn from_file(file: &crate::GgufFile) -> Self {
        GgufWriter {
            version: file.version(),
            metadata: file.metadata().to_vec(),
            tensors: file
                .tensors()
                .iter()
                .map(|t| PendingTensor {
                    name: t.name.clone(),
                    dims: t.dims.clone(),
                    ty_id: t.ty.id(),
                    data: file.tensor_data(t).to_vec(),
                })
                .collect(),
        }
    }

    /// Header version to write (2 and 3 have the same layout).
    pub fn set_version(&mut self, version: u32) -> &mut Self {
        self.version = version;
        self
    }

    /// Sets `general.alignment` (a power of two ≥ 8 for a valid file).
    pub fn set_alignment(&mut self, alignment: u32) -> &mut Self {
        assert!(
            alignment > 0,
            "GgufWriter::set_alignment: alignment must be > 0"
        );
        self.set_metadata("general.alignment", Value::U32(alignment))
    }

    /// Appends a metadata entry (duplicates are written as given; the reader rejects them).
    /// Panics if an array mixes element types.
    pub fn add_metadata(&mut self, key: impl Into<String>, value: Value) -> &mut Self {
        let key = key.into();
        check_homogeneous(&key, &value);
        self.metadata.push((key, value));
        self
    }

    /// Replaces the value of `key` if present, otherwise appends it.
    pub fn set_metadata(&mut self, key: impl Into<String>, value: Value) -> &mut Self {
        let key = key.into();
        check_homogeneous(&key, &value);
        match self.metadata.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.metadata.push((key, value)),
        }
        self
    }

    pub fn add_u32(&mut self, key: impl Into<String>, v: u32) -> &mut Self {
        self.add_metadata(key, Value::U32(v))
    }

    pub fn add_f32(&mut self, key: impl Into<String>, v: f32) -> &mut Self {
        self.add_metadata(key, Value::F32(v))
    }

    pub fn add_bool(&mut self, key: impl Into<String>, v: bool) -> &mut Self {
        self.add_metadata(key, Value::Bool(v))
    }

    pub fn add_str(&mut self, key: impl Into<String>, v: impl Into<String>) -> &mut Self {
        self.add_metadata(key, Value::String(v.into()))
    }

    pub fn add_str_array<S: AsRef<str>>(&mut self, key: impl Into<String>, v: &[S]) -> &mut Self {
        let items = v
            .iter()
            .map(|s| Value::String(s.as_ref().to_owned()))
            .collect();
        self.add_metadata(key, Value::Array(items))
    }

    pub fn add_f32_array(&mut self, key: impl Into<String>, v: &[f32]) -> &mut Self {
        self.add_metadata(
            key,
            Value::Array(v.iter().map(|&x| Value::F32(x)).collect()),
        )
    }

    pub fn add_i32_array(&mut self, key: impl Into<String>, v: &[i32]) -> &mut Self {
        self.add_metadata(
            key,
            Value::Array(v.iter().map(|&x| Value::I32(x)).collect()),
        )
    }

    /// Adds a tensor with raw (already quantised) data. `dims` are in ggml order
    /// (`dims[0]` innermost). Panics if `data.len()` does not match the shape and type.
    pub fn add_tensor(
        &mut self,
        name: impl Into<String>,
        dims: &[u64],
        ty: GgmlType,
        data: Vec<u8>,
    ) -> &mut Self {
        let name = name.into();
        let rows: u64 = dims.iter().skip(1).product();
        let expected = dims
            .first()
            .and_then(|&n| ty.row_bytes(n))
            .and_then(|rb| rb.checked_mul(rows));
        assert_eq!(
            expected,
            Some(data.len() as u64),
            "GgufWriter::add_tensor({name}): {} bytes of data for shape {dims:?} of type {ty}",
            data.len()
        );
        self.add_tensor_unchecked(name, dims, ty.id(), data)
    }

    /// Adds an F32 tensor from values.
    pub fn add_f32_tensor(
        &mut self,
        name: impl Into<String>,
        dims: &[u64],
        values: &[f32],
    ) -> &mut Self {
        let data = values.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.add_tensor(name, dims, GgmlType::F32, data)
    }

    /// Adds a tensor without checking anything (for writing corrupt test files):
    /// any type id, any shape, any amount of data.
    pub fn add_tensor_unchecked(
        &mut self,
        name: impl Into<String>,
        dims: &[u64],
        ty_id: u32,
        data: Vec<u8>,
    ) -> &mut Self {
        self.tensors.push(PendingTensor {
            name: name.into(),
            dims: dims.to_vec(),
            ty_id,
            data,
        });
        self
    }

    /// The alignment the data will be padded to: `general.alignment` if it is a non-zero
    /// u32, else 32.
    pub fn alignment(&self) -> u64 {
        match self.metadata.iter().find(|(k, _)| k == "general.alignment") {
            Some((_, Value::U32(a))) if *a > 0 => u64::from(*a),
            _ => DEFAULT_ALIGNMENT,
        }
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let align = self.alignment();
        let mut out = Vec::new();
        out.extend_from_slice(b"GGUF");
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.metadata.len() as u64).to_le_bytes());
        for (key, value) in &self.metadata {
            write_str(&mut out, key);
            out.extend_from_slice(&value.type_id().to_le_bytes());
            write_value(&mut out, value);
        }
        let mut offset = 0u64;
        for t in &self.tensors {
            write_str(&mut out, &t.name);
            out.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
            for d in &t.dims {
                out.extend_from_slice(&d.to_le_bytes());
            }
            out.extend_from_slice(&t.ty_id.to_le_bytes());
            out.extend_from_slice(&offset.to_le_bytes());
            offset = (offset + t.data.len() as u64).next_multiple_of(align);
        }
        pad(&mut out, align);
        for t in &self.tensors {
            out.extend_from_slice(&t.data);
            pad(&mut out, align);
        }
        out
    }

    /// Writes the file to `path`.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.to_bytes())
    }
}

fn pad(out: &mut Vec<u8>, align: u64) {
    let len = (out.len() as u64).next_multiple_of(align);
    out.resize(len as usize, 0);
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::U8(x) => out.push(*x),
        Value::I8(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::U16(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I16(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::U32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::F32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::Bool(x) => out.push(u8::from(*x)),
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            // An empty array's element type is not recoverable; write u8.
            let elem_ty = items.first().map_or(type_id::U8, Value::type_id);
            out.extend_from_slice(&elem_ty.to_le_bytes());
            out.extend_from_slice(&(items.len() as u64).to_le_bytes());
            for item in items {
                write_value(out, item);
            }
        }
        Value::U64(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I64(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::F64(x) => out.extend_from_slice(&x.to_le_bytes()),
    }
}

/// Panics if any array in `value` mixes element types (GGUF arrays have one element type).
fn check_homogeneous(key: &str, value: &Value) {
    if let Value::Array(items) = value {
        if let Some(first) = items.first() {
            for (i, item) in items.iter().enumerate() {
                assert_eq!(
                    item.type_id(),
                    first.type_id(),
                    "GgufWriter: metadata {key}: array element #{i} is {} but element #0 is {}",
                    item.type_name(),
                    first.type_name()
                );
                check_homogeneous(key, item);
            }
        }
    }
}
