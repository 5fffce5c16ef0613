//! Parsing of the GGUF header, metadata and tensor-info table from untrusted bytes.

use std::collections::HashMap;

use crate::reader::Cursor;
use crate::tensor::{self, TensorInfo};
use crate::value::{min_encoded_size, type_id, type_id_name, Value};
use crate::{GgmlType, GgufError};

/// Longest metadata key accepted, in bytes.
pub const MAX_KEY_LEN: u64 = 64 * 1024;
/// Longest tensor name accepted, in bytes.
pub const MAX_TENSOR_NAME_LEN: u64 = 64 * 1024;
/// Deepest nesting of arrays accepted (an array of scalars has depth 1).
pub const MAX_ARRAY_DEPTH: u32 = 8;
/// Most array elements accepted across all metadata (bounds memory: each costs 32 bytes).
pub const MAX_METADATA_VALUES: u64 = 32 * 1024 * 1024;
/// Alignment used when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;

const HEADER_LEN: u64 = 24;
/// Smallest possible metadata entry: key length, type, one value byte (the key is non-empty,
/// but that byte is not counted).
const MIN_KV_LEN: u64 = 8 + 4 + 1;
/// Smallest possible tensor info: name length, n_dims, one dim, type, offset.
const MIN_TENSOR_INFO_LEN: u64 = 8 + 4 + 8 + 4 + 8;

/// Everything the header describes, validated.
pub(crate) struct Parsed {
    pub version: u32,
    pub alignment: u64,
    pub metadata: Vec<(String, Value)>,
    pub metadata_index: HashMap<String, usize>,
    pub tensors: Vec<TensorInfo>,
    pub tensor_index: HashMap<String, usize>,
    pub data_offset: u64,
}

fn malformed(msg: String) -> GgufError {
    GgufError::Malformed(msg)
}

/// Parses and validates a whole GGUF file held in `buf`.
pub(crate) fn parse(buf: &[u8]) -> Result<Parsed, GgufError> {
    let mut cur = Cursor::new(buf);
    let (version, tensor_count, kv_count) = parse_header(&mut cur)?;
    let (metadata, metadata_index) = parse_metadata(&mut cur, kv_count)?;
    let alignment = alignment(&metadata, &metadata_index)?;
    let (tensors, tensor_index) = parse_tensor_infos(&mut cur, tensor_count)?;
    let header_end = cur.pos() as u64;
    let data_offset = header_end
        .checked_next_multiple_of(alignment)
        .ok_or_else(|| {
            malformed(format!(
                "header end {header_end} padded to {alignment} overflows"
            ))
        })?;
    tensor::check_layout(&tensors, data_offset, alignment, cur.len())?;
    Ok(Parsed {
        version,
        alignment,
        metadata,
        metadata_index,
        tensors,
        tensor_index,
        data_offset,
    })
}

fn parse_header(cur: &mut Cursor) -> Result<(u32, u64, u64), GgufError> {
    if cur.len() < 4 {
        return Err(malformed(format!(
            "not a GGUF file: the file is {} bytes, too short for the {HEADER_LEN}-byte header",
            cur.len()
        )));
    }
    let head = |e: String| malformed(format!("header: {e}"));
    let magic = cur.take(4, "magic").map_err(head)?;
    if magic != b"GGUF" {
        return Err(malformed(format!(
            "not a GGUF file: the first 4 bytes are {magic:02x?}, expected 47 47 55 46 (\"GGUF\")"
        )));
    }
    let version = cur.u32("version").map_err(head)?;
    match version {
        2 | 3 => {}
        1 => {
            return Err(GgufError::Unsupported(
                "GGUF version 1 is not supported (wren reads versions 2 and 3; \
                 re-convert the model with a current llama.cpp)"
                    .into(),
            ))
        }
        v if (1..=3).contains(&v.swap_bytes()) => {
            return Err(GgufError::Unsupported(format!(
                "big-endian GGUF files are not supported (version field {v:#010x} is \
                 version {} byte-swapped)",
                v.swap_bytes()
            )))
        }
        v => {
            return Err(GgufError::Unsupported(format!(
                "GGUF version {v} is not supported (wren reads versions 2 and 3)"
            )))
        }
    }
    let tensor_count = cur.u64("tensor count").map_err(head)?;
    let kv_count = cur.u64("metadata key count").map_err(head)?;
    cur.check_count(kv_count, MIN_KV_LEN, "metadata key count", 16)
        .map_err(head)?;
    cur.check_count(tensor_count, MIN_TENSOR_INFO_LEN, "tensor count", 8)
        .map_err(head)?;
    Ok((version, tensor_count, kv_count))
}

