//! Instruction-set tiers and run-time dispatch.
//!
//! The tier is decided once per process from the CPU's reported features. The
//! `WREN_ISA=scalar|avx2|avx512|avx512-novnni` (x86-64) or `WREN_ISA=scalar|neon|dotprod|i8mm`
//! (aarch64) environment variable forces a lower tier, so one machine can exercise every
//! kernel set (a tier the CPU lacks is refused with a warning). `avx512` means the best
//! AVX-512 tier the CPU has.
//!
//! The quantized dot products and their safe dispatch live in [`quant`]; a format without a
//! kernel at some tier uses the next lower tier's (AVX-512 → AVX2 → scalar).

use std::sync::OnceLock;

#[cfg(target_arch = "aarch64")]
pub mod aarch64;
pub mod multi;
pub mod packed;
pub mod quant;
pub mod rowwise;
pub mod table;
#[cfg(target_arch = "aarch64")]
mod table_arm;
#[cfg(target_arch = "x86_64")]
pub(crate) mod table_x86;
pub mod tables;
#[cfg(target_arch = "x86_64")]
mod widths_x86;
#[cfg(target_arch = "x86_64")]
pub mod x86_64;

pub use multi::{vec_dot_rows_tokens, vec_dot_rows_tokens_prepared, vec_dot_rows_tokens_with};
pub use packed::{
    packed_dequantize_row, packed_rows, packed_rows_tokens, packed_rows_tokens_prepared,
    packed_rows_tokens_with, packed_rows_with, Packing,
};
pub use quant::{
    dequantize_row_with, quantize_row_with, vec_dot_rows, vec_dot_rows_with, vec_dot_with,
};
pub use rowwise::{
    row_cost, vec_dot_rows_rowwise, vec_dot_rows_rowwise_with, RowwiseTables, ROWWISE_TOKENS,
};
pub use tables::TokenTables;

/// A kernel tier. Ordered within one architecture: a higher tier implies the lower ones of
/// the same architecture are available (x86-64: `Avx2 < Avx512 < Avx512Vnni`; aarch64:
/// `Neon < Dotprod < I8mm`). [`Isa::Scalar`] runs everywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    Scalar,
    /// AVX2 + FMA + F16C.
    Avx2,
    /// AVX-512 F/BW/VL (+ AVX2 tier).
    Avx512,
    /// AVX-512 tier + AVX512-VNNI (`vpdpbusd`): Zen 4, Ice Lake and later Xeons.
    Avx512Vnni,
    /// aarch64 Advanced SIMD (baseline on every aarch64 CPU).
    Neon,
    /// NEON + `sdot`/`udot` (FEAT_DotProd: Cortex-A55/A76 and later, Apple M1).
    Dotprod,
    /// Dotprod tier + `smmla`/`usmmla` (FEAT_I8MM: Cortex-A510/X2 and later, Apple M2).
    I8mm,
}

impl Isa {
    /// Every tier, in order.
    pub const ALL: [Isa; 7] = [
        Isa::Scalar,
        Isa::Avx2,
        Isa::Avx512,
        Isa::Avx512Vnni,
        Isa::Neon,
        Isa::Dotprod,
        Isa::I8mm,
    ];

    /// The tiers this CPU can run ([`Isa::supported`]), [`Isa::Scalar`] first.
    pub fn all_supported() -> Vec<Isa> {
        Isa::ALL.into_iter().filter(|t| t.supported()).collect()
    }

    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512-novnni",
            Isa::Avx512Vnni => "avx512-vnni",
            Isa::Neon => "neon",
            Isa::Dotprod => "dotprod",
            Isa::I8mm => "i8mm",
        }
    }

    /// Parses a `WREN_ISA` value. `avx512` is the best AVX-512 tier this CPU has (VNNI or
    /// not; plain AVX-512 on a CPU without it, so that the request is refused).
    pub fn from_name(s: &str) -> Option<Isa> {
        match s.trim().to_ascii_lowercase().as_str() {
            "scalar" | "none" => Some(Isa::Scalar),
            "avx2" => Some(Isa::Avx2),
            "avx512" | "avx-512" => Some(Isa::detect().max(Isa::Avx512)),
            "avx512-novnni" | "avx512novnni" | "avx512bw" => Some(Isa::Avx512),
            "avx512-vnni" | "avx512vnni" => Some(Isa::Avx512Vnni),
            "neon" | "asimd" => Some(Isa::Neon),
            "dotprod" | "sdot" => Some(Isa::Dotprod),
            "i8mm" | "smmla" => Some(Isa::I8mm),
            _ => None,
        }
    }

    /// The best tier this CPU supports.
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 = std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
                && std::arch::is_x86_feature_detected!("f16c");
            let avx512 = avx2
                && std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512vl");
            if avx512 && std::arch::is_x86_feature_detected!("avx512vnni") {
                return Isa::Avx512Vnni;
            }
            if avx512 {
                return Isa::Avx512;
            }
            if avx2 {
                return Isa::Avx2;
            }
        }
        #[cfg(target_arch = "aarch64")]
        {
            let neon = std::arch::is_aarch64_feature_detected!("neon");
            let dotprod = neon && std::arch::is_aarch64_feature_detected!("dotprod");
            if dotprod && std::arch::is_aarch64_feature_detected!("i8mm") {
                return Isa::I8mm;
            }
            if dotprod {
                return Isa::Dotprod;
            }
            if neon {
                return Isa::Neon;
            }
        }
        Isa::Scalar
    }

    /// The architecture family of a tier: 0 scalar, 1 x86-64, 2 aarch64.
    fn family(self) -> u8 {
        match self {
            Isa::Scalar => 0,
            Isa::Avx2 | Isa::Avx512 | Isa::Avx512Vnni => 1,
            Isa::Neon | Isa::Dotprod | Isa::I8mm => 2,
        }
    }

    /// Whether this CPU can run the tier (scalar, or a tier of this CPU's architecture at
    /// or below the detected one).
    pub fn supported(self) -> bool {
        let best = Isa::detect();
        self == Isa::Scalar || (self.family() == best.family() && self <= best)
    }

    /// `self >= other` within one architecture (false across architectures, so an aarch64
    /// tier never passes an x86 tier test nor the reverse).
    pub fn at_least(self, other: Isa) -> bool {
        self.family() == other.family() && self >= other
    }

    /// Whether this is an aarch64 tier.
    pub fn is_arm(self) -> bool {
        self.family() == 2
    }
}

/// The tier in use for this process (detected once; `WREN_ISA` may lower it).
pub fn isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(|| {
        let best = Isa::detect();
        match std::env::var("WREN_ISA") {
            Ok(v) if !v.is_empty() => match Isa::from_name(&v) {
                Some(want) if want.supported() => want,
                Some(want) => {
                    eprintln!(
                        "wren: WREN_ISA={} is not supported by this CPU; using {}",
                        want.name(),
                        best.name()
                    );
                    best
                }
                None => {
                    eprintln!(
                        "wren: unknown WREN_ISA={v:?} (expected scalar, avx2, avx512, avx512-novnni, neon, dotprod or i8mm); using {}",
                        best.name()
                    );
                    best
                }
            },
            _ => best,
        }
    })
}
