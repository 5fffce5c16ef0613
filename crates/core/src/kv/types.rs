//! Element types of the KV cache.

use wren_kernels::GgmlType;

use crate::error::{Error, Result};

/// How keys and values are stored: one row of `head_dim` elements per position and KV
/// head, in a ggml format (so the kernels' (de)quantizers and dot products apply).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KvType {
    /// 4 bytes per element: exact, for reference runs and tests.
    F32,
    /// 2 bytes per element (IEEE half, round to nearest even), as llama.cpp stores K/V.
    #[default]
    F16,
    /// 34 bytes per 32 elements: 8-bit quants with one f16 scale per block.
    Q8_0,
    /// 18 bytes per 32 elements: 4-bit quants with one f16 scale per block.
    Q4_0,
}

impl KvType {
    pub const ALL: [KvType; 4] = [KvType::F32, KvType::F16, KvType::Q8_0, KvType::Q4_0];

    pub fn name(self) -> &'static str {
        match self {
            KvType::F32 => "f32",
            KvType::F16 => "f16",
            KvType::Q8_0 => "q8_0",
            KvType::Q4_0 => "q4_0",
        }
    }

    /// Parses `f32`, `f16`, `q8_0` or `q4_0` (case-insensitive; `q8`/`q4` accepted).
    pub fn from_name(s: &str) -> Result<KvType> {
        match s.trim().to_ascii_lowercase().as_str() {
            "f32" => Ok(KvType::F32),
            "f16" => Ok(KvType::F16),
            "q8_0" | "q8" => Ok(KvType::Q8_0),
            "q4_0" | "q4" => Ok(KvType::Q4_0),
            _ => Err(Error::Invalid(format!(
                "unknown KV cache type {s:?} (expected one of: {})",
                KvType::ALL.map(KvType::name).join(", ")
            ))),
        }
    }

    pub fn ggml(self) -> GgmlType {
        match self {
            KvType::F32 => GgmlType::F32,
            KvType::F16 => GgmlType::F16,
            KvType::Q8_0 => GgmlType::Q8_0,
            KvType::Q4_0 => GgmlType::Q4_0,
        }
    }

    /// Bytes of one row of `n` elements, or an error naming the constraint (the 8- and
    /// 4-bit types need whole 32-element blocks).
    pub fn row_bytes(self, n: usize) -> Result<usize> {
        self.ggml()
            .row_bytes(n as u64)
            .map(|b| b as usize)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "KV cache type {} needs a head size that is a multiple of {} (this model's is {n})",
                    self.name(),
                    self.ggml().block_size()
                ))
            })
    }
}

impl std::fmt::Display for KvType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for KvType {
    type Err = Error;
    fn from_str(s: &str) -> Result<KvType> {
        KvType::from_name(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bad_names_list_the_valid_ones() {
        for t in KvType::ALL {
            assert_eq!(KvType::from_name(t.name()).unwrap(), t);
            assert_eq!(t.name().parse::<KvType>().unwrap(), t);
        }
        assert_eq!(KvType::from_name("Q8_0").unwrap(), KvType::Q8_0);
        let e = KvType::from_name("q3").unwrap_err().to_string();
        assert!(e.contains("\"q3\"") && e.contains("f16, q8_0, q4_0"), "{e}");
    }

    #[test]
    fn row_sizes() {
        assert_eq!(KvType::F32.row_bytes(256).unwrap(), 1024);
        assert_eq!(KvType::F16.row_bytes(256).unwrap(), 512);
        assert_eq!(KvType::Q8_0.row_bytes(256).unwrap(), 272);
        assert_eq!(KvType::Q4_0.row_bytes(256).unwrap(), 144);
        assert!(KvType::Q8_0.row_bytes(100).is_err());
        assert_eq!(KvType::F16.row_bytes(100).unwrap(), 200);
    }
}
