//! Model families on tiny random checkpoints built with the reference implementation
//! itself (`transformers`), converted and quantized by llama.cpp's own tools
//! (`scripts/gen_families.py` wrote `tests/data/families/<family>/`, see its `ref.json`
//! for the command and versions):
//!
//! - the exact path against PyTorch's f32 logits on the F16 file (whose weights are
//!   exactly PyTorch's: the generator rounded them to f16 values): mean |Δlogit| ≤ 1e-3;
//! - the default path (session defaults) against llama.cpp on the F16, Q8_0 and Q4_K_M
//!   files (and IQ4_NL, IQ4_XS where the references have them): top-1 equal at ≥ 99% of the positions where llama.cpp's top-1/top-2 margin
//!   exceeds 0.5, and greedy continuations equal up to llama.cpp's first near-tie.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use wren_core::kv::KvType;
use wren_core::linear::Compute;
use wren_core::models::Model;
use wren_core::session::{thread_pool, Session, SessionOptions};
use wren_gguf::GgufFile;

const WEIGHTS: [&str; 3] = ["F16", "Q8_0", "Q4_K_M"];
/// Margin below which two tokens count as a near-tie.
const TIE: f64 = 0.5;

fn dir(family: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/families")
        .join(family)
}

struct Refs {
    tokens: Vec<u32>,
    vocab: usize,
    torch: Vec<f32>,
    json: Value,
}

fn refs(family: &str) -> Refs {
    let d = dir(family);
    let json: Value = serde_json::from_slice(&std::fs::read(d.join("ref.json")).unwrap()).unwrap();
    let ids = |v: &Value| -> Vec<u32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect()
    };
    let torch = std::fs::read(d.join("torch.f32"))
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    Refs {
        tokens: ids(&json["tokens"]),
        vocab: json["vocab"].as_u64().unwrap() as usize,
        torch,
        json,
    }
}

fn load(family: &str, weights: &str) -> Arc<dyn Model> {
    let path = dir(family).join(format!("{family}.{weights}.gguf"));
    let f = Arc::new(GgufFile::open(&path).unwrap_or_else(|e| panic!("{path:?}: {e}")));
    Arc::from(wren_core::models::load(f).unwrap_or_else(|e| panic!("{path:?}: {e}")))
}

fn session(model: &Arc<dyn Model>, opts: &SessionOptions) -> Session {
    Session::with_options(model.clone(), thread_pool(2).unwrap(), opts).unwrap()
}

/// Logits at every position: the first `batch` tokens in one pass (a prompt), the rest
/// one by one (decode steps), so both kinds of pass are checked.
fn all_logits(s: &mut Session, tokens: &[u32], batch: usize) -> Vec<Vec<f32>> {
    let mut got = Vec::new();
    s.eval_with(&tokens[..batch], 0..batch, |_, l| got.push(l.to_vec()))
        .unwrap();
    for &t in &tokens[batch..] {
        got.push(s.eval_last(&[t]).unwrap().to_vec());
    }
    got
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).max_by(|&i, &j| v[i].total_cmp(&v[j])).unwrap()
}

/// The exact path on the F16 file against PyTorch: (mean |Δ|, max |Δ|).
pub fn exact_vs_torch(family: &str) -> (f64, f64) {
    let r = refs(family);
    let model = load(family, "F16");
    let opts = SessionOptions {
        kv_type: KvType::F32,
        ..SessionOptions::new(128, Compute::Exact)
    };
    let got = all_logits(&mut session(&model, &opts), &r.tokens, 40);
    let (mut sum, mut mx, mut n) = (0f64, 0f64, 0usize);
    for (row, want) in got.iter().zip(r.torch.chunks_exact(r.vocab)) {
        assert_eq!(row.len(), r.vocab);
        for (a, b) in row.iter().zip(want) {
            let d = (*a as f64 - *b as f64).abs();
            sum += d;
            mx = mx.max(d);
            n += 1;
        }
    }
    assert_eq!(n, r.tokens.len() * r.vocab);
    (sum / n as f64, mx)
}

