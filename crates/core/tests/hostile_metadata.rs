//! Model files whose metadata lies about their size: each must be refused with a clear
//! error before anything is sized from the lie (issue 15, finding 1).

use std::sync::Arc;

use wren_gguf::{GgufFile, GgufWriter, Value};

/// A Gemma 3 header with `layers` as the `blk.N` indices that have a tensor, and
/// `block_count` as declared.
fn gemma3(block_count: Value, layers: &[u64]) -> Vec<u8> {
    let mut w = GgufWriter::new();
    w.add_str("general.architecture", "gemma3")
        .add_metadata("gemma3.block_count", block_count)
        .add_u32("gemma3.embedding_length", 8)
        .add_u32("gemma3.feed_forward_length", 16)
        .add_u32("gemma3.attention.head_count", 2)
        .add_u32("gemma3.attention.head_count_kv", 1)
        .add_u32("gemma3.attention.key_length", 4)
        .add_u32("gemma3.context_length", 64)
        .add_u32("gemma3.attention.sliding_window", 16);
    w.add_f32_tensor("token_embd.weight", &[8, 4], &[0.0; 32]);
    for &l in layers {
        w.add_f32_tensor(format!("blk.{l}.attn_norm.weight"), &[8], &[1.0; 8]);
    }
    w.to_bytes()
}

fn load_err(bytes: Vec<u8>) -> String {
    let f = Arc::new(GgufFile::from_bytes(bytes).expect("the header itself is well-formed"));
    match wren_core::models::load(f) {
        Ok(_) => panic!("loaded a model whose metadata lies"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn gemma3_huge_block_count_is_a_clean_error() {
    for n in [1u64 << 63, 0x7FFF_FFFF, u64::MAX, 1, 3] {
        let e = load_err(gemma3(Value::U64(n), &[0, 1]));
        assert!(
            e.contains("block_count") && e.contains("layers"),
            "block_count {n}: {e}"
        );
    }
    let e = load_err(gemma3(Value::U32(0x7FFF_FFFF), &[0, 1]));
    assert!(e.contains("2147483647"), "{e}");
}

/// One stray tensor name must not make a huge `block_count` look consistent.
#[test]
fn gemma3_layer_numbers_with_gaps_are_refused() {
    let e = load_err(gemma3(Value::U64(0x7FFF_FFFF), &[0, 0x7FFF_FFFE]));
    assert!(e.contains("missing"), "{e}");
    let e = load_err(gemma3(Value::U64(1 << 40), &[0, (1 << 40) - 1]));
    assert!(e.contains("missing"), "{e}");
}