type Metadata = (Vec<(String, Value)>, HashMap<String, usize>);

fn parse_metadata(cur: &mut Cursor, kv_count: u64) -> Result<Metadata, GgufError> {
    // The count was checked against the file size, so this allocation is bounded.
    let mut metadata = Vec::with_capacity(kv_count as usize);
    let mut index = HashMap::with_capacity(kv_count as usize);
    let mut budget = MAX_METADATA_VALUES;
    for i in 0..kv_count {
        let key_at = cur.pos();
        let key = cur
            .str("key", MAX_KEY_LEN)
            .map_err(|e| malformed(format!("metadata key #{i}: {e}")))?;
        if key.is_empty() {
            return Err(malformed(format!(
                "metadata key #{i} at byte {key_at}: the key is empty"
            )));
        }
        let ctx = |e: String| malformed(format!("metadata key #{i} ({key}): {e}"));
        let ty_at = cur.pos();
        let ty = cur.u32("value type").map_err(ctx)?;
        let value = read_value(cur, ty, ty_at, 0, &mut budget).map_err(ctx)?;
        if let Some(&first) = index.get(key) {
            return Err(malformed(format!(
                "metadata key #{i} ({key}) at byte {key_at}: duplicate key (already defined \
                 as key #{first})"
            )));
        }
        index.insert(key.to_owned(), metadata.len());
        metadata.push((key.to_owned(), value));
    }
    Ok((metadata, index))
}

/// Reads one value of GGUF type `ty` (whose type id was read at byte `ty_at`).
/// `depth` is the number of arrays enclosing this value.
fn read_value(
    cur: &mut Cursor,
    ty: u32,
    ty_at: usize,
    depth: u32,
    budget: &mut u64,
) -> Result<Value, String> {
    Ok(match ty {
        type_id::U8 => Value::U8(cur.u8("u8 value")?),
        type_id::I8 => Value::I8(cur.i8("i8 value")?),
        type_id::U16 => Value::U16(cur.u16("u16 value")?),
        type_id::I16 => Value::I16(cur.i16("i16 value")?),
        type_id::U32 => Value::U32(cur.u32("u32 value")?),
        type_id::I32 => Value::I32(cur.i32("i32 value")?),
        type_id::F32 => Value::F32(cur.f32("f32 value")?),
        type_id::BOOL => Value::Bool(cur.bool("bool value")?),
        type_id::STRING => Value::String(cur.str("string", u64::MAX)?.to_owned()),
        type_id::ARRAY => Value::Array(read_array(cur, depth + 1, budget)?),
        type_id::U64 => Value::U64(cur.u64("u64 value")?),
        type_id::I64 => Value::I64(cur.i64("i64 value")?),
        type_id::F64 => Value::F64(cur.f64("f64 value")?),
        _ => return Err(format!("unknown value type {ty} at byte {ty_at}")),
    })
}

