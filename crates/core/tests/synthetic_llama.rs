//! The `llama` architecture on tiny random checkpoints written with wren's own GGUF
//! writer, against a plain f64 implementation of the model written here from the
//! equations (embedding → [RMS norm → GQA attention with adjacent-pair RoPE → residual →
//! RMS norm → SwiGLU → residual] × L → RMS norm → head). Hermetic: runs in seconds.
//!
//! Covers tied and untied heads, Q/K/V biases, Llama 3 per-frequency RoPE factors, F32
//! and quantized (Q4_1, Q8_0) weights, the exact and quantized paths, batched decoding of
//! several sequences, and the metadata checks that run before anything is allocated.

use std::sync::Arc;

use wren_core::kv::KvType;
use wren_core::linear::Compute;
use wren_core::models::Model;
use wren_core::session::{thread_pool, Session, SessionOptions};
use wren_gguf::{GgmlType, GgufFile, GgufWriter};

/// splitmix64 with Gaussian samples.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn normal(&mut self) -> f32 {
        let u = ((self.next() >> 11) + 1) as f64 / (1u64 << 53) as f64;
        let v = ((self.next() >> 11) + 1) as f64 / (1u64 << 53) as f64;
        ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
    }
    fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.normal() * scale).collect()
    }
    fn around_one(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| 1.0 + 0.2 * self.normal()).collect()
    }
}

#[derive(Clone, Copy)]
struct Cfg {
    vocab: usize,
    e: usize,
    layers: usize,
    heads: usize,
    kv_heads: usize,
    hd: usize,
    ff: usize,
    tied: bool,
    bias: bool,
    freq_factors: bool,
    /// Type of the layer matrices (the embedding is Q8_0 when this is quantized).
    ty: GgmlType,
}

const BASE: CfgBase = CfgBase {
    rope_base: 10_000.0,
    eps: 1e-5,
};

struct CfgBase {
    rope_base: f32,
    eps: f32,
}

struct LayerW {
    attn_norm: Vec<f32>,
    wq: Vec<f32>,
    wk: Vec<f32>,
    wv: Vec<f32>,
    bq: Vec<f32>,
    bk: Vec<f32>,
    bv: Vec<f32>,
    wo: Vec<f32>,
    ffn_norm: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
    down: Vec<f32>,
}

/// A checkpoint: the values the reference uses (already rounded through the file's
/// format) and the GGUF bytes.
struct Synth {
    c: Cfg,
    embd: Vec<f32>,
    output: Vec<f32>,
    out_norm: Vec<f32>,
    factors: Vec<f32>,
    layers: Vec<LayerW>,
    gguf: Vec<u8>,
}

/// Rounds `v` (`rows` rows) through `ty` and adds it to the writer as `[cols, rows]`.
fn put(w: &mut GgufWriter, name: &str, v: &mut [f32], cols: usize, ty: GgmlType) {
    let rows = v.len() / cols;
    if ty == GgmlType::F32 {
        w.add_f32_tensor(name, &[cols as u64, rows as u64], v);
        return;
    }
    let rb = ty.row_bytes(cols as u64).unwrap() as usize;
    let mut bytes = vec![0u8; rb * rows];
    for (r, row) in v.chunks_mut(cols).enumerate() {
        let q = &mut bytes[r * rb..(r + 1) * rb];
        wren_kernels::quantize_row(ty, row, q);
        wren_kernels::dequantize_row(ty, q, row);
    }
    w.add_tensor(name, &[cols as u64, rows as u64], ty, bytes);
}

fn build(c: Cfg, seed: u64) -> Synth {
    build_with(c, seed, &|_| {})
}

