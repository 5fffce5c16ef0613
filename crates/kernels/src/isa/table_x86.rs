//! The x86-64 entries of the kernel table ([`super::table`]): per-row dot products (AVX2,
//! and AVX-512 VNNI where it has its own), the AVX2 activation quantizers and dequantizers
//! at every x86 tier. A format missing at a tier uses the next lower tier's kernel.

use super::quant::each_row;
use super::table::Kernels;
use super::x86_64::{avx2_dequant as d2, avx2_quant as v2, avx512_kquants as v5k};
use super::Isa;
use crate::formats::q8_0::BlockQ8_0;
use crate::formats::{cast_blocks, cast_blocks_mut};
use crate::formats::{iq4_nl::BlockIq4Nl, iq4_xs::BlockIq4Xs};
use crate::formats::{q4_0::BlockQ4_0, q4_1::BlockQ4_1, q5_0::BlockQ5_0, q5_1::BlockQ5_1};
use crate::formats::{q4_k::BlockQ4K, q5_k::BlockQ5K, q6_k::BlockQ6K};
use crate::formats::{q8_1::BlockQ8_1, q8_k::BlockQ8K};
use crate::GgmlType;

/// A rows kernel over blocks `$w` · `$a` from the per-row kernel `$k` (monomorphized, so
/// the per-row call inlines into the row loop as before the table).
macro_rules! rows {
    ($name:ident, $w:ty, $a:ty, $k:path) => {
        unsafe fn $name(w: &[u8], a: &[u8], out: &mut [f32]) {
            let (w, a) = (cast_blocks::<$w>(w), cast_blocks::<$a>(a));
            // SAFETY: the table hands this out only for a proven tier that has `$k`'s
            // features; the kernel bounds-checks its slices.
            each_row(w, a, out, |w, a| unsafe { $k(w, a) });
        }
    };
}

rows!(q4_0_avx2, BlockQ4_0, BlockQ8_0, v2::vec_dot_q4_0_q8_0);
rows!(q5_0_avx2, BlockQ5_0, BlockQ8_0, v2::vec_dot_q5_0_q8_0);
/// Q4_1 rows at the AVX2 and plain AVX-512 tiers: eight rows per register
/// (`avx2_lanes`), the arithmetic its rowwise products share.
unsafe fn q4_1_avx2(w: &[u8], a: &[u8], out: &mut [f32]) {
    let (w, a) = (cast_blocks::<BlockQ4_1>(w), cast_blocks::<BlockQ8_1>(a));
    // SAFETY: handed out only for a proven AVX2 tier; the kernel bounds-checks.
    unsafe {
        let pf = super::quant::prefetch_bytes();
        super::x86_64::avx2_lanes::q4_1_rows_tokens::<1>(w, a.len(), [a], out, out.len(), pf)
    }
}
rows!(q5_1_avx2, BlockQ5_1, BlockQ8_1, v2::vec_dot_q5_1_q8_1);
rows!(q4_k_avx2, BlockQ4K, BlockQ8K, v2::vec_dot_q4_k_q8_k);
// The non-linear formats: one kernel for every x86 tier from AVX2 up (rowwise and batched
// products run it per token, so they equal one-token products bit for bit).
rows!(
    iq4_nl_avx2,
    BlockIq4Nl,
    BlockQ8_0,
    super::x86_64::avx2_iq4::vec_dot_iq4_nl_q8_0
);
rows!(
    iq4_xs_avx2,
    BlockIq4Xs,
    BlockQ8K,
    super::x86_64::avx2_iq4::vec_dot_iq4_xs_q8_k
);
rows!(q5_k_avx2, BlockQ5K, BlockQ8K, v2::vec_dot_q5_k_q8_k);
/// Q6_K rows at the AVX2 and plain AVX-512 tiers: the multi-token kernel
/// (`avx2_multi_k`) for one token, so that batched and speculative verify products equal
/// one-token ones bit for bit. It also measured ~9% faster than a per-row kernel in
/// ggml's style (`multibench --type q6_k --cols 2048`, Zen 3).
unsafe fn q6_k_avx2(w: &[u8], a: &[u8], out: &mut [f32]) {
    let (w, a) = (cast_blocks::<BlockQ6K>(w), cast_blocks::<BlockQ8K>(a));
    each_row(w, a, out, |w, a| {
        let mut o = [0f32];
        // SAFETY: handed out only for a proven AVX2 tier; the kernel bounds-checks.
        unsafe { super::x86_64::avx2_multi_k::rows_q6_k::<1>(w, a.len(), [a], &mut o, 1) };
        o[0]
    });
}
/// The 32-element formats' rows at the VNNI tier: `avx512_lanes::rows_one`, sixteen rows
/// at a time with the token-lane kernel's arithmetic, so that batched products
/// (`avx512_multi::rows_vnni`) equal one-token products bit for bit.
macro_rules! lanes {
    ($name:ident, $w:ty, $a:ty) => {
        unsafe fn $name(w: &[u8], a: &[u8], out: &mut [f32]) {
            // SAFETY: handed out only for a proven VNNI tier; the kernel bounds-checks.
            unsafe {
                super::x86_64::avx512_lanes::rows_one::<$w, $a>(
                    cast_blocks(w),
                    cast_blocks(a),
                    out,
                    super::quant::prefetch_bytes(),
                )
            }
        }
    };
}
lanes!(q8_0_vnni, BlockQ8_0, BlockQ8_0);
lanes!(q4_0_vnni, BlockQ4_0, BlockQ8_0);
lanes!(q5_0_vnni, BlockQ5_0, BlockQ8_0);
lanes!(q4_1_vnni, BlockQ4_1, BlockQ8_1);
lanes!(q5_1_vnni, BlockQ5_1, BlockQ8_1);