/// The default path against llama.cpp on `weights`: (top-1 agreements, positions with a
/// clear top-1, greedy tokens equal, greedy tokens compared).
fn default_vs_llama(family: &str, weights: &str) -> (usize, usize, usize, usize) {
    let r = refs(family);
    let lc = &r.json["llama_cpp"][weights];
    assert!(
        lc.is_object(),
        "{family}: no llama.cpp references for {weights}: rerun scripts/gen_families.py"
    );
    let f = |k: &str| -> Vec<f64> {
        lc[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let (top1, margin) = (f("top1"), f("margin"));
    let (greedy, gmargin) = (f("greedy"), f("greedy_margin"));
    let model = load(family, weights);
    let opts = SessionOptions::new(128, Compute::Auto);
    let mut s = session(&model, &opts);
    let got = all_logits(&mut s, &r.tokens, 32);
    let (mut agree, mut clear) = (0, 0);
    for (i, row) in got.iter().enumerate() {
        if margin[i] > TIE {
            clear += 1;
            agree += (argmax(row) == top1[i] as usize) as usize;
        }
    }
    // Greedy from the end of the prompt, up to llama.cpp's first near-tie.
    let (mut same, mut compared) = (0, 0);
    let mut next = argmax(got.last().unwrap());
    for (g, m) in greedy.iter().zip(&gmargin) {
        if *m <= TIE {
            break;
        }
        compared += 1;
        if next != *g as usize {
            break;
        }
        same += 1;
        next = argmax(s.eval_last(&[next as u32]).unwrap());
    }
    (agree, clear, same, compared)
}

fn check(family: &str) {
    let (mean, mx) = exact_vs_torch(family);
    eprintln!("{family} F16 exact vs PyTorch: mean |Δ| {mean:.2e}, max |Δ| {mx:.2e}");
    assert!(mean <= 1e-3, "{family}: exact path mean |Δlogit| {mean}");
    let mut greedy_compared = 0;
    // The llama.cpp types every family has, then any more its references hold
    // (`gen_families.py --requant`: IQ4_NL and IQ4_XS for llama3 and qwen2).
    let json = refs(family).json;
    let more = json["llama_cpp"].as_object().unwrap().keys();
    let more = more.map(|k| k.as_str()).filter(|k| !WEIGHTS.contains(k));
    for w in WEIGHTS.into_iter().chain(more) {
        let (agree, clear, same, compared) = default_vs_llama(family, w);
        greedy_compared += compared;
        eprintln!(
            "{family} {w} default vs llama.cpp: top-1 {agree}/{clear}, greedy {same}/{compared}"
        );
        assert!(clear >= 32, "{family} {w}: only {clear} clear positions");
        assert!(
            agree * 100 >= clear * 99,
            "{family} {w}: top-1 {agree}/{clear}"
        );
        assert_eq!(same, compared, "{family} {w}: greedy continuation");
    }
    // A file's continuation may start at a near-tie; the family's must not all do.
    assert!(
        greedy_compared >= 8,
        "{family}: only {greedy_compared} greedy tokens compared"
    );
}

#[test]
fn qwen2() {
    check("qwen2");
}

#[test]
fn qwen3() {
    check("qwen3");
}

#[test]
fn phi3() {
    check("phi3");
}

#[test]
fn llama3_rope_scaling() {
    check("llama3");
}

#[test]
fn minicpm() {
    check("minicpm");
}

#[test]
fn minicpm4_longrope() {
    check("minicpm4");
}

/// Qwen3-MoE: 8 experts, top 2. Decoding reads the router and two experts per layer, not
/// all eight (`weight_bytes` is what one decoded token reads).
#[test]
fn qwen3moe() {
    check("qwen3moe");
    let m = load("qwen3moe", "Q4_K_M");
    let dense: usize = GgufFile::open(&dir("qwen3moe").join("qwen3moe.Q4_K_M.gguf"))
        .unwrap()
        .tensors()
        .iter()
        .filter(|t| t.dims.len() > 1)
        .map(|t| {
            t.ty.row_bytes(t.dims[0]).unwrap() as usize * (t.n_elements() / t.dims[0]) as usize
        })
        .sum();
    let active = m.info().weight_bytes;
    eprintln!(
        "qwen3moe Q4_K_M bytes read per token: {active} with 2 of 8 experts, {dense} for all"
    );
    assert!(active * 2 < dense, "{active} vs {dense}");
}

/// Expert counts that make no sense are refused before anything is sized from them.
#[test]
fn qwen3moe_bad_expert_counts_are_refused() {
    use wren_gguf::{GgufWriter, Value as Gv};

    let src = GgufFile::open(&dir("qwen3moe").join("qwen3moe.Q8_0.gguf")).unwrap();
    for (key, v, want) in [
        ("qwen3moe.expert_used_count", 9, "outside 1..=8"),
        ("qwen3moe.expert_used_count", 0, "outside 1..=8"),
        ("qwen3moe.expert_count", 1 << 30, "outside 1..=4096"),
        ("qwen3moe.expert_count", 4, "does not match the expected"),
        (
            "qwen3moe.expert_feed_forward_length",
            128,
            "does not match the expected",
        ),
    ] {
        let mut w = GgufWriter::from_file(&src);
        w.set_metadata(key, Gv::U32(v));
        let f = Arc::new(GgufFile::from_bytes(w.to_bytes()).unwrap());
        let err = wren_core::models::load(f).err().expect(key).to_string();
        assert!(err.contains(want), "{key} = {v}: {err}");
    }
}

/// MiniCPM4 with its `sparse_config` added the way `wren sparsify --from-config` adds it:
/// the model declares InfLLM-v2 attention and a session runs it by default. Below
/// `dense_len` the attention is dense, so those positions still equal PyTorch; past it
/// the logits move away from the dense ones (blocks are being skipped), and turning sparse
/// attention off gives PyTorch's logits everywhere.
#[test]
fn minicpm4_sparse_by_default() {
    use wren_core::attention::sparse::{sparse_metadata, SparseSettings};
    use wren_gguf::GgufWriter;

    let r = refs("minicpm4");
    let cfg: Value =
        serde_json::from_slice(&std::fs::read(dir("minicpm4").join("config.json")).unwrap())
            .unwrap();
    let sc = &cfg["sparse_config"];
    let dense_len = sc["dense_len"].as_u64().unwrap() as usize;
    let src = GgufFile::open(&dir("minicpm4").join("minicpm4.F16.gguf")).unwrap();
    let mut w = GgufWriter::from_file(&src);
    for (k, v) in sparse_metadata("minicpm", sc).unwrap() {
        w.set_metadata(k, v);
    }
    let f = Arc::new(GgufFile::from_bytes(w.to_bytes()).unwrap());
    let model: Arc<dyn Model> = Arc::from(wren_core::models::load(f).unwrap());
    let declared = *model.declared_sparse().expect("declares sparse attention");
    assert_eq!(
        (declared.block, declared.topk, declared.dense_len),
        (8, 2, 32)
    );

    let torch: Vec<&[f32]> = r.torch.chunks_exact(r.vocab).collect();
    let mean_diff = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs() as f64)
            .sum::<f64>()
            / a.len() as f64
    };
    let run = |sparse: SparseSettings| {
        let opts = SessionOptions {
            kv_type: KvType::F32,
            sparse,
            ..SessionOptions::new(128, Compute::Exact)
        };
        let mut s = session(&model, &opts);
        all_logits(&mut s, &r.tokens, 24)
    };
    let sparse = run(SparseSettings::default());
    let dense = run(SparseSettings {
        enabled: Some(false),
        ..Default::default()
    });
    let mut moved = 0;
    for (i, t) in torch.iter().enumerate() {
        let (ds, dd) = (mean_diff(&sparse[i], t), mean_diff(&dense[i], t));
        assert!(dd <= 1e-3, "dense position {i}: mean |Δ| {dd}");
        if i < dense_len {
            assert!(ds <= 1e-3, "position {i} < dense_len: mean |Δ| {ds}");
        } else if ds > 1e-2 {
            moved += 1;
        }
    }
    eprintln!(
        "minicpm4 sparse: {moved}/{} positions past dense_len differ from dense",
        r.tokens.len() - dense_len
    );
    assert!(
        moved * 2 > r.tokens.len() - dense_len,
        "sparse attention did not engage: {moved} positions moved"
    );
}
