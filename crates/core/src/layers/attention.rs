//! The attention block: Q/K/V projections (optional biases), optional per-head Q/K RMS
//! norms, RoPE at each row's position, grouped-query attention of each sequence against
//! its own cache (optionally a sliding window), and the output projection.

use std::sync::Arc;

use rayon::prelude::*;
use wren_gguf::GgufFile;

use super::batch::{split_rows, BatchPlan};
use super::hparams::HParams;
use super::rope::{Rope, MAX_ROT};
use crate::attention::{attend, store_and_attend, AttnScratch, AttnShape};
use crate::error::Result;
use crate::linear::{matmul, matmul_many, Compute};
use crate::models::{sized, SeqBatch, Workspace};
use crate::tensor::{load_vector, QMatrix};

/// One layer's attention tensors (`blk.{i}.attn_*`).
pub struct AttentionWeights {
    pub wq: QMatrix,
    pub wk: QMatrix,
    pub wv: QMatrix,
    pub wo: QMatrix,
    /// `attn_{q,k,v}.bias`, where the file has them (Qwen2).
    pub bq: Option<Vec<f32>>,
    pub bk: Option<Vec<f32>>,
    pub bv: Option<Vec<f32>>,
    /// Per-head RMS norms of queries and keys (`attn_{q,k}_norm`: Gemma 3, Qwen3).
    pub q_norm: Option<Vec<f32>>,
    pub k_norm: Option<Vec<f32>>,
}

impl AttentionWeights {
    /// Loads layer `il`'s tensors, checking every shape against `hp`. Biases are used
    /// when present; the Q/K norms are required when `qk_norm` is set.
    pub fn load(file: &Arc<GgufFile>, il: usize, hp: &HParams, qk_norm: bool) -> Result<Self> {
        let n = |s: &str| format!("blk.{il}.{s}");
        let (e, hd) = (hp.n_embd, hp.head_dim);
        let (qdim, kvdim) = (hp.n_head * hd, hp.n_head_kv * hd);
        let m = |s: &str, cols, rows| QMatrix::load(file, &n(s), Some(cols), Some(rows));
        let opt_vec = |s: &str, len| {
            let name = n(s);
            file.tensor(&name)
                .map(|_| load_vector(file, &name, len))
                .transpose()
        };
        let norm = |s: &str| -> Result<Option<Vec<f32>>> {
            if qk_norm {
                load_vector(file, &n(s), hd).map(Some)
            } else {
                Ok(None)
            }
        };
        Ok(AttentionWeights {
            wq: m("attn_q.weight", e, qdim)?,
            wk: m("attn_k.weight", e, kvdim)?,
            wv: m("attn_v.weight", e, kvdim)?,
            wo: m("attn_output.weight", qdim, e)?,
            bq: opt_vec("attn_q.bias", qdim)?,
            bk: opt_vec("attn_k.bias", kvdim)?,
            bv: opt_vec("attn_v.bias", kvdim)?,
            q_norm: norm("attn_q_norm.weight")?,
            k_norm: norm("attn_k_norm.weight")?,
        })
    }

    /// Layer `il`'s tensors with Q, K and V fused in one `attn_qkv` tensor (Phi-3), its
    /// rows `[Q; K; V]`, viewed as three matrices (the bytes are shared, not copied).
    pub fn load_fused(file: &Arc<GgufFile>, il: usize, hp: &HParams) -> Result<Self> {
        let n = |s: &str| format!("blk.{il}.{s}");
        let (e, hd) = (hp.n_embd, hp.head_dim);
        let (qdim, kvdim) = (hp.n_head * hd, hp.n_head_kv * hd);
        let qkv = QMatrix::load(file, &n("attn_qkv.weight"), Some(e), Some(qdim + 2 * kvdim))?;
        Ok(AttentionWeights {
            wq: qkv.row_range(0..qdim, &n("attn_qkv.weight[q]"))?,
            wk: qkv.row_range(qdim..qdim + kvdim, &n("attn_qkv.weight[k]"))?,
            wv: qkv.row_range(qdim + kvdim..qdim + 2 * kvdim, &n("attn_qkv.weight[v]"))?,
            wo: QMatrix::load(file, &n("attn_output.weight"), Some(qdim), Some(e))?,
            bq: None,
            bk: None,
            bv: None,
            q_norm: None,
            k_norm: None,
        })
    }

    /// The matrices, for the bytes-per-token count.
    pub fn matrices(&self) -> [&QMatrix; 4] {
        [&self.wq, &self.wk, &self.wv, &self.wo]
    }
}

/// A layer's attention: weights, head geometry and window, query scale.
pub struct Attention {
    pub w: AttentionWeights,
    pub shape: AttnShape,
    /// Multiplies the queries after RoPE (usually `1/√head_dim`).
    pub scale: f32,
    /// Epsilon of the Q/K norms.
    pub eps: f32,
}