/// [`build`], with `patch` applied to the metadata last.
fn build_with(c: Cfg, seed: u64, patch: &dyn Fn(&mut GgufWriter)) -> Synth {
    let mut r = Rng(seed);
    let (e, qd, kd) = (c.e, c.heads * c.hd, c.kv_heads * c.hd);
    let ws = |cols: usize| 1.0 / (cols as f32).sqrt();
    let mut layers: Vec<LayerW> = (0..c.layers)
        .map(|_| LayerW {
            attn_norm: r.around_one(e),
            wq: r.vec(qd * e, 1.5 * ws(e)),
            wk: r.vec(kd * e, 1.5 * ws(e)),
            wv: r.vec(kd * e, ws(e)),
            bq: if c.bias {
                r.vec(qd, 0.3)
            } else {
                vec![0.0; qd]
            },
            bk: if c.bias {
                r.vec(kd, 0.3)
            } else {
                vec![0.0; kd]
            },
            bv: if c.bias {
                r.vec(kd, 0.3)
            } else {
                vec![0.0; kd]
            },
            wo: r.vec(e * qd, ws(qd)),
            ffn_norm: r.around_one(e),
            gate: r.vec(c.ff * e, ws(e)),
            up: r.vec(c.ff * e, ws(e)),
            down: r.vec(e * c.ff, ws(c.ff)),
        })
        .collect();
    let mut embd = r.vec(c.vocab * e, 1.0);
    // A head with real margins: logits of a few units.
    let mut output = if c.tied {
        Vec::new()
    } else {
        r.vec(c.vocab * e, 3.0 * ws(e))
    };
    let out_norm = r.around_one(e);
    let factors: Vec<f32> = if c.freq_factors {
        (0..c.hd / 2).map(|i| 1.0 + (i % 3) as f32).collect()
    } else {
        vec![1.0; c.hd / 2]
    };

    let mut w = GgufWriter::new();
    w.add_str("general.architecture", "llama")
        .add_str("general.name", "synthetic")
        .add_u32("llama.block_count", c.layers as u32)
        .add_u32("llama.embedding_length", e as u32)
        .add_u32("llama.feed_forward_length", c.ff as u32)
        .add_u32("llama.attention.head_count", c.heads as u32)
        .add_u32("llama.attention.head_count_kv", c.kv_heads as u32)
        .add_u32("llama.context_length", 256)
        .add_u32("llama.rope.dimension_count", c.hd as u32)
        .add_f32("llama.rope.freq_base", BASE.rope_base)
        .add_f32("llama.attention.layer_norm_rms_epsilon", BASE.eps);
    let qty = c.ty;
    let emb_ty = if qty == GgmlType::F32 {
        GgmlType::F32
    } else {
        GgmlType::Q8_0
    };
    put(&mut w, "token_embd.weight", &mut embd, e, emb_ty);
    if !c.tied {
        put(&mut w, "output.weight", &mut output, e, qty);
    }
    w.add_f32_tensor("output_norm.weight", &[e as u64], &out_norm);
    if c.freq_factors {
        w.add_f32_tensor("rope_freqs.weight", &[(c.hd / 2) as u64], &factors);
    }
    for (i, l) in layers.iter_mut().enumerate() {
        let n = |s: &str| format!("blk.{i}.{s}");
        w.add_f32_tensor(n("attn_norm.weight"), &[e as u64], &l.attn_norm);
        w.add_f32_tensor(n("ffn_norm.weight"), &[e as u64], &l.ffn_norm);
        put(&mut w, &n("attn_q.weight"), &mut l.wq, e, qty);
        put(&mut w, &n("attn_k.weight"), &mut l.wk, e, qty);
        put(&mut w, &n("attn_v.weight"), &mut l.wv, e, qty);
        put(&mut w, &n("attn_output.weight"), &mut l.wo, qd, qty);
        put(&mut w, &n("ffn_gate.weight"), &mut l.gate, e, qty);
        put(&mut w, &n("ffn_up.weight"), &mut l.up, e, qty);
        put(&mut w, &n("ffn_down.weight"), &mut l.down, c.ff, qty);
        if c.bias {
            w.add_f32_tensor(n("attn_q.bias"), &[qd as u64], &l.bq);
            w.add_f32_tensor(n("attn_k.bias"), &[kd as u64], &l.bk);
            w.add_f32_tensor(n("attn_v.bias"), &[kd as u64], &l.bv);
        }
    }
    patch(&mut w);
    if c.tied {
        output = embd.clone();
    }
    Synth {
        c,
        embd,
        output,
        out_norm,
        factors,
        layers,
        gguf: w.to_bytes(),
    }
}

