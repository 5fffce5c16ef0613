//! `general.file_type` → llama.cpp's quantization name (`enum llama_ftype`, LLAMA_FTYPE_*).

/// The name llama.cpp gives `general.file_type` value `ft` (`15` → `Q4_K_M`).
pub fn name(ft: u64) -> Option<&'static str> {
    Some(match ft {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        36 => "TQ1_0",
        37 => "TQ2_0",
        38 => "MXFP4_MOE",
        _ => return None,
    })
}

/// The quantization of `f` as text: its llama.cpp name, `file_type N` for an unknown
/// value, or `unknown` when the key is absent.
pub fn describe(f: &wren_gguf::GgufFile) -> String {
    match f.get("general.file_type").and_then(|v| v.as_u64()) {
        Some(ft) => name(ft).map_or_else(|| format!("file_type {ft}"), str::to_string),
        None => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_names() {
        assert_eq!(super::name(15), Some("Q4_K_M"));
        assert_eq!(super::name(3), Some("Q4_1"));
        assert_eq!(super::name(1), Some("F16"));
        assert_eq!(super::name(4), None);
    }
}
