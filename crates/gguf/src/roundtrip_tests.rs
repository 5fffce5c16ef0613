//! Writer → reader round trips.

use crate::{GgmlType, GgufError, GgufFile, GgufWriter, Value};

fn all_scalars() -> Vec<(&'static str, Value)> {
    vec![
        ("t.u8", Value::U8(200)),
        ("t.i8", Value::I8(-100)),
        ("t.u16", Value::U16(60000)),
        ("t.i16", Value::I16(-30000)),
        ("t.u32", Value::U32(4_000_000_000)),
        ("t.i32", Value::I32(-2_000_000_000)),
        ("t.f32", Value::F32(1.5e-6)),
        ("t.bool", Value::Bool(true)),
        ("t.string", Value::String("héllo ✓".into())),
        ("t.u64", Value::U64(u64::MAX)),
        ("t.i64", Value::I64(i64::MIN)),
        ("t.f64", Value::F64(-2.25e300)),
    ]
}

fn sample(version: u32, alignment: Option<u32>) -> GgufWriter {
    let mut w = GgufWriter::new();
    w.set_version(version);
    w.add_str("general.architecture", "tiny");
    if let Some(a) = alignment {
        w.set_alignment(a);
    }
    for (k, v) in all_scalars() {
        w.add_metadata(k, v);
    }
    for (k, v) in all_scalars() {
        w.add_metadata(format!("{k}.array"), Value::Array(vec![v.clone(), v]));
    }
    w.add_metadata("t.empty", Value::Array(vec![]));
    w.add_metadata(
        "t.nested",
        Value::Array(vec![
            Value::Array(vec![Value::U32(1), Value::U32(2)]),
            Value::Array(vec![Value::String("x".into())]),
            Value::Array(vec![Value::Array(vec![Value::Bool(false)])]),
        ]),
    );
    w.add_f32_tensor("a", &[3], &[1.0, 2.0, 3.0]);
    w.add_tensor("b", &[32, 2], GgmlType::Q8_0, (0..68u8).collect());
    w.add_tensor("c", &[256, 1, 2, 1], GgmlType::Q4K, vec![7; 288]);
    w
}

fn check(file: &GgufFile, version: u32, alignment: u64) {
    assert_eq!(file.version(), version);
    assert_eq!(file.alignment(), alignment);
    assert_eq!(file.data_offset() % alignment, 0);
    for (k, v) in all_scalars() {
        assert_eq!(file.get(k), Some(&v), "{k}");
        assert_eq!(
            file.get(&format!("{k}.array")),
            Some(&Value::Array(vec![v.clone(), v]))
        );
    }
    assert_eq!(file.get("t.empty"), Some(&Value::Array(vec![])));
    let nested = file.get("t.nested").unwrap().as_array().unwrap();
    assert_eq!(
        nested[2],
        Value::Array(vec![Value::Array(vec![Value::Bool(false)])])
    );
    assert_eq!(file.metadata()[0].0, "general.architecture");

    let names: Vec<&str> = file.tensors().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    let a = file.tensor("a").unwrap();
    let floats: Vec<f32> = file
        .tensor_data(a)
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(floats, [1.0, 2.0, 3.0]);
    let b = file.tensor("b").unwrap();
    assert_eq!(
        (b.ty, b.n_bytes, b.n_rows(), b.row_len(), b.n_elements()),
        (GgmlType::Q8_0, 68, 2, 32, 64)
    );
    assert_eq!(file.tensor_data(b), (0..68u8).collect::<Vec<_>>());
    let c = file.tensor("c").unwrap();
    assert_eq!(
        (c.dims.as_slice(), c.n_rows(), c.row_bytes()),
        (&[256u64, 1, 2, 1][..], 2, 144)
    );
    assert_eq!(file.tensor_data(c), vec![7; 288]);
    for t in file.tensors() {
        assert_eq!(t.offset % alignment, 0);
    }
    assert!(file.tensor("zz").is_none());
}

#[test]
fn round_trip_v3_default_alignment() {
    let bytes = sample(3, None).to_bytes();
    check(&GgufFile::from_bytes(bytes).unwrap(), 3, 32);
}

#[test]
fn round_trip_v2() {
    let bytes = sample(2, None).to_bytes();
    assert_eq!(&bytes[4..8], &2u32.to_le_bytes());
    check(&GgufFile::from_bytes(bytes).unwrap(), 2, 32);
}

#[test]
fn round_trip_custom_alignments() {
    for a in [8u32, 64, 4096] {
        let bytes = sample(3, Some(a)).to_bytes();
        check(&GgufFile::from_bytes(bytes).unwrap(), 3, a.into());
    }
}

