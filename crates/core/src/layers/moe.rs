//! The mixture-of-experts feed-forward block (Qwen3-MoE):
//!
//! ```text
//! p = softmax(x · Wrouterᵀ)                      over the n_expert experts, per row
//! E = the n_used experts of largest p            (ties: the lower index)
//! w_e = p_e / Σ_{E} p   (when normalized)  · scale (when the file gives one)
//! out = Σ_{e ∈ E} w_e · down_e(silu(gate_e(x)) ⊙ up_e(x))
//! ```
//!
//! The experts are views of the stacked 3-D tensors `ffn_{gate,up,down}_exps` (no copy).
//! Rows are grouped by expert: each expert's rows are gathered and run through its
//! matrices in one multi-token product, so a prompt batch reads each chosen expert once,
//! and a decoded token reads only its `n_used` experts.

use std::sync::Arc;

use wren_gguf::GgufFile;

use super::ffn::{Activation, GatedFfn};
use crate::error::{Error, Result};
use crate::linear::{matmul, Compute};
use crate::models::{sized, Workspace};
use crate::tensor::QMatrix;

/// Smallest sum of chosen probabilities divided by (llama.cpp clamps it to f16's
/// smallest normal so that a row can never divide by zero).
const MIN_WEIGHT_SUM: f32 = 6.103_515_6e-5;

/// Most experts a layer may declare (the largest published models have 512).
pub const MAX_EXPERTS: usize = 4096;

/// How a family routes (`<arch>.expert_*` keys).
#[derive(Clone, Copy, Debug)]
pub struct MoeParams {
    pub n_expert: usize,
    pub n_used: usize,
    /// Hidden size of one expert.
    pub n_ff_exp: usize,
    /// Renormalize the chosen experts' probabilities to sum to 1.
    pub norm: bool,
    /// Multiplies the weights (1: none).
    pub scale: f32,
}

impl MoeParams {
    /// Reads `<arch>.expert_count`, `expert_used_count`, `expert_feed_forward_length`
    /// (default `n_ff / n_used`, as llama.cpp), `expert_weights_norm` (default
    /// `norm_default`) and `expert_weights_scale` (default 1), checked for sense.
    pub fn from_gguf(f: &GgufFile, arch: &str, n_ff: usize, norm_default: bool) -> Result<Self> {
        let key = |k: &str| format!("{arch}.{k}");
        let bad = |msg: String| Error::Model(format!("{arch}: {msg}"));
        let n_expert = f.get_usize(&key("expert_count"))?;
        let n_used = f.get_usize(&key("expert_used_count"))?;
        if n_expert == 0 || n_expert > MAX_EXPERTS {
            return Err(bad(format!(
                "{} = {n_expert} is outside 1..={MAX_EXPERTS}",
                key("expert_count")
            )));
        }
        if n_used == 0 || n_used > n_expert {
            return Err(bad(format!(
                "{} = {n_used} is outside 1..={n_expert} (the expert count)",
                key("expert_used_count")
            )));
        }
        let n_ff_exp = match f.get(&key("expert_feed_forward_length")) {
            Some(_) => f.get_usize(&key("expert_feed_forward_length"))?,
            None => n_ff / n_used,
        };
        if n_ff_exp == 0 {
            return Err(bad("the experts' hidden size is 0".into()));
        }
        let norm = match f.get(&key("expert_weights_norm")) {
            Some(_) => f.get_bool(&key("expert_weights_norm"))?,
            None => norm_default,
        };
        let scale = match f.get(&key("expert_weights_scale")) {
            Some(_) => f.get_f32(&key("expert_weights_scale"))?,
            None => 1.0,
        };
        if !scale.is_finite() {
            return Err(bad(format!(
                "{} is not finite",
                key("expert_weights_scale")
            )));
        }
        // llama.cpp reads 0 as "no scale".
        let scale = if scale == 0.0 { 1.0 } else { scale };
        Ok(MoeParams {
            n_expert,
            n_used,
            n_ff_exp,
            norm,
            scale,
        })
    }
}