fn matvec(w: &[f32], x: &[f64], rows: usize) -> Vec<f64> {
    let cols = x.len();
    (0..rows)
        .map(|r| (0..cols).map(|k| w[r * cols + k] as f64 * x[k]).sum())
        .collect()
}

fn rms(x: &[f64], w: &[f32]) -> Vec<f64> {
    let ms = x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64;
    let s = 1.0 / (ms + BASE.eps as f64).sqrt();
    x.iter().zip(w).map(|(v, w)| v * s * *w as f64).collect()
}

/// Adjacent-pair RoPE of one head at `pos`.
fn rope(h: &mut [f64], pos: usize, factors: &[f32]) {
    let d = h.len();
    for i in 0..d / 2 {
        let theta = pos as f64 * (BASE.rope_base as f64).powf(-(2.0 * i as f64) / d as f64)
            / factors[i] as f64;
        let (s, c) = theta.sin_cos();
        let (a, b) = (h[2 * i], h[2 * i + 1]);
        h[2 * i] = a * c - b * s;
        h[2 * i + 1] = a * s + b * c;
    }
}

/// Logits at every position of `tokens`, in f64.
fn reference(m: &Synth, tokens: &[u32]) -> Vec<Vec<f64>> {
    let c = m.c;
    let (e, hd, qd, kd) = (c.e, c.hd, c.heads * c.hd, c.kv_heads * c.hd);
    let n = tokens.len();
    let mut x: Vec<Vec<f64>> = tokens
        .iter()
        .map(|&t| {
            m.embd[t as usize * e..(t as usize + 1) * e]
                .iter()
                .map(|&v| v as f64)
                .collect()
        })
        .collect();
    for l in &m.layers {
        let mut ks = Vec::new();
        let mut vs = Vec::new();
        let mut qs = Vec::new();
        for (p, xp) in x.iter().enumerate() {
            let a = rms(xp, &l.attn_norm);
            let mut q = matvec(&l.wq, &a, qd);
            let mut k = matvec(&l.wk, &a, kd);
            let mut v = matvec(&l.wv, &a, kd);
            q.iter_mut().zip(&l.bq).for_each(|(x, b)| *x += *b as f64);
            k.iter_mut().zip(&l.bk).for_each(|(x, b)| *x += *b as f64);
            v.iter_mut().zip(&l.bv).for_each(|(x, b)| *x += *b as f64);
            q.chunks_mut(hd).for_each(|h| rope(h, p, &m.factors));
            k.chunks_mut(hd).for_each(|h| rope(h, p, &m.factors));
            qs.push(q);
            ks.push(k);
            vs.push(v);
        }
        let group = c.heads / c.kv_heads;
        for p in 0..n {
            let mut att = vec![0f64; qd];
            for h in 0..c.heads {
                let kh = h / group;
                let q = &qs[p][h * hd..(h + 1) * hd];
                let scores: Vec<f64> = (0..=p)
                    .map(|j| {
                        let k = &ks[j][kh * hd..(kh + 1) * hd];
                        q.iter().zip(k).map(|(a, b)| a * b).sum::<f64>() / (hd as f64).sqrt()
                    })
                    .collect();
                let mx = scores.iter().cloned().fold(f64::MIN, f64::max);
                let ex: Vec<f64> = scores.iter().map(|s| (s - mx).exp()).collect();
                let sum: f64 = ex.iter().sum();
                for (j, w) in ex.iter().enumerate() {
                    for d in 0..hd {
                        att[h * hd + d] += w / sum * vs[j][kh * hd + d];
                    }
                }
            }
            let o = matvec(&l.wo, &att, e);
            x[p].iter_mut().zip(&o).for_each(|(a, b)| *a += b);
            let f = rms(&x[p], &l.ffn_norm);
            let g = matvec(&l.gate, &f, c.ff);
            let u = matvec(&l.up, &f, c.ff);
            let h: Vec<f64> = g
                .iter()
                .zip(&u)
                .map(|(g, u)| g / (1.0 + (-g).exp()) * u)
                .collect();
            let d = matvec(&l.down, &h, e);
            x[p].iter_mut().zip(&d).for_each(|(a, b)| *a += b);
        }
    }
    x.iter()
        .map(|xp| matvec(&m.output, &rms(xp, &m.out_norm), c.vocab))
        .collect()
}

