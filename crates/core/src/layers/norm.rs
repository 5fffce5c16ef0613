//! RMS norm over rows.
//!
//! Norm weights are used as stored: the GGUF converters fold Gemma's `1 + w` into the
//! file's weights, so no architecture needs an offset here.

use wren_kernels::ops;

/// `out[r] = rms_norm(x[r]) · w` for every row of `width = w.len()`.
pub fn rms_norm_rows(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    let e = w.len();
    for (xr, or) in x.chunks_exact(e).zip(out.chunks_exact_mut(e)) {
        ops::rms_norm(xr, w, eps, or);
    }
}

/// [`rms_norm_rows`] in place.
pub fn rms_norm_rows_inplace(x: &mut [f32], w: &[f32], eps: f32) {
    for xr in x.chunks_exact_mut(w.len()) {
        ops::rms_norm_inplace(xr, w, eps);
    }
}