rows!(q4_k_vnni, BlockQ4K, BlockQ8K, v5k::vec_dot_q4_k_q8_k_vnni);
rows!(q5_k_vnni, BlockQ5K, BlockQ8K, v5k::vec_dot_q5_k_q8_k_vnni);
rows!(q6_k_vnni, BlockQ6K, BlockQ8K, v5k::vec_dot_q6_k_q8_k_vnni);

/// Q8_0 rows at the AVX2 and plain AVX-512 tiers. One row at a time: kernels taking four
/// rows at once (sharing the activation loads and, for VNNI, its `128·Σy` correction)
/// measured 10–40% slower on Zen 4 and Sapphire Rapids — four interleaved weight streams
/// prefetch worse than one. The activation scan picks the exact (i16) or the sign-trick
/// path, once per call.
unsafe fn q8_0_avx2(w: &[u8], a: &[u8], out: &mut [f32]) {
    let (w, a) = (cast_blocks::<BlockQ8_0>(w), cast_blocks::<BlockQ8_0>(a));
    // SAFETY: handed out only for a proven AVX2 tier (AVX2+FMA+F16C).
    let exact = unsafe { v2::q8_0_has_min(a) };
    // SAFETY: as above; the kernel bounds-checks its slices.
    each_row(w, a, out, |w, a| unsafe {
        v2::vec_dot_q8_0_q8_0_known(w, a, exact)
    });
}

macro_rules! convert {
    ($name:ident, $src:ty, $dst:ty, $k:path, $cast:ident) => {
        unsafe fn $name(src: &[$src], dst: &mut [$dst]) {
            // SAFETY: handed out only for a proven AVX2 tier; element and block counts
            // are bounded by the shorter slice inside the kernel.
            unsafe { $k(convert!(@src $cast, src), convert!(@dst $cast, dst)) }
        }
    };
    (@src q, $s:ident) => { $s };
    (@dst q, $d:ident) => { cast_blocks_mut($d) };
    (@src d, $s:ident) => { cast_blocks($s) };
    (@dst d, $d:ident) => { $d };
}

convert!(quantize_q8_0, f32, u8, v2::quantize_row_q8_0, q);
convert!(quantize_q8_1, f32, u8, v2::quantize_row_q8_1, q);
convert!(quantize_q8_k, f32, u8, v2::quantize_row_q8_k, q);
convert!(dequantize_f16, u8, f32, d2::dequantize_f16, d);
convert!(dequantize_q8_0, u8, f32, d2::dequantize_q8_0, d);
convert!(dequantize_q4_0, u8, f32, d2::dequantize_q4_0, d);
convert!(dequantize_q4_1, u8, f32, d2::dequantize_q4_1, d);
convert!(dequantize_q5_1, u8, f32, d2::dequantize_q5_1, d);
convert!(
    dequantize_iq4_nl,
    u8,
    f32,
    super::x86_64::avx2_iq4::dequantize_iq4_nl,
    d
);
convert!(
    dequantize_iq4_xs,
    u8,
    f32,
    super::x86_64::avx2_iq4::dequantize_iq4_xs,
    d
);

/// The kernels of x86 tier `t` (AVX2 or higher) for `ty`.
pub(super) fn kernels(t: Isa, ty: GgmlType) -> Kernels {
    let vnni = t.at_least(Isa::Avx512Vnni);
    let pick = |v: super::table::RowsDot, a: super::table::RowsDot| Some(if vnni { v } else { a });
    let none = Kernels::default();
    match ty {
        GgmlType::Q8_0 => Kernels {
            rows: pick(q8_0_vnni, q8_0_avx2),
            quantize: Some(quantize_q8_0),
            dequantize: Some(dequantize_q8_0),
            ..none
        },
        GgmlType::Q4_0 => Kernels {
            rows: pick(q4_0_vnni, q4_0_avx2),
            dequantize: Some(dequantize_q4_0),
            ..none
        },
        GgmlType::Q5_0 => Kernels {
            rows: pick(q5_0_vnni, q5_0_avx2),
            ..none
        },
        GgmlType::Q4_1 => Kernels {
            rows: pick(q4_1_vnni, q4_1_avx2),
            dequantize: Some(dequantize_q4_1),
            ..none
        },
        GgmlType::Q5_1 => Kernels {
            rows: pick(q5_1_vnni, q5_1_avx2),
            dequantize: Some(dequantize_q5_1),
            ..none
        },
        GgmlType::Q4K => Kernels {
            rows: pick(q4_k_vnni, q4_k_avx2),
            ..none
        },
        GgmlType::Q5K => Kernels {
            rows: pick(q5_k_vnni, q5_k_avx2),
            ..none
        },
        GgmlType::Q6K => Kernels {
            rows: pick(q6_k_vnni, q6_k_avx2),
            ..none
        },
        GgmlType::IQ4NL => Kernels {
            rows: Some(iq4_nl_avx2),
            dequantize: Some(dequantize_iq4_nl),
            ..none
        },
        GgmlType::IQ4XS => Kernels {
            rows: Some(iq4_xs_avx2),
            dequantize: Some(dequantize_iq4_xs),
            ..none
        },
        GgmlType::Q8_1 => Kernels {
            quantize: Some(quantize_q8_1),
            ..none
        },
        GgmlType::Q8K => Kernels {
            quantize: Some(quantize_q8_k),
            ..none
        },
        GgmlType::F16 => Kernels {
            dequantize: Some(dequantize_f16),
            ..none
        },
        _ => none,
    }
}