impl Attention {
    /// Reads `ws.xn` (`[rows, n_embd]`), stores each sequence's keys and values in layer
    /// `il` of its cache, and writes the output projection to `ws.proj`.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &self,
        il: usize,
        rope: &Rope,
        plan: &BatchPlan,
        seqs: &mut [SeqBatch<'_>],
        ws: &mut Workspace,
        compute: Compute,
    ) {
        let sh = &self.shape;
        let hd = sh.head_dim;
        let (qdim, kvdim) = (sh.n_head * hd, sh.n_head_kv * hd);
        let n = plan.rows();
        let w = &self.w;
        let q = sized(&mut ws.q, n * qdim);
        let k = sized(&mut ws.k, n * kvdim);
        let v = sized(&mut ws.v, n * kvdim);
        let mut qkv = [(&w.wq, &mut *q), (&w.wk, &mut *k), (&w.wv, &mut *v)];
        matmul_many(&mut qkv, &ws.xn[..n * w.wq.cols], n, compute, &mut ws.lin);
        for (buf, bias) in [(&mut *q, &w.bq), (&mut *k, &w.bk), (&mut *v, &w.bv)] {
            if let Some(b) = bias {
                for row in buf.chunks_exact_mut(b.len()) {
                    super::residual::add(row, b);
                }
            }
        }
        // Q/K norms and RoPE at each row's own position; queries pre-scaled.
        let (mut cos, mut sin) = ([0f32; MAX_ROT / 2], [0f32; MAX_ROT / 2]);
        let half = rope.n_rot() / 2;
        let (cos, sin) = (&mut cos[..half], &mut sin[..half]);
        for (t, pos) in plan.positions(seqs) {
            rope.table(pos, cos, sin);
            for h in q[t * qdim..(t + 1) * qdim].chunks_exact_mut(hd) {
                if let Some(nw) = &w.q_norm {
                    wren_kernels::ops::rms_norm_inplace(h, nw, self.eps);
                }
                rope.rotate(h, cos, sin);
                h.iter_mut().for_each(|x| *x *= self.scale);
            }
            for h in k[t * kvdim..(t + 1) * kvdim].chunks_exact_mut(hd) {
                if let Some(nw) = &w.k_norm {
                    wren_kernels::ops::rms_norm_inplace(h, nw, self.eps);
                }
                rope.rotate(h, cos, sin);
            }
        }
        let (q, k, v) = (&*q, &*k, &*v);
        let rowwise = ws.lin.rowwise;
        let fits = seqs
            .iter()
            .enumerate()
            .all(|(si, s)| plan.seq_rows(si).len() <= s.cache.layers[il].max_append());
        if rowwise && fits {
            attend_rows(il, sh, plan, seqs, (q, k, v), &mut ws.attn, &mut ws.att);
        } else {
            // Each sequence against its own cache, all in one parallel region: one region
            // per sequence and layer costs more than a decode token's attention at short
            // contexts.
            if ws.attn.len() < seqs.len() {
                ws.attn.resize_with(seqs.len(), Default::default);
            }
            let att = sized(&mut ws.att, n * qdim);
            let offs = plan.offsets();
            let outs = split_rows(att, offs, qdim);
            seqs.par_iter_mut()
                .zip(outs)
                .zip(ws.attn.par_iter_mut())
                .enumerate()
                .for_each(|(si, ((s, out), scratch))| {
                    let (a, b) = (offs[si], offs[si + 1]);
                    let sparse = if sh.window.is_some() {
                        None
                    } else {
                        s.cache.sparse
                    };
                    store_and_attend(
                        sh,
                        s.cache.pos,
                        &q[a * qdim..b * qdim],
                        &k[a * kvdim..b * kvdim],
                        &v[a * kvdim..b * kvdim],
                        &mut s.cache.layers[il],
                        sparse.as_ref(),
                        out,
                        scratch,
                        rowwise,
                    );
                });
        }
        let proj = sized(&mut ws.proj, n * w.wo.rows);
        matmul(&w.wo, &ws.att[..n * qdim], n, proj, compute, &mut ws.lin);
    }
}

/// A verify pass's attention (`rowwise`, every sequence's rows within what its layer cache
/// takes at once): the keys of every sequence stored, then every row attending on its own
/// exactly as a one-token step does (`attention::attend` at its position: the same tasks
/// and merge, so the same bits), all rows of all sequences in one parallel region, each
/// with its own scratch. Running a pass's rows one after another cost two parallel regions
/// per row and layer.
fn attend_rows(
    il: usize,
    sh: &AttnShape,
    plan: &BatchPlan,
    seqs: &mut [SeqBatch<'_>],
    (q, k, v): (&[f32], &[f32], &[f32]),
    scratch: &mut Vec<AttnScratch>,
    att: &mut Vec<f32>,
) {
    let (qdim, kvdim) = (sh.n_head * sh.head_dim, sh.n_head_kv * sh.head_dim);
    let n = plan.rows();
    for (si, s) in seqs.iter_mut().enumerate() {
        let r = plan.seq_rows(si);
        let pos = s.cache.pos;
        s.cache.layers[il].store(
            pos,
            &k[r.start * kvdim..r.end * kvdim],
            &v[r.start * kvdim..r.end * kvdim],
        );
    }
    if scratch.len() < n {
        scratch.resize_with(n, Default::default);
    }
    let att = sized(att, n * qdim);
    let (seqs, offs): (&[SeqBatch<'_>], _) = (seqs, plan.offsets());
    att.par_chunks_mut(qdim)
        .zip(scratch[..n].par_iter_mut())
        .enumerate()
        .for_each(|(r, (out, scratch))| {
            // Row `r`'s sequence, and its position there.
            let si = offs.partition_point(|&o| o <= r) - 1;
            let cache = &seqs[si].cache;
            let pos = cache.pos + r - offs[si];
            let sparse = if sh.window.is_some() {
                None
            } else {
                cache.sparse
            };
            attend(
                sh,
                pos,
                &q[r * qdim..(r + 1) * qdim],
                &cache.layers[il],
                sparse.as_ref(),
                out,
                scratch,
            );
        });
}
