//! How a block's output joins the residual stream.

use wren_kernels::ops;

/// `x += y`, row by row (the pre-norm wiring of Llama and most decoders).
pub fn add(x: &mut [f32], y: &[f32]) {
    for (a, b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

/// `x += s · y` (MiniCPM's depth-scaled residual branches, `s = scale_depth / √n_layer`).
pub fn add_scaled(x: &mut [f32], y: &[f32], s: f32) {
    for (a, b) in x.iter_mut().zip(y) {
        *a += s * b;
    }
}

/// `x += rms_norm(y) · w` for every row (Gemma's post-attention / post-FFN norms);
/// `y` is normalised in place.
pub fn norm_add(x: &mut [f32], y: &mut [f32], w: &[f32], eps: f32) {
    let e = w.len();
    for (xr, yr) in x.chunks_exact_mut(e).zip(y.chunks_exact_mut(e)) {
        ops::rms_norm_inplace(yr, w, eps);
        add(xr, yr);
    }
}