fn load(m: &Synth) -> Arc<dyn Model> {
    let f = Arc::new(GgufFile::from_bytes(m.gguf.clone()).expect("parse synthetic GGUF"));
    Arc::from(wren_core::models::load(f).expect("load synthetic llama"))
}

fn session(model: &Arc<dyn Model>, compute: Compute) -> Session {
    let opts = SessionOptions {
        kv_type: KvType::F32,
        ..SessionOptions::new(128, compute)
    };
    Session::with_options(model.clone(), thread_pool(2).unwrap(), &opts).unwrap()
}

fn tokens(c: &Cfg, n: usize, seed: u32) -> Vec<u32> {
    (0..n as u32)
        .map(|i| (i * 7919 + seed * 31) % c.vocab as u32)
        .collect()
}

/// (max |Δ|, mean |Δ|, top-1 agreements, positions) of `got` against the reference; top-1
/// is counted where the reference's top-1/top-2 margin exceeds 0.5 (below that, 8-bit
/// activations may legitimately pick the other token, as in the real-model parity).
fn diff(got: &[Vec<f32>], want: &[Vec<f64>]) -> (f64, f64, usize, usize) {
    let (mut mx, mut sum, mut n, mut top, mut counted) = (0f64, 0f64, 0usize, 0usize, 0usize);
    for (g, w) in got.iter().zip(want) {
        for (a, b) in g.iter().zip(w) {
            let d = (*a as f64 - b).abs();
            mx = mx.max(d);
            sum += d;
            n += 1;
        }
        let am = |v: &[f64]| (0..v.len()).max_by(|&i, &j| v[i].total_cmp(&v[j])).unwrap();
        let g64: Vec<f64> = g.iter().map(|&v| v as f64).collect();
        let best = am(w);
        let second = w
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != best)
            .map(|(_, v)| *v)
            .fold(f64::MIN, f64::max);
        if w[best] - second > 0.5 {
            counted += 1;
            top += (am(&g64) == best) as usize;
        }
    }
    (mx, sum / n as f64, top, counted)
}

fn check(c: Cfg, seed: u64) {
    let m = build(c, seed);
    let model = load(&m);
    let toks = tokens(&c, 40, seed as u32);
    let want = reference(&m, &toks);
    let spread = want[0].iter().cloned().fold(f64::MIN, f64::max)
        - want[0].iter().cloned().fold(f64::MAX, f64::min);
    assert!(
        spread > 2.0,
        "flat logits ({spread}): the test would prove little"
    );
    for compute in [Compute::Exact, Compute::Quantized] {
        // Prompt in one batch, then the rest token by token.
        let mut s = session(&model, compute);
        let mut got = Vec::new();
        s.eval_with(&toks[..24], 0..24, |_, l| got.push(l.to_vec()))
            .unwrap();
        for &t in &toks[24..] {
            got.push(s.eval_last(&[t]).unwrap().to_vec());
        }
        let (mx, mean, top, counted) = diff(&got, &want);
        eprintln!(
            "{:?} tied={} bias={} factors={} {compute:?}: max |Δ| {mx:.2e}, mean {mean:.2e}, top-1 {top}/{counted}",
            c.ty, c.tied, c.bias, c.freq_factors
        );
        assert!(
            counted >= want.len() / 2,
            "too few clear positions: {counted}"
        );
        match compute {
            Compute::Exact => assert!(mx < 2e-3, "exact path: max |Δlogit| {mx}"),
            _ => {
                // 8-bit activations: ~0.2 on the real models, whose parity bound is 0.5.
                assert!(mean < 0.25, "quantized path: mean |Δlogit| {mean}");
                assert_eq!(top, counted, "quantized path: top-1 {top}/{counted}");
            }
        }
    }
}