/// One layer's router and experts.
pub struct MoeFfn {
    /// `[n_expert, n_embd]`.
    pub router: QMatrix,
    pub experts: Vec<GatedFfn>,
    pub p: MoeParams,
}

/// Scratch of [`MoeFfn::forward`], kept in the [`Workspace`].
#[derive(Default)]
pub struct MoeScratch {
    /// Router probabilities `[rows, n_expert]`.
    probs: Vec<f32>,
    /// Per expert: the rows routed to it and their weights.
    routes: Vec<Vec<(usize, f32)>>,
    /// One row's chosen experts.
    chosen: Vec<usize>,
    /// One expert's gathered input rows and its output.
    x: Vec<f32>,
    y: Vec<f32>,
}

impl MoeFfn {
    /// Layer `il`'s router (`ffn_gate_inp`) and experts (`ffn_{gate,up,down}_exps`).
    pub fn load(
        file: &Arc<GgufFile>,
        il: usize,
        n_embd: usize,
        p: MoeParams,
        act: Activation,
    ) -> Result<MoeFfn> {
        let name = |s: &str| format!("blk.{il}.{s}.weight");
        let router = QMatrix::load(file, &name("ffn_gate_inp"), Some(n_embd), Some(p.n_expert))?;
        let (e, f) = (p.n_expert, p.n_ff_exp);
        let gate = QMatrix::load_stacked(file, &name("ffn_gate_exps"), n_embd, f, e)?;
        let up = QMatrix::load_stacked(file, &name("ffn_up_exps"), n_embd, f, e)?;
        let down = QMatrix::load_stacked(file, &name("ffn_down_exps"), f, n_embd, e)?;
        let experts = gate
            .into_iter()
            .zip(up)
            .zip(down)
            .map(|((gate, up), down)| GatedFfn {
                gate,
                up,
                down,
                act,
            })
            .collect();
        Ok(MoeFfn { router, experts, p })
    }

    /// Bytes one token reads: the router and `n_used` experts' matrices.
    pub fn bytes_per_token(&self) -> usize {
        let expert = self.experts.first().map_or(0, GatedFfn::bytes);
        self.router.n_bytes() + self.p.n_used * expert
    }

    /// Bytes of every expert (what a dense layer of the same parameters would read).
    pub fn bytes_all(&self) -> usize {
        self.router.n_bytes() + self.experts.iter().map(GatedFfn::bytes).sum::<usize>()
    }

    /// Reads `ws.xn` (`[rows, n_embd]`) and writes `ws.proj` (`[rows, n_embd]`).
    pub fn forward(&self, rows: usize, ws: &mut Workspace, compute: Compute) {
        let n_embd = self.router.cols;
        let Workspace {
            xn,
            proj,
            ff_a,
            ff_b,
            lin,
            moe,
            ..
        } = ws;
        let x = &xn[..rows * n_embd];
        let probs = sized(&mut moe.probs, rows * self.p.n_expert);
        matmul(&self.router, x, rows, probs, compute, lin);
        route(probs, &self.p, &mut moe.routes, &mut moe.chosen);

        let out = sized(proj, rows * n_embd);
        out.fill(0.0);
        for (expert, routed) in self.experts.iter().zip(&moe.routes) {
            if routed.is_empty() {
                continue;
            }
            let m = routed.len();
            let xe = sized(&mut moe.x, m * n_embd);
            for (dst, &(r, _)) in xe.chunks_exact_mut(n_embd).zip(routed) {
                dst.copy_from_slice(&x[r * n_embd..(r + 1) * n_embd]);
            }
            expert.forward_on(
                &moe.x[..m * n_embd],
                m,
                &mut moe.y,
                ff_a,
                ff_b,
                lin,
                compute,
            );
            for (ye, &(r, w)) in moe.y.chunks_exact(n_embd).zip(routed) {
                for (o, v) in out[r * n_embd..(r + 1) * n_embd].iter_mut().zip(ye) {
                    *o += w * v;
                }
            }
        }
    }
}

