//! Safe entry points for f32 vector kernels, dispatched on [`crate::isa::isa`], and the
//! scalar element-wise operations the models use (norms, RoPE, activations, softmax).

mod attn;
mod elementwise;
mod exp;
mod f32dot;

pub use attn::{
    attn_prefetch, attn_scores, attn_scores_with, attn_supported, attn_values, attn_values_with,
};
pub use elementwise::{
    gelu_tanh, rms_norm, rms_norm_inplace, rope_neox, rope_table, softmax_inplace,
};
pub use exp::{exp, exp_sub_sum};
pub use f32dot::{
    axpy, dot, dot_4x2, gemm_panel_16x12, gemm_panel_16x6, gemm_panel_32x12, scalar, PANEL_ROWS,
    PANEL_TOKENS, PANEL_TOKENS_WIDE,
};

/// Helpers shared by the kernel tests of this module.
#[cfg(test)]
pub(crate) mod testing {
    /// `n` pseudo-random floats in [-1, 1) from a 64-bit LCG.
    pub fn rand_vec(seed: &mut u64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| {
                *seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }
}