#[test]
fn trailing_bytes_are_fine() {
    let mut bytes = sample(3, None).to_bytes();
    bytes.extend_from_slice(b"trailing junk");
    check(&GgufFile::from_bytes(bytes).unwrap(), 3, 32);
}

#[test]
fn no_tensors_no_metadata() {
    let f = GgufFile::from_bytes(GgufWriter::new().to_bytes()).unwrap();
    assert!(f.tensors().is_empty() && f.metadata().is_empty());
    assert_eq!(f.file_size(), 24 + 8);
}

#[test]
fn typed_getters() {
    let mut w = GgufWriter::new();
    w.add_u32("n", 18)
        .add_metadata("neg", Value::I32(-3))
        .add_f32("eps", 1e-6)
        .add_metadata("d", Value::F64(0.25))
        .add_str("s", "gemma3")
        .add_bool("b", true)
        .add_str_array("toks", &["a", "b"])
        .add_f32_array("scores", &[0.5, -1.0])
        .add_i32_array("types", &[1, 3])
        .add_metadata("u8s", Value::Array(vec![Value::U8(1), Value::U8(2)]));
    let f = GgufFile::from_bytes(w.to_bytes()).unwrap();
    assert_eq!(f.get_u64("n").unwrap(), 18);
    assert_eq!(f.get_usize("n").unwrap(), 18);
    assert_eq!(f.get_i64("neg").unwrap(), -3);
    assert_eq!(f.get_f32("eps").unwrap(), 1e-6);
    assert_eq!(f.get_f32("d").unwrap(), 0.25);
    assert_eq!(f.get_f32("n").unwrap(), 18.0);
    assert_eq!(f.get_str("s").unwrap(), "gemma3");
    assert!(f.get_bool("b").unwrap());
    assert_eq!(f.get_str_array("toks").unwrap(), ["a", "b"]);
    assert_eq!(f.get_f32_array("scores").unwrap(), [0.5, -1.0]);
    assert_eq!(f.get_i64_array("types").unwrap(), [1, 3]);
    assert_eq!(f.get_i64_array("u8s").unwrap(), [1, 2]);

    let msg = |e: GgufError| e.to_string();
    assert_eq!(
        msg(f.get_u64("s").unwrap_err()),
        "metadata s: expected an integer, found string \"gemma3\""
    );
    assert_eq!(
        msg(f.get_u64("neg").unwrap_err()),
        "metadata neg: expected a non-negative integer, found i32 -3"
    );
    assert_eq!(
        msg(f.get_u64("missing").unwrap_err()),
        "metadata key missing is missing"
    );
    assert_eq!(
        msg(f.get_str("n").unwrap_err()),
        "metadata n: expected a string, found u32 18"
    );
    assert!(msg(f.get_bool("n").unwrap_err()).contains("expected a bool"));
    assert_eq!(
        msg(f.get_str_array("scores").unwrap_err()),
        "metadata scores: expected an array of strings, found f32 0.5 at element #0"
    );
    assert!(msg(f.get_str_array("s").unwrap_err()).contains("found string"));
    assert!(msg(f.get_i64_array("scores").unwrap_err()).contains("an array of integers"));
    assert!(msg(f.get_f32_array("toks").unwrap_err()).contains("an array of numbers"));
}

#[test]
#[should_panic(expected = "array element #1 is u32 but element #0 is string")]
fn writer_rejects_mixed_arrays() {
    GgufWriter::new().add_metadata(
        "k",
        Value::Array(vec![Value::String("a".into()), Value::U32(1)]),
    );
}

#[test]
#[should_panic(expected = "bytes of data for shape")]
fn writer_rejects_wrong_data_size() {
    GgufWriter::new().add_tensor("t", &[32], GgmlType::Q8_0, vec![0; 33]);
}

#[test]
fn big_string_array_parses_fast() {
    let toks: Vec<String> = (0..262_144).map(|i| format!("tok{i}")).collect();
    let mut w = GgufWriter::new();
    w.add_str_array("tokenizer.ggml.tokens", &toks);
    let bytes = w.to_bytes();
    let t0 = std::time::Instant::now();
    let f = GgufFile::from_bytes(bytes).unwrap();
    let dt = t0.elapsed();
    let got = f.get_str_array("tokenizer.ggml.tokens").unwrap();
    assert_eq!(got.len(), 262_144);
    assert_eq!(got[262_143], "tok262143");
    assert!(dt.as_secs_f64() < 2.0, "parsing 262144 strings took {dt:?}");
}
