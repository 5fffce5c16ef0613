//! A catalogue of corrupt, truncated and unsupported GGUF files. Each must be rejected
//! with a one-line error that names the problem and where; none may panic.

use std::path::PathBuf;

use wren_gguf::{GgmlType, GgufError, GgufFile, GgufWriter, Value};

// ---------- helpers ----------

/// Parses `bytes`, expects an error, checks it is one line and contains every fragment.
fn expect_err(bytes: Vec<u8>, fragments: &[&str]) -> String {
    let msg = match GgufFile::from_bytes(bytes) {
        Ok(f) => panic!("expected an error containing {fragments:?}, but the file parsed: {f:?}"),
        Err(e) => e.to_string(),
    };
    assert!(!msg.contains('\n'), "error is not one line: {msg}");
    for frag in fragments {
        assert!(
            msg.contains(frag),
            "error {msg:?} does not contain {frag:?}"
        );
    }
    msg
}

fn header(version: u32, n_tensors: u64, n_kv: u64) -> Vec<u8> {
    let mut b = b"GGUF".to_vec();
    b.extend_from_slice(&version.to_le_bytes());
    b.extend_from_slice(&n_tensors.to_le_bytes());
    b.extend_from_slice(&n_kv.to_le_bytes());
    b
}

fn gstr(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s);
}

/// A raw metadata entry: key, value type, value bytes.
fn kv(out: &mut Vec<u8>, key: &[u8], ty: u32, value: &[u8]) {
    gstr(out, key);
    out.extend_from_slice(&ty.to_le_bytes());
    out.extend_from_slice(value);
}

/// A raw tensor info.
fn tinfo(out: &mut Vec<u8>, name: &str, dims: &[u64], ty: u32, offset: u64) {
    gstr(out, name.as_bytes());
    out.extend_from_slice(&(dims.len() as u32).to_le_bytes());
    for d in dims {
        out.extend_from_slice(&d.to_le_bytes());
    }
    out.extend_from_slice(&ty.to_le_bytes());
    out.extend_from_slice(&offset.to_le_bytes());
}

/// A valid file with two metadata keys and three tensors.
fn valid_writer() -> GgufWriter {
    let mut w = GgufWriter::new();
    w.add_str("general.architecture", "tiny")
        .add_u32("tiny.block_count", 2)
        .add_f32_tensor("norm", &[8], &[1.0; 8])
        .add_tensor("blk.0.w", &[32, 2], GgmlType::Q8_0, vec![1; 68])
        .add_tensor("blk.1.w", &[256, 1], GgmlType::Q4K, vec![2; 144]);
    w
}

/// Byte position just after tensor `name`'s name in its tensor info.
fn after_tensor_name(bytes: &[u8], name: &str) -> usize {
    let mut needle = (name.len() as u64).to_le_bytes().to_vec();
    needle.extend_from_slice(name.as_bytes());
    let pos = bytes
        .windows(needle.len())
        .position(|w| w == needle.as_slice())
        .unwrap_or_else(|| panic!("tensor info {name} not found"));
    pos + needle.len()
}

/// Byte position of tensor `name`'s offset field.
fn offset_field(bytes: &[u8], name: &str) -> usize {
    let p = after_tensor_name(bytes, name);
    let n_dims = u32::from_le_bytes(bytes[p..p + 4].try_into().unwrap()) as usize;
    p + 4 + 8 * n_dims + 4
}

