//! Instruction-set tiers and run-time dispatch.
//!
//! The tier is decided once per process from the CPU's reported features. The
//! `WREN_ISA=scalar|avx2|avx512` environment variable forces a lower tier, so one machine
//! can exercise every kernel set (a tier the CPU lacks is refused with a warning).

use std::sync::OnceLock;

#[cfg(target_arch = "x86_64")]
pub mod x86_64;

/// A kernel tier. Ordered: a higher tier implies the lower ones are available.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    Scalar,
    /// AVX2 + FMA + F16C.
    Avx2,
    /// AVX-512 F/BW/VL (+ AVX2 tier).
    Avx512,
}

impl Isa {
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    pub fn from_name(s: &str) -> Option<Isa> {
        match s.trim().to_ascii_lowercase().as_str() {
            "scalar" | "none" => Some(Isa::Scalar),
            "avx2" => Some(Isa::Avx2),
            "avx512" | "avx-512" => Some(Isa::Avx512),
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
            if avx512 {
                return Isa::Avx512;
            }
            if avx2 {
                return Isa::Avx2;
            }
        }
        Isa::Scalar
    }

    /// Whether this CPU can run the tier.
    pub fn supported(self) -> bool {
        self <= Isa::detect()
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
                        "wren: unknown WREN_ISA={v:?} (expected scalar, avx2 or avx512); using {}",
                        best.name()
                    );
                    best
                }
            },
            _ => best,
        }
    })
}
