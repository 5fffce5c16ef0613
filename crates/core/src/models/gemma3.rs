//! Gemma 3 (`general.architecture = gemma3`).
//!
//! Per layer (HF `modeling_gemma3.py`, llama.cpp `src/models/gemma3.cpp`):
//! ```text
//! h = embed(tok) · √n_embd
//! for each layer:
//!     a = attn_norm(h);  q,k,v = a·Wqᵀ, a·Wkᵀ, a·Wvᵀ
//!     q,k = rms_norm per head (q_norm, k_norm), then NeoX RoPE
//!           (base 10 000 on sliding-window layers, rope.freq_base on global ones)
//!     o = softmax(q·kᵀ · scale + mask) v   (window mask on local layers)
//!     h = h + post_attention_norm(o·Woᵀ)
//!     f = ffn_norm(h);  h = h + post_ffw_norm( (gelu_tanh(f·Wgateᵀ) ⊙ f·Wupᵀ) · Wdownᵀ )
//! logits = output_norm(h) · Embᵀ          (tied unless output.weight exists)
//! ```
//! Norms are `x / rms(x) · w`: the GGUF converter already folded Gemma's `1 + w` into `w`.
//! Every layer `i` with `(i + 1) % 6 != 0` is a sliding-window layer (pattern 6), unless the
//! file says otherwise in `gemma3.attention.sliding_window_pattern`.

use std::sync::Arc;

use rayon::prelude::*;
use wren_gguf::GgufFile;
use wren_kernels::ops;

use super::{sized, Model, ModelInfo, SeqBatch, Workspace};
use crate::attention::sparse::SparseParams;
use crate::attention::{store_and_attend, AttnShape};
use crate::error::{Error, Result};
use crate::kv::{CacheOptions, KvCache, LayerCache};
use crate::linear::{matmul, matmul_many, Compute};
use crate::tensor::{load_vector, QMatrix};

/// Hyperparameters, all read from the GGUF metadata.
#[derive(Clone, Debug)]
pub struct Gemma3Config {
    pub n_embd: usize,
    pub n_layer: usize,
    pub n_ff: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    pub head_dim: usize,
    pub eps: f32,
    pub n_ctx_train: usize,
    pub window: usize,
    /// `sliding[i]`: layer i uses the window and the local RoPE base.
    pub sliding: Vec<bool>,
    pub rope_base_global: f32,
    pub rope_base_local: f32,
    /// Linear RoPE scaling factor on global layers (1 = none).
    pub rope_scale_global: f32,
    pub attn_scale: f32,
    /// Block-sparse attention the file declares (`gemma3.attention.sparse.*`).
    pub sparse: Option<SparseParams>,
}