const SMALL: Cfg = Cfg {
    vocab: 96,
    e: 64,
    layers: 2,
    heads: 4,
    kv_heads: 2,
    hd: 16,
    ff: 96,
    tied: true,
    bias: false,
    freq_factors: false,
    ty: GgmlType::F32,
};

#[test]
fn f32_tied_matches_reference() {
    check(SMALL, 1);
}

#[test]
fn untied_bias_and_rope_factors_match_reference() {
    check(
        Cfg {
            tied: false,
            bias: true,
            freq_factors: true,
            ..SMALL
        },
        2,
    );
}

#[test]
fn quantized_weights_match_reference() {
    for (ty, seed) in [
        (GgmlType::Q4_1, 3),
        (GgmlType::Q8_0, 4),
        (GgmlType::Q4_0, 5),
    ] {
        check(
            Cfg {
                ty,
                tied: ty != GgmlType::Q4_1,
                layers: 3,
                ..SMALL
            },
            seed,
        );
    }
}

/// Several sequences of different lengths in one batched pass give each the logits it
/// gets alone.
#[test]
fn batched_sequences_match_single() {
    let m = build(SMALL, 6);
    let model = load(&m);
    let prompts: Vec<Vec<u32>> = (0..3)
        .map(|i| tokens(&SMALL, 5 + 3 * i, i as u32))
        .collect();
    let next = [7u32, 11, 13];
    let mut single = Vec::new();
    for (p, &t) in prompts.iter().zip(&next) {
        let mut s = session(&model, Compute::Exact);
        s.eval_last(p).unwrap();
        single.push(s.eval_last(&[t]).unwrap().to_vec());
    }
    let mut ss: Vec<Session> = prompts
        .iter()
        .map(|p| {
            let mut s = session(&model, Compute::Exact);
            s.eval_last(p).unwrap();
            s
        })
        .collect();
    let mut refs: Vec<&mut Session> = ss.iter_mut().collect();
    Session::decode_batch(&mut refs, &next).unwrap();
    for (s, want) in ss.iter().zip(&single) {
        let d = s
            .last_logits()
            .iter()
            .zip(want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(d < 1e-4, "batched vs single: {d}");
    }
}

/// Counts read from metadata are checked against the file before anything is sized from
/// them.
#[test]
fn bad_hyperparameters_are_refused_before_allocating() {
    let with = |key: &str, v: wren_gguf::Value| -> String {
        let m = build_with(SMALL, 7, &|w| {
            w.set_metadata(key, v.clone());
        });
        let f = Arc::new(GgufFile::from_bytes(m.gguf).unwrap());
        match wren_core::models::load(f) {
            Ok(_) => panic!("{key} accepted"),
            Err(e) => e.to_string(),
        }
    };
    use wren_gguf::Value;
    for n in [0u64, 1, 3, 0x7FFF_FFFF, u64::MAX / 2] {
        let e = with("llama.block_count", Value::U64(n));
        assert!(e.contains("layers"), "block_count {n}: {e}");
    }
    let e = with("llama.attention.head_count_kv", Value::U32(3));
    assert!(e.contains("attention shape"), "{e}");
    let e = with("llama.attention.key_length", Value::U32(4096));
    assert!(e.contains("head size"), "{e}");
    let e = with("llama.rope.scaling.type", Value::String("yarn".into()));
    assert!(e.contains("yarn"), "{e}");
    let e = with("general.architecture", Value::String("mamba".into()));
    assert!(e.contains("mamba") && e.contains("llama"), "{e}");
}