/// Reads an array body (element type, count, elements); `depth` counts this array.
fn read_array(cur: &mut Cursor, depth: u32, budget: &mut u64) -> Result<Vec<Value>, String> {
    let at = cur.pos();
    if depth > MAX_ARRAY_DEPTH {
        return Err(format!(
            "array at byte {at} is nested more than {MAX_ARRAY_DEPTH} arrays deep"
        ));
    }
    let elem_ty = cur.u32("array element type")?;
    let min_size = min_encoded_size(elem_ty)
        .ok_or_else(|| format!("unknown array element type {elem_ty} at byte {at}"))?;
    let count_at = cur.pos();
    let count = cur.u64("array length")?;
    let what = match type_id_name(elem_ty) {
        Some(name) => format!("array length (of {name})"),
        None => "array length".to_string(),
    };
    cur.check_count(count, min_size, &what, count_at)?;
    if count > *budget {
        return Err(format!(
            "array length {count} at byte {count_at} exceeds wren's limit of \
             {MAX_METADATA_VALUES} array elements in all metadata"
        ));
    }
    *budget -= count;
    // Bounded by the file size (check_count) and by the budget.
    let mut items = Vec::with_capacity(count as usize);
    for n in 0..count {
        let item = read_value(cur, elem_ty, at, depth, budget)
            .map_err(|e| format!("array element #{n}: {e}"))?;
        items.push(item);
    }
    Ok(items)
}

fn alignment(
    metadata: &[(String, Value)],
    index: &HashMap<String, usize>,
) -> Result<u64, GgufError> {
    let Some(&i) = index.get("general.alignment") else {
        return Ok(DEFAULT_ALIGNMENT);
    };
    match metadata[i].1 {
        Value::U32(a) if a >= 8 && a.is_power_of_two() => Ok(a.into()),
        Value::U32(a) => Err(malformed(format!(
            "metadata general.alignment: {a} is not a power of two of at least 8"
        ))),
        ref other => Err(malformed(format!(
            "metadata general.alignment: expected u32, found {}",
            other.describe()
        ))),
    }
}

type Tensors = (Vec<TensorInfo>, HashMap<String, usize>);

fn parse_tensor_infos(cur: &mut Cursor, tensor_count: u64) -> Result<Tensors, GgufError> {
    let at = cur.pos();
    cur.check_count(tensor_count, MIN_TENSOR_INFO_LEN, "tensor count", 8)
        .map_err(|e| malformed(format!("tensor infos at byte {at}: {e}")))?;
    let mut tensors = Vec::with_capacity(tensor_count as usize);
    let mut index = HashMap::with_capacity(tensor_count as usize);
    for i in 0..tensor_count {
        let name_at = cur.pos();
        let name = cur
            .str("tensor name", MAX_TENSOR_NAME_LEN)
            .map_err(|e| malformed(format!("tensor #{i}: {e}")))?;
        if name.is_empty() {
            return Err(malformed(format!(
                "tensor #{i} at byte {name_at}: the name is empty"
            )));
        }
        let t = parse_tensor_info(cur, name)?;
        if let Some(&first) = index.get(name) {
            return Err(malformed(format!(
                "tensor {name} (#{i}) at byte {name_at}: duplicate tensor name (already \
                 used by tensor #{first})"
            )));
        }
        index.insert(name.to_owned(), tensors.len());
        tensors.push(t);
    }
    Ok((tensors, index))
}

/// Parses the rest of a tensor info after its name.
fn parse_tensor_info(cur: &mut Cursor, name: &str) -> Result<TensorInfo, GgufError> {
    let ctx = |e: String| malformed(format!("tensor {name}: {e}"));
    let n_dims_at = cur.pos();
    let n_dims = cur.u32("n_dims").map_err(ctx)?;
    if !(1..=4).contains(&n_dims) {
        return Err(ctx(format!(
            "n_dims {n_dims} at byte {n_dims_at} is not in 1..=4"
        )));
    }
    let mut dims = Vec::with_capacity(n_dims as usize);
    for d in 0..n_dims {
        let dim_at = cur.pos();
        let dim = cur.u64("dimension").map_err(ctx)?;
        if dim == 0 {
            return Err(ctx(format!("dimension {d} at byte {dim_at} is 0")));
        }
        dims.push(dim);
    }
    let ty_at = cur.pos();
    let ty_id = cur.u32("tensor type").map_err(ctx)?;
    let ty =
        GgmlType::from_id(ty_id).ok_or_else(|| tensor::unsupported_type(name, ty_id, ty_at))?;
    let offset = cur.u64("data offset").map_err(ctx)?;
    let n_bytes = tensor::byte_size(name, &dims, ty)?;
    Ok(TensorInfo {
        name: name.to_owned(),
        dims,
        ty,
        offset,
        n_bytes,
    })
}