impl Gemma3Config {
    pub fn from_gguf(f: &GgufFile) -> Result<Gemma3Config> {
        let a = "gemma3";
        let u = |k: &str| -> Result<usize> { Ok(f.get_u64(&format!("{a}.{k}"))? as usize) };
        let opt_f32 = |k: &str| {
            f.get(&format!("{a}.{k}"))
                .map(|_| f.get_f32(&format!("{a}.{k}")))
                .transpose()
        };
        let n_embd = u("embedding_length")?;
        let n_layer = u("block_count")?;
        let n_head = u("attention.head_count")?;
        let n_head_kv = u("attention.head_count_kv")?;
        let head_dim = match f.get(&format!("{a}.attention.key_length")) {
            Some(_) => u("attention.key_length")?,
            None => n_embd / n_head.max(1),
        };
        if f.get(&format!("{a}.attention.value_length")).is_some()
            && u("attention.value_length")? != head_dim
        {
            return Err(Error::Model(
                "gemma3 with key_length != value_length is not supported".into(),
            ));
        }
        if head_dim > 1024 {
            return Err(Error::Model(format!(
                "head size {head_dim} is larger than wren supports (1024)"
            )));
        }
        if n_layer == 0
            || n_head == 0
            || n_head_kv == 0
            || n_head % n_head_kv != 0
            || head_dim % 2 != 0
        {
            return Err(Error::Model(format!(
                "inconsistent attention shape: {n_layer} layers, {n_head} heads, {n_head_kv} KV heads, head size {head_dim}"
            )));
        }
        let window = u("attention.sliding_window")?;
        let sliding = match f.get(&format!("{a}.attention.sliding_window_pattern")) {
            Some(wren_gguf::Value::Array(v)) if v.len() == n_layer => v
                .iter()
                .map(|x| matches!(x, wren_gguf::Value::Bool(true)))
                .collect(),
            Some(v) if v.as_u64().is_some() => {
                let p = v.as_u64().unwrap_or(6).max(1) as usize;
                (0..n_layer).map(|i| (i + 1) % p != 0).collect()
            }
            _ => (0..n_layer).map(|i| (i + 1) % 6 != 0).collect(),
        };
        let rope_scale_global = match f
            .get(&format!("{a}.rope.scaling.type"))
            .and_then(|v| v.as_str())
        {
            Some("linear") => opt_f32("rope.scaling.factor")?.unwrap_or(1.0),
            _ => 1.0,
        };
        // Gemma 3 scales queries by query_pre_attn_scalar^-0.5, which is head_dim for every
        // size but 27B, where it is n_embd / n_head (llama.cpp does the same).
        let attn_scale = if n_layer == 62 {
            1.0 / ((n_embd / n_head) as f32).sqrt()
        } else {
            1.0 / (head_dim as f32).sqrt()
        };
        Ok(Gemma3Config {
            n_embd,
            n_layer,
            n_ff: u("feed_forward_length")?,
            n_head,
            n_head_kv,
            head_dim,
            eps: opt_f32("attention.layer_norm_rms_epsilon")?.unwrap_or(1e-6),
            n_ctx_train: u("context_length")?,
            window,
            sliding,
            rope_base_global: opt_f32("rope.freq_base")?.unwrap_or(1_000_000.0),
            rope_base_local: opt_f32("rope.freq_base_swa")?.unwrap_or(10_000.0),
            rope_scale_global,
            attn_scale,
            sparse: SparseParams::from_gguf(f, a)?,
        })
    }
}

struct Layer {
    attn_norm: Vec<f32>,
    wq: QMatrix,
    wk: QMatrix,
    wv: QMatrix,
    q_norm: Vec<f32>,
    k_norm: Vec<f32>,
    wo: QMatrix,
    post_attn_norm: Vec<f32>,
    ffn_norm: Vec<f32>,
    w_gate: QMatrix,
    w_up: QMatrix,
    w_down: QMatrix,
    post_ffw_norm: Vec<f32>,
}

pub struct Gemma3 {
    cfg: Gemma3Config,
    info: ModelInfo,
    tok_embd: QMatrix,
    output: QMatrix,
    output_norm: Vec<f32>,
    layers: Vec<Layer>,
    inv_freq_local: Vec<f32>,
    inv_freq_global: Vec<f32>,
}

fn inv_freq(base: f32, dim: usize, scale: f32) -> Vec<f32> {
    (0..dim / 2)
        .map(|i| (base as f64).powf(-((2 * i) as f64) / dim as f64) as f32 / scale)
        .collect()
}

