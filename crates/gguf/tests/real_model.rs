//! Checks against the real Gemma 3 270M Q4_K_M file (facts verified with the Python
//! `gguf` package). Run with `cargo test -p wren-gguf -- --include-ignored`; the model is
//! looked up at `$WREN_MODEL` or `~/.cache/wren/gemma-3-270m-q4_k_m.gguf`.

use std::path::PathBuf;
use std::time::Instant;

use wren_gguf::{GgmlType, GgufFile};

fn model_path() -> Option<PathBuf> {
    // Same lookup as wren_core::paths (this crate cannot depend on wren-core).
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let path = match var("WREN_MODEL") {
        Some(p) => p,
        None => var("WREN_CACHE_DIR")
            .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("wren")))
            .or_else(|| var("HOME").map(|h| h.join(".cache/wren")))?
            .join("gemma-3-270m-q4_k_m.gguf"),
    };
    path.exists().then_some(path)
}

#[test]
#[ignore = "needs the Gemma 3 270M model file"]
fn gemma3_270m_q4_k_m() {
    // Ignored by default; when asked for, a missing model is a failure, not a skip.
    let path = model_path().expect("model not found: set WREN_MODEL or run `wren fetch`");
    let t0 = Instant::now();
    let f = GgufFile::open(&path).unwrap();
    let open_time = t0.elapsed();
    eprintln!("opened {} in {open_time:?}", path.display());

    assert_eq!(f.version(), 3);
    assert_eq!(f.file_size(), 253_113_024);
    assert_eq!(f.alignment(), 32);
    assert_eq!(f.data_offset(), 6_525_120);
    assert_eq!(f.metadata().len(), 33);
    assert_eq!(f.metadata()[0].0, "general.architecture");
    assert_eq!(f.get_str("general.architecture").unwrap(), "gemma3");
    assert_eq!(f.get_str("general.name").unwrap(), "Gemma 3 270m");
    assert_eq!(f.get_u64("gemma3.block_count").unwrap(), 18);
    assert_eq!(f.get_u64("gemma3.context_length").unwrap(), 32768);
    assert_eq!(f.get_u64("gemma3.embedding_length").unwrap(), 640);
    assert_eq!(f.get_u64("gemma3.feed_forward_length").unwrap(), 2048);
    assert_eq!(f.get_u64("gemma3.attention.head_count").unwrap(), 4);
    assert_eq!(f.get_u64("gemma3.attention.head_count_kv").unwrap(), 1);
    assert_eq!(f.get_u64("gemma3.attention.key_length").unwrap(), 256);
    assert_eq!(f.get_u64("gemma3.attention.sliding_window").unwrap(), 512);
    assert_eq!(
        f.get_f32("gemma3.attention.layer_norm_rms_epsilon")
            .unwrap(),
        1e-6
    );
    assert_eq!(f.get_f32("gemma3.rope.freq_base").unwrap(), 1_000_000.0);
    assert_eq!(f.get_u64("general.file_type").unwrap(), 15);
    assert_eq!(f.get_str("tokenizer.ggml.model").unwrap(), "llama");
    assert_eq!(f.get_u64("tokenizer.ggml.bos_token_id").unwrap(), 2);
    assert_eq!(f.get_u64("tokenizer.ggml.eos_token_id").unwrap(), 1);
    assert!(f.get_bool("tokenizer.ggml.add_bos_token").unwrap());
    assert_eq!(
        f.get_str_array("general.tags").unwrap(),
        ["gemma3", "gemma", "google", "text-generation"]
    );

    let tokens = f.get_str_array("tokenizer.ggml.tokens").unwrap();
    assert_eq!(tokens.len(), 262_144);
    assert_eq!(tokens[..5], ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"]);
    assert_eq!(tokens[262_143], "<unused6241>");
    let scores = f.get_f32_array("tokenizer.ggml.scores").unwrap();
    assert_eq!((scores.len(), scores[0]), (262_144, -1000.0));
    let types = f.get_i64_array("tokenizer.ggml.token_type").unwrap();
    assert_eq!((types.len(), types[0]), (262_144, 3));

    assert_eq!(f.tensors().len(), 236);
    let count = |ty| f.tensors().iter().filter(|t| t.ty == ty).count();
    assert_eq!(
        [
            GgmlType::F32,
            GgmlType::Q5_0,
            GgmlType::Q4K,
            GgmlType::Q8_0,
            GgmlType::Q6K
        ]
        .map(count),
        [109, 81, 27, 10, 9]
    );
    let emb = f.tensor("token_embd.weight").unwrap();
    assert_eq!(
        (emb.ty, emb.dims.as_slice(), emb.n_bytes),
        (GgmlType::Q8_0, &[640u64, 262_144][..], 178_257_920)
    );
    assert_eq!(f.data_offset() + emb.offset, 6_527_680);
    assert_eq!(&f.tensor_data(emb)[..2], &[242, 16]);
    let norm = f.tensor("output_norm.weight").unwrap();
    let norm_data = f.tensor_data(norm);
    assert_eq!(norm_data.len(), 2560);
    assert_eq!(
        f32::from_le_bytes(norm_data[..4].try_into().unwrap()),
        7.125
    );
    let k = f.tensor("blk.0.attn_k.weight").unwrap();
    assert_eq!(
        (k.ty, k.dims.as_slice(), k.n_bytes),
        (GgmlType::Q5_0, &[640u64, 256][..], 112_640)
    );
    let last = f.tensor("blk.17.post_ffw_norm.weight").unwrap();
    assert_eq!(f.data_offset() + last.offset + last.n_bytes, f.file_size());
    let total: u64 = f
        .tensors()
        .iter()
        .map(|t| f.tensor_data(t).len() as u64)
        .sum();
    assert!(total <= f.file_size() - f.data_offset());

    // Generous bound for a shared CI machine; the target is < 0.5 s.
    assert!(open_time.as_secs_f64() < 2.0, "open took {open_time:?}");
}