/// Turns router logits (`[rows, n_expert]`, softmaxed in place) into each expert's list
/// of (row, weight), rows ascending (`chosen`: scratch).
fn route(
    probs: &mut [f32],
    p: &MoeParams,
    routes: &mut Vec<Vec<(usize, f32)>>,
    chosen: &mut Vec<usize>,
) {
    routes.resize_with(p.n_expert, Vec::new);
    routes.iter_mut().for_each(Vec::clear);
    for (r, row) in probs.chunks_exact_mut(p.n_expert).enumerate() {
        softmax(row);
        top_k(row, p.n_used, chosen);
        let sum: f32 = chosen.iter().map(|&e| row[e]).sum();
        let div = if p.norm { sum.max(MIN_WEIGHT_SUM) } else { 1.0 };
        for &e in chosen.iter() {
            routes[e].push((r, row[e] / div * p.scale));
        }
    }
}

fn softmax(v: &mut [f32]) {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f32;
    for x in v.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    let inv = 1.0 / sum;
    v.iter_mut().for_each(|x| *x *= inv);
}

/// The `k` largest entries of `v`, largest first; ties go to the lower index. A NaN
/// (from a broken router) counts as the smallest value, so routing still picks `k`.
fn top_k(v: &[f32], k: usize, out: &mut Vec<usize>) {
    out.clear();
    let key = |i: usize| {
        if v[i].is_nan() {
            f32::NEG_INFINITY
        } else {
            v[i]
        }
    };
    for _ in 0..k {
        let best = (0..v.len())
            .filter(|i| !out.contains(i))
            .fold(None, |b: Option<usize>, i| match b {
                Some(j) if key(j) >= key(i) => Some(j),
                _ => Some(i),
            });
        if let Some(i) = best {
            out.push(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_orders_and_breaks_ties_low() {
        let mut out = Vec::new();
        top_k(&[0.1, 0.5, 0.2, 0.5], 2, &mut out);
        assert_eq!(out, [1, 3]);
        top_k(&[0.1, f32::NAN, 0.2], 3, &mut out);
        assert_eq!(out, [2, 0, 1]);
    }

    fn params(norm: bool, scale: f32) -> MoeParams {
        MoeParams {
            n_expert: 4,
            n_used: 2,
            n_ff_exp: 1,
            norm,
            scale,
        }
    }

    #[test]
    fn routing_weights_follow_the_softmax() {
        // Row 0 prefers experts 2 then 0; row 1 experts 3 then 2.
        let mut logits = vec![1.0, 0.0, 2.0, -1.0, 0.0, 0.5, 1.0, 3.0];
        let mut routes = Vec::new();
        let mut chosen = Vec::new();
        route(
            &mut logits.clone(),
            &params(false, 1.0),
            &mut routes,
            &mut chosen,
        );
        let e = |x: f32| x.exp();
        let z0 = e(1.0) + e(0.0) + e(2.0) + e(-1.0);
        let close = |a: f32, b: f32| (a - b).abs() < 1e-6;
        assert_eq!(routes[0].len(), 1);
        assert!(close(routes[0][0].1, e(1.0) / z0));
        assert_eq!(routes[1], []);
        assert_eq!(routes[2].iter().map(|r| r.0).collect::<Vec<_>>(), [0, 1]);
        assert_eq!(routes[3].len(), 1);
        // Normalized and scaled: the two weights of a row sum to the scale.
        route(&mut logits, &params(true, 2.5), &mut routes, &mut chosen);
        let row1: f32 = routes[2][1].1 + routes[3][0].1;
        assert!(close(row1, 2.5), "{row1}");
        assert!(close(routes[2][0].1 / routes[0][0].1, e(1.0)));
    }
}