impl Gemma3 {
    pub fn load(file: Arc<GgufFile>) -> Result<Gemma3> {
        let c = Gemma3Config::from_gguf(&file)?;
        let (e, hd) = (c.n_embd, c.head_dim);
        let tok_embd = QMatrix::load(&file, "token_embd.weight", Some(e), None)?;
        let vocab = tok_embd.rows;
        let output = if file.tensor("output.weight").is_some() {
            QMatrix::load(&file, "output.weight", Some(e), Some(vocab))?
        } else {
            tok_embd.clone()
        };
        let mut layers = Vec::with_capacity(c.n_layer);
        for i in 0..c.n_layer {
            let n = |s: &str| format!("blk.{i}.{s}.weight");
            let m = |s: &str, cols, rows| QMatrix::load(&file, &n(s), Some(cols), Some(rows));
            layers.push(Layer {
                attn_norm: load_vector(&file, &n("attn_norm"), e)?,
                wq: m("attn_q", e, c.n_head * hd)?,
                wk: m("attn_k", e, c.n_head_kv * hd)?,
                wv: m("attn_v", e, c.n_head_kv * hd)?,
                q_norm: load_vector(&file, &n("attn_q_norm"), hd)?,
                k_norm: load_vector(&file, &n("attn_k_norm"), hd)?,
                wo: m("attn_output", c.n_head * hd, e)?,
                post_attn_norm: load_vector(&file, &n("post_attention_norm"), e)?,
                ffn_norm: load_vector(&file, &n("ffn_norm"), e)?,
                w_gate: m("ffn_gate", e, c.n_ff)?,
                w_up: m("ffn_up", e, c.n_ff)?,
                w_down: m("ffn_down", c.n_ff, e)?,
                post_ffw_norm: load_vector(&file, &n("post_ffw_norm"), e)?,
            });
        }
        let weight_bytes = output.n_bytes()
            + layers
                .iter()
                .map(|l| {
                    [&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down]
                        .iter()
                        .map(|m| m.n_bytes())
                        .sum::<usize>()
                })
                .sum::<usize>();
        let info = ModelInfo {
            arch: "gemma3".into(),
            name: file.get_str("general.name").unwrap_or("gemma3").to_string(),
            vocab_size: vocab,
            n_ctx_train: c.n_ctx_train,
            n_embd: e,
            n_layer: c.n_layer,
            weight_bytes,
        };
        Ok(Gemma3 {
            output_norm: load_vector(&file, "output_norm.weight", e)?,
            inv_freq_local: inv_freq(c.rope_base_local, hd, 1.0),
            inv_freq_global: inv_freq(c.rope_base_global, hd, c.rope_scale_global),
            cfg: c,
            info,
            tok_embd,
            output,
            layers,
        })
    }

    pub fn config(&self) -> &Gemma3Config {
        &self.cfg
    }
}