fn put_u64(bytes: &mut [u8], at: usize, v: u64) {
    bytes[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn put_u32(bytes: &mut [u8], at: usize, v: u32) {
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn temp_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("wren-gguf-{}-{name}.gguf", std::process::id()))
}

// ---------- header ----------

#[test]
fn empty_file() {
    expect_err(vec![], &["not a GGUF file", "0 bytes"]);
}

#[test]
fn bad_magic() {
    let mut b = valid_writer().to_bytes();
    b[0..4].copy_from_slice(b"PK\x03\x04");
    expect_err(b, &["not a GGUF file", "[50, 4b, 03, 04]", "GGUF"]);
}

#[test]
fn version_1() {
    expect_err(header(1, 0, 0), &["GGUF version 1 is not supported"]);
}

#[test]
fn version_99() {
    expect_err(
        header(99, 0, 0),
        &["GGUF version 99 is not supported", "2 and 3"],
    );
}

#[test]
fn version_0() {
    expect_err(header(0, 0, 0), &["GGUF version 0 is not supported"]);
}

#[test]
fn big_endian() {
    expect_err(header(3u32.swap_bytes(), 0, 0), &["big-endian"]);
}

#[test]
fn truncated_in_header() {
    let b = valid_writer().to_bytes()[..13].to_vec();
    expect_err(
        b,
        &["header: tensor count (8 bytes) at byte 8 runs past the end of the file (13 bytes)"],
    );
}

#[test]
fn huge_tensor_count() {
    let b = header(3, u64::MAX / 2, 0);
    expect_err(
        b,
        &["tensor count 9223372036854775807 at byte 8 cannot fit"],
    );
}

#[test]
fn huge_kv_count() {
    let mut b = header(3, 0, 1 << 40);
    kv(&mut b, b"a", 4, &[0; 4]);
    expect_err(
        b,
        &["metadata key count 1099511627776 at byte 16 cannot fit"],
    );
}

// ---------- metadata ----------

#[test]
fn truncated_in_key() {
    let mut b = header(3, 0, 1);
    gstr(&mut b, b"general.name");
    b.truncate(b.len() - 3);
    expect_err(
        b,
        &["metadata key #0: key length 12 at byte 24 runs past the end of the file"],
    );
}

#[test]
fn truncated_in_value() {
    let mut b = header(3, 0, 2);
    kv(&mut b, b"a.b", 8, b"\x02\0\0\0\0\0\0\0hi");
    kv(&mut b, b"c.d", 4, &[1, 0]);
    expect_err(
        b,
        &[
            "metadata key #1 (c.d): u32 value (4 bytes) at byte",
            "runs past the end of the file",
        ],
    );
}

#[test]
fn huge_string_length() {
    let mut b = header(3, 0, 1);
    kv(&mut b, b"general.name", 8, &u64::MAX.to_le_bytes());
    b.extend_from_slice(b"Gemma");
    expect_err(
        b,
        &["metadata key #0 (general.name): string length 18446744073709551615 at byte 48 runs past the end of the file (61 bytes)"],
    );
}

#[test]
fn huge_key_length() {
    let mut b = header(3, 0, 1);
    b.extend_from_slice(&(1u64 << 20).to_le_bytes());
    b.extend_from_slice(&vec![b'a'; 1 << 20]);
    b.extend_from_slice(&[4, 0, 0, 0, 1, 0, 0, 0]);
    expect_err(
        b,
        &["metadata key #0: key length 1048576 at byte 24 exceeds the limit of 65536 bytes"],
    );
}

#[test]
fn huge_array_count() {
    let mut b = header(3, 0, 1);
    let mut v = 4u32.to_le_bytes().to_vec(); // u32 elements
    v.extend_from_slice(&(1u64 << 60).to_le_bytes());
    v.extend_from_slice(&[0; 16]);
    kv(&mut b, b"tokenizer.ggml.scores", 9, &v);
    expect_err(
        b,
        &[
            "tokenizer.ggml.scores",
            "array length (of u32) 1152921504606846976",
            "cannot fit",
        ],
    );
}

#[test]
fn huge_string_array_count() {
    let mut w = GgufWriter::new();
    w.add_str_array("tokenizer.ggml.tokens", &["a", "b", "c"]);
    let mut b = w.to_bytes();
    // key at 24: len 8 + 21 bytes, type 4, elem type 4, count 8
    let count_at = 24 + 8 + 21 + 4 + 4;
    assert_eq!(&b[count_at..count_at + 8], &3u64.to_le_bytes());
    put_u64(&mut b, count_at, u64::MAX);
    expect_err(
        b,
        &[
            "tokenizer.ggml.tokens",
            "array length (of string) 18446744073709551615",
            "cannot fit",
        ],
    );
}

#[test]
fn too_many_metadata_values() {
    let n = wren_gguf::MAX_METADATA_VALUES + 1;
    let mut b = header(3, 0, 1);
    gstr(&mut b, b"big");
    b.extend_from_slice(&9u32.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes()); // u8 elements
    b.extend_from_slice(&n.to_le_bytes());
    b.resize(b.len() + n as usize, 0);
    expect_err(
        b,
        &[
            "metadata key #0 (big): array length 33554433",
            "exceeds wren's limit",
        ],
    );
}

#[test]
fn invalid_utf8_key() {
    let mut b = header(3, 0, 1);
    kv(&mut b, b"gen\xffral", 4, &[0; 4]);
    expect_err(b, &["metadata key #0", "not valid UTF-8"]);
}

#[test]
fn invalid_utf8_string_value() {
    let mut b = header(3, 0, 1);
    kv(&mut b, b"general.name", 8, b"\x03\0\0\0\0\0\0\0a\xc3(");
    expect_err(
        b,
        &["metadata key #0 (general.name): string at byte 48 is not valid UTF-8"],
    );
}

#[test]
fn empty_key() {
    let mut b = header(3, 0, 1);
    kv(&mut b, b"", 4, &[0; 4]);
    expect_err(b, &["metadata key #0 at byte 24: the key is empty"]);
}

#[test]
fn bool_value_2() {
    let mut b = header(3, 0, 1);
    kv(&mut b, b"tokenizer.ggml.add_bos_token", 7, &[2]);
    expect_err(
        b,
        &[
            "tokenizer.ggml.add_bos_token",
            "bool value at byte 64 is 2, not 0 or 1",
        ],
    );
}

#[test]
fn bool_in_array_255() {
    let mut b = header(3, 0, 1);
    kv(
        &mut b,
        b"flags",
        9,
        &[7, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 255],
    );
    expect_err(b, &["flags", "array element #1", "is 255, not 0 or 1"]);
}

#[test]
fn unknown_value_type() {
    let mut b = header(3, 0, 1);
    kv(&mut b, b"x", 13, &[0; 8]);
    expect_err(
        b,
        &["metadata key #0 (x): unknown value type 13 at byte 33"],
    );
}

#[test]
fn unknown_array_element_type() {
    let mut b = header(3, 0, 1);
    kv(&mut b, b"x", 9, &[0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect_err(b, &["metadata key #0 (x): unknown array element type 255"]);
}

fn nested(depth: usize) -> Value {
    let mut v = Value::U8(1);
    for _ in 0..depth {
        v = Value::Array(vec![v]);
    }
    v
}

#[test]
fn arrays_nested_too_deep() {
    let mut w = GgufWriter::new();
    w.add_metadata("ok", nested(8));
    let f = GgufFile::from_bytes(w.to_bytes()).unwrap();
    assert_eq!(f.get("ok"), Some(&nested(8)));

    let mut w = GgufWriter::new();
    w.add_metadata("deep", nested(9));
    expect_err(
        w.to_bytes(),
        &["metadata key #0 (deep)", "nested more than 8 arrays deep"],
    );

    // A hostile file nesting a million arrays must not overflow the stack.
    let mut b = header(3, 0, 1);
    gstr(&mut b, b"bomb");
    b.extend_from_slice(&9u32.to_le_bytes());
    for _ in 0..1_000_000 {
        b.extend_from_slice(&9u32.to_le_bytes());
        b.extend_from_slice(&1u64.to_le_bytes());
    }
    expect_err(b, &["nested more than 8 arrays deep"]);
}

#[test]
fn duplicate_key() {
    let mut w = GgufWriter::new();
    w.add_u32("a", 1)
        .add_str("general.name", "x")
        .add_str("general.name", "y");
    expect_err(
        w.to_bytes(),
        &["metadata key #2 (general.name)", "duplicate key", "key #1"],
    );
}

#[test]
fn alignment_not_power_of_two() {
    let mut w = valid_writer();
    w.set_alignment(3);
    expect_err(
        w.to_bytes(),
        &["general.alignment: 3 is not a power of two"],
    );
}

#[test]
fn alignment_too_small() {
    let mut w = valid_writer();
    w.set_alignment(4);
    expect_err(
        w.to_bytes(),
        &["general.alignment: 4 is not a power of two of at least 8"],
    );
    let mut w = valid_writer();
    w.add_metadata("general.alignment", Value::U32(0));
    expect_err(w.to_bytes(), &["general.alignment: 0 is not"]);
}

#[test]
fn alignment_wrong_type() {
    let mut w = valid_writer();
    w.add_str("general.alignment", "32");
    expect_err(
        w.to_bytes(),
        &["metadata general.alignment: expected u32, found string \"32\""],
    );
    let mut w = valid_writer();
    w.add_metadata("general.alignment", Value::U64(32));
    expect_err(
        w.to_bytes(),
        &["general.alignment: expected u32, found u64 32"],
    );
}

// ---------- tensor infos ----------

/// A header with no metadata and one raw tensor info.
fn one_tensor(name: &str, dims: &[u64], ty: u32, offset: u64, data_len: usize) -> Vec<u8> {
    let mut b = header(3, 1, 0);
    tinfo(&mut b, name, dims, ty, offset);
    b.resize(b.len().next_multiple_of(32) + data_len, 0);
    b
}

#[test]
fn truncated_in_tensor_table() {
    let b = valid_writer().to_bytes();
    let cut = after_tensor_name(&b, "blk.0.w") + 6;
    expect_err(
        b[..cut].to_vec(),
        &[
            "tensor infos at byte",
            "tensor count 3 at byte 8 cannot fit",
        ],
    );
}

#[test]
fn truncated_in_tensor_info() {
    let b = one_tensor("w", &[8, 1, 1, 1], 0, 0, 0);
    expect_err(
        b[..56].to_vec(),
        &["tensor w: dimension (8 bytes) at byte 53 runs past the end of the file (56 bytes)"],
    );
}

#[test]
fn n_dims_0() {
    expect_err(
        one_tensor("w", &[], 0, 0, 64),
        &["tensor w: n_dims 0 at byte 33 is not in 1..=4"],
    );
}

#[test]
fn n_dims_5() {
    expect_err(
        one_tensor("w", &[1, 1, 1, 1, 1], 0, 0, 64),
        &["tensor w: n_dims 5", "not in 1..=4"],
    );
}

#[test]
fn zero_dim() {
    expect_err(
        one_tensor("w", &[4, 0], 0, 0, 64),
        &["tensor w: dimension 1 at byte 45 is 0"],
    );
}

#[test]
fn dim_product_overflow() {
    expect_err(
        one_tensor("w", &[1 << 20, 1 << 20, 1 << 20, 1 << 20], 0, 0, 64),
        &["tensor w: shape [1048576, 1048576, 1048576, 1048576] has more than 2^64 elements"],
    );
}

#[test]
fn byte_size_overflow() {
    expect_err(
        one_tensor("w", &[1 << 32, 1 << 31], 0, 0, 64),
        &["tensor w:", "more than 2^64 bytes"],
    );
}

#[test]
fn row_not_multiple_of_block_size() {
    expect_err(
        one_tensor("blk.0.ffn_up.weight", &[100, 4], 12, 0, 4096),
        &["tensor blk.0.ffn_up.weight: row length 100 (dims[0]) is not a multiple of the Q4_K block size 256"],
    );
}

#[test]
fn unknown_ggml_type() {
    expect_err(
        one_tensor("X", &[32], 99, 0, 128),
        &["tensor X: unknown tensor type 99", "not supported"],
    );
}

#[test]
fn unsupported_ggml_type() {
    expect_err(
        one_tensor("X", &[256], 16, 0, 128),
        &["tensor X: tensor type 16 (IQ2_XXS)", "not supported"],
    );
}

#[test]
fn empty_tensor_name() {
    expect_err(
        one_tensor("", &[8], 0, 0, 32),
        &["tensor #0 at byte 24: the name is empty"],
    );
}

#[test]
fn huge_tensor_name() {
    let mut b = header(3, 1, 0);
    gstr(&mut b, &vec![b'n'; 100_000]);
    b.extend_from_slice(&[0; 64]);
    expect_err(
        b,
        &["tensor #0: tensor name length 100000 at byte 24 exceeds the limit of 65536 bytes"],
    );
}

#[test]
fn duplicate_tensor_name() {
    let mut w = valid_writer();
    w.add_f32_tensor("norm", &[8], &[0.0; 8]);
    expect_err(
        w.to_bytes(),
        &["tensor norm (#3)", "duplicate tensor name", "tensor #0"],
    );
}

// ---------- tensor data placement ----------

#[test]
fn misaligned_offset() {
    let mut b = valid_writer().to_bytes();
    let at = offset_field(&b, "blk.1.w");
    put_u64(&mut b, at, 100);
    expect_err(
        b,
        &["tensor blk.1.w: data offset 100 is not a multiple of the alignment 32"],
    );
}

#[test]
fn data_past_eof() {
    let mut b = valid_writer().to_bytes();
    let len = b.len() as u64;
    let at = offset_field(&b, "blk.0.w");
    put_u64(&mut b, at, 1 << 20);
    let f = GgufFile::from_bytes(valid_writer().to_bytes()).unwrap();
    let end = f.data_offset() + (1 << 20) + 68;
    let want =
        format!("tensor blk.0.w: data ends at byte {end}, past the end of the file ({len} bytes)");
    expect_err(b, &[&want]);
}

#[test]
fn offset_overflow() {
    let mut b = valid_writer().to_bytes();
    let at = offset_field(&b, "norm");
    put_u64(&mut b, at, u64::MAX - 31);
    expect_err(
        b,
        &["tensor norm: data offset 18446744073709551584 + size 32 overflows"],
    );
}

#[test]
fn overlapping_tensors() {
    let mut b = valid_writer().to_bytes();
    let at = offset_field(&b, "blk.1.w");
    put_u64(&mut b, at, 64); // blk.0.w occupies 32..100
    expect_err(
        b,
        &[
            "tensors blk.0.w and blk.1.w overlap",
            "occupies data bytes 32..100",
        ],
    );
}

#[test]
fn truncated_inside_tensor_data() {
    let b = valid_writer().to_bytes();
    let f = GgufFile::from_bytes(b.clone()).unwrap();
    let last = f.tensor("blk.1.w").unwrap();
    let end = f.data_offset() + last.offset + last.n_bytes;
    let cut = (end - 10) as usize;
    expect_err(
        b[..cut].to_vec(),
        &[&format!(
            "tensor blk.1.w: data ends at byte {end}, past the end of the file ({cut} bytes)"
        )],
    );
}

#[test]
fn tensor_type_patched_changes_size_past_eof() {
    // F32 [8] -> patched to dims [8, 1000]: 32000 bytes, far past the end.
    let mut b = valid_writer().to_bytes();
    let p = after_tensor_name(&b, "norm");
    put_u32(&mut b, p, 2);
    let _ = b.splice(p + 12..p + 12, 1000u64.to_le_bytes());
    expect_err(
        b,
        &["tensor norm: data ends at byte", "past the end of the file"],
    );
}

// ---------- sweeping ----------

/// Every strict prefix of a valid file that cuts into the header or tensor data is an
/// error (never a panic); prefixes that keep all tensor data parse.
#[test]
fn every_truncation() {
    let mut w = valid_writer();
    w.add_metadata(
        "nest",
        Value::Array(vec![Value::Array(vec![Value::I16(-1)])]),
    )
    .add_str_array("toks", &["a", "bb"])
    .add_bool("flag", true);
    let b = w.to_bytes();
    let f = GgufFile::from_bytes(b.clone()).unwrap();
    let needed = f
        .tensors()
        .iter()
        .map(|t| f.data_offset() + t.offset + t.n_bytes)
        .max()
        .unwrap();
    for len in 0..b.len() {
        let r = GgufFile::from_bytes(b[..len].to_vec());
        assert_eq!(
            r.is_ok(),
            len as u64 >= needed,
            "prefix of {len} bytes: {r:?}"
        );
        if let Err(e) = r {
            assert!(!e.to_string().contains('\n'));
        }
    }
}

/// Random byte corruptions never panic.
#[test]
fn random_corruptions_never_panic() {
    let base = valid_writer().to_bytes();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut ok, mut err) = (0, 0);
    for _ in 0..20_000 {
        let mut b = base.clone();
        for _ in 0..(1 + next() % 4) {
            let i = (next() % b.len() as u64) as usize;
            b[i] = match next() % 3 {
                0 => next() as u8,
                1 => 0xff,
                _ => b[i] ^ (1 << (next() % 8)),
            };
        }
        match GgufFile::from_bytes(b) {
            Ok(f) => {
                ok += 1;
                for t in f.tensors() {
                    assert_eq!(f.tensor_data(t).len() as u64, t.n_bytes);
                }
            }
            Err(e) => {
                err += 1;
                assert!(!e.to_string().contains('\n'));
            }
        }
    }
    assert!(ok > 0 && err > 0, "ok {ok} err {err}");
}

// ---------- open() ----------

#[test]
fn open_gives_the_same_errors() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("version1", header(1, 0, 0)),
        ("truncated-data", {
            let b = valid_writer().to_bytes();
            b[..b.len() - 40].to_vec()
        }),
        ("bad-type", one_tensor("X", &[32], 99, 0, 128)),
    ];
    for (name, bytes) in cases {
        let path = temp_path(name);
        std::fs::write(&path, &bytes).unwrap();
        let from_open = GgufFile::open(&path).unwrap_err().to_string();
        let from_bytes = GgufFile::from_bytes(bytes).unwrap_err().to_string();
        assert_eq!(from_open, from_bytes, "{name}");
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn open_missing_file() {
    let path = temp_path("does-not-exist");
    let e = GgufFile::open(&path).unwrap_err();
    assert!(matches!(e, GgufError::Io { .. }));
    let msg = e.to_string();
    assert!(
        msg.starts_with("cannot read ") && msg.contains("does-not-exist"),
        "{msg}"
    );
}

#[test]
fn open_valid_file_serves_tensor_data() {
    let mut w = valid_writer();
    w.set_alignment(64);
    let path = temp_path("valid");
    w.write(&path).unwrap();
    let f = GgufFile::open(&path).unwrap();
    assert_eq!(f.version(), 3);
    assert_eq!(f.alignment(), 64);
    assert_eq!(f.file_size(), std::fs::metadata(&path).unwrap().len());
    assert_eq!(f.get_str("general.architecture").unwrap(), "tiny");
    assert_eq!(f.get_u64("tiny.block_count").unwrap(), 2);
    let expect = [
        ("norm", 32usize, 0u8),
        ("blk.0.w", 68, 1),
        ("blk.1.w", 144, 2),
    ];
    for (name, len, fill) in expect {
        let t = f.tensor(name).unwrap();
        let data = f.tensor_data(t);
        assert_eq!(data.len(), len, "{name}");
        assert_eq!(
            data.as_ptr() as usize % 64,
            0,
            "{name} not aligned in memory"
        );
        if fill != 0 {
            assert!(data.iter().all(|&x| x == fill), "{name}");
        }
    }
    let norm: Vec<f32> = f
        .tensor_data(f.tensor("norm").unwrap())
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(norm, [1.0; 8]);
    drop(f);
    std::fs::remove_file(&path).unwrap();
}