impl Model for Gemma3 {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn new_cache(&self, opts: &CacheOptions) -> Result<KvCache> {
        let c = &self.cfg;
        let block = opts.sparse.as_ref().map(|p| p.block);
        // Sliding-window layers get a ring; global ones the whole context (and the block
        // summaries of sparse attention, if on).
        let layers = c
            .sliding
            .iter()
            .map(|&sl| {
                let (ring, summaries) = if sl {
                    (Some(c.window), None)
                } else {
                    (None, block)
                };
                LayerCache::new(opts.ty, opts.ctx, ring, c.n_head_kv, c.head_dim, summaries)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(KvCache::new(layers, opts))
    }

    fn declared_sparse(&self) -> Option<&SparseParams> {
        self.cfg.sparse.as_ref()
    }

    fn forward_batch(
        &self,
        seqs: &mut [SeqBatch<'_>],
        logits: &mut Vec<f32>,
        ws: &mut Workspace,
        compute: Compute,
    ) -> Result<()> {
        let c = &self.cfg;
        // Rows of all sequences are stacked: sequence i owns rows offs[i]..offs[i+1].
        let mut offs = std::mem::take(&mut ws.offs);
        offs.clear();
        offs.push(0usize);
        for s in seqs.iter() {
            let n = s.tokens.len();
            if s.cache.pos + n > s.cache.ctx {
                return Err(Error::ContextFull {
                    needed: s.cache.pos + n,
                    ctx: s.cache.ctx,
                    max: c.n_ctx_train,
                });
            }
            if s.want.end > n || s.want.start > s.want.end {
                return Err(Error::Invalid(format!(
                    "logits requested for rows {:?} of a {n}-token batch",
                    s.want
                )));
            }
            if let Some(&tok) = s
                .tokens
                .iter()
                .find(|&&t| t as usize >= self.info.vocab_size)
            {
                return Err(Error::BadToken {
                    id: tok,
                    vocab: self.info.vocab_size,
                });
            }
            offs.push(offs.last().unwrap() + n);
        }
        let n = *offs.last().unwrap();
        let (e, hd) = (c.n_embd, c.head_dim);
        let (qdim, kvdim) = (c.n_head * hd, c.n_head_kv * hd);

        // Embedding, scaled by √n_embd.
        let x = sized(&mut ws.x, n * e);
        let emb_scale = (e as f32).sqrt();
        for (i, &tok) in seqs.iter().flat_map(|s| s.tokens.iter()).enumerate() {
            let row = &mut x[i * e..(i + 1) * e];
            self.tok_embd.dequantize_row(tok as usize, row);
            row.iter_mut().for_each(|v| *v *= emb_scale);
        }

        for (il, l) in self.layers.iter().enumerate() {
            let sliding = c.sliding[il];
            // Attention block: projections over all rows at once.
            let xn = sized(&mut ws.xn, n * e);
            for t in 0..n {
                ops::rms_norm(
                    &ws.x[t * e..(t + 1) * e],
                    &l.attn_norm,
                    c.eps,
                    &mut xn[t * e..(t + 1) * e],
                );
            }
            let q = sized(&mut ws.q, n * qdim);
            let k = sized(&mut ws.k, n * kvdim);
            let v = sized(&mut ws.v, n * kvdim);
            let mut qkv = [(&l.wq, &mut *q), (&l.wk, &mut *k), (&l.wv, &mut *v)];
            matmul_many(&mut qkv, xn, n, compute, &mut ws.lin);
            // QK-norm and RoPE at each row's own position.
            let freqs = if sliding {
                &self.inv_freq_local
            } else {
                &self.inv_freq_global
            };
            let (mut cos, mut sin) = ([0f32; 512], [0f32; 512]);
            let (cos, sin) = (&mut cos[..hd / 2], &mut sin[..hd / 2]);
            for (si, s) in seqs.iter().enumerate() {
                for t in offs[si]..offs[si + 1] {
                    ops::rope_table(s.cache.pos + t - offs[si], freqs, cos, sin);
                    for h in q[t * qdim..(t + 1) * qdim].chunks_mut(hd) {
                        ops::rms_norm_inplace(h, &l.q_norm, c.eps);
                        ops::rope_neox(h, cos, sin);
                        h.iter_mut().for_each(|x| *x *= c.attn_scale);
                    }
                    for h in k[t * kvdim..(t + 1) * kvdim].chunks_mut(hd) {
                        ops::rms_norm_inplace(h, &l.k_norm, c.eps);
                        ops::rope_neox(h, cos, sin);
                    }
                }
            }
            // Attention, one sequence at a time against its own cache.
            let shape = AttnShape {
                n_head: c.n_head,
                n_head_kv: c.n_head_kv,
                head_dim: hd,
                window: if sliding { Some(c.window) } else { None },
            };
            let att = sized(&mut ws.att, n * qdim);
            // Each sequence against its own cache, all in one parallel region: one
            // region per sequence and layer costs more than a decode token's attention at
            // short contexts.
            if ws.attn.len() < seqs.len() {
                ws.attn.resize_with(seqs.len(), Default::default);
            }
            let (q, k, v) = (&*q, &*k, &*v);
            let outs = split_rows(att, &offs, qdim);
            seqs.par_iter_mut()
                .zip(outs)
                .zip(ws.attn.par_iter_mut())
                .enumerate()
                .for_each(|(si, ((s, out), scratch))| {
                    let (a, b) = (offs[si], offs[si + 1]);
                    let sparse = if sliding { None } else { s.cache.sparse };
                    store_and_attend(
                        &shape,
                        s.cache.pos,
                        &q[a * qdim..b * qdim],
                        &k[a * kvdim..b * kvdim],
                        &v[a * kvdim..b * kvdim],
                        &mut s.cache.layers[il],
                        sparse.as_ref(),
                        out,
                        scratch,
                    );
                });
            let proj = sized(&mut ws.proj, n * e);
            matmul(&l.wo, att, n, proj, compute, &mut ws.lin);
            for t in 0..n {
                let p = &mut proj[t * e..(t + 1) * e];
                ops::rms_norm_inplace(p, &l.post_attn_norm, c.eps);
                for (xi, pi) in ws.x[t * e..(t + 1) * e].iter_mut().zip(p.iter()) {
                    *xi += pi;
                }
            }

            // Feed-forward block.
            let xn = sized(&mut ws.xn, n * e);
            for t in 0..n {
                ops::rms_norm(
                    &ws.x[t * e..(t + 1) * e],
                    &l.ffn_norm,
                    c.eps,
                    &mut xn[t * e..(t + 1) * e],
                );
            }
            let ga = sized(&mut ws.ff_a, n * c.n_ff);
            let up = sized(&mut ws.ff_b, n * c.n_ff);
            let mut gate_up = [(&l.w_gate, &mut *ga), (&l.w_up, &mut *up)];
            matmul_many(&mut gate_up, xn, n, compute, &mut ws.lin);
            // GELU is a visible share of a prompt batch: spread it over the pool.
            ga.par_chunks_mut(c.n_ff)
                .zip(up.par_chunks(c.n_ff))
                .for_each(|(gr, ur)| {
                    for (g, u) in gr.iter_mut().zip(ur) {
                        *g = ops::gelu_tanh(*g) * u;
                    }
                });
            let proj = sized(&mut ws.proj, n * e);
            matmul(&l.w_down, ga, n, proj, compute, &mut ws.lin);
            for t in 0..n {
                let p = &mut proj[t * e..(t + 1) * e];
                ops::rms_norm_inplace(p, &l.post_ffw_norm, c.eps);
                for (xi, pi) in ws.x[t * e..(t + 1) * e].iter_mut().zip(p.iter()) {
                    *xi += pi;
                }
            }
        }
        for s in seqs.iter_mut() {
            s.cache.pos += s.tokens.len();
        }

        // Output head, only for the rows asked for, in sequence order.
        let m: usize = seqs.iter().map(|s| s.want.len()).sum();
        if m == 0 {
            logits.clear();
            ws.offs = offs;
            return Ok(());
        }
        let hin = sized(&mut ws.head_in, m * e);
        let offs_ref = &offs;
        let rows = seqs
            .iter()
            .enumerate()
            .flat_map(|(si, s)| s.want.clone().map(move |t| offs_ref[si] + t));
        for (i, t) in rows.enumerate() {
            ops::rms_norm(
                &ws.x[t * e..(t + 1) * e],
                &self.output_norm,
                c.eps,
                &mut hin[i * e..(i + 1) * e],
            );
        }
        let vocab = self.info.vocab_size;
        logits.resize(m * vocab, 0.0);
        matmul(
            &self.output,
            hin,
            m,
            &mut logits[..m * vocab],
            compute,
            &mut ws.lin,
        );
        ws.offs = offs;
        Ok(())
    }
}

/// `buf` (rows of `width`) cut at the row offsets `offs` (`offs[i]..offs[i + 1]` is part
/// `i`; the first offset is 0).
fn split_rows<'a>(mut buf: &'a mut [f32], offs: &[usize], width: usize) -> Vec<&'a mut [f32]> {
    let mut parts = Vec::with_capacity(offs.len().saturating_sub(1));
    for w in offs.windows(2) {
        let (head, rest) = std::mem::take(&mut buf).split_at_mut((w[1] - w[0]) * width);
        parts.push(head);
        buf = rest;
    }
    parts
}
