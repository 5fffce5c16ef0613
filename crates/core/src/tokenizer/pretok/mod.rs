//! The pre-tokenizer of byte-level BPE: which regexes split text into words before the
//! merges, chosen by `tokenizer.ggml.pre`, applied the way llama.cpp applies them.
//!
//! llama.cpp (`llm_tokenizer_bpe`, `unicode_regex_split`) runs a *list* of regexes in
//! sequence, each one splitting every piece the previous one produced; text between
//! matches becomes a piece of its own (nothing is dropped). How a regex runs matters
//! for exact equality:
//!
//! - Four patterns (GPT-2's, Llama 3's, Qwen2's, Qwen3.5's) are hand-coded scanners in
//!   llama.cpp; we mirror them ([`scan_gpt2`], [`scan_llama3`]), which is also what makes
//!   the common case fast.
//! - A pattern using `\p{L}`, `\p{N}`, `\p{P}`, `\p{S}`, `\p{M}` (or `\p{Lu}` etc., which
//!   llama.cpp treats as plain `\p{L}`) runs on a *collapsed* text: every non-ASCII
//!   codepoint is replaced by one stand-in per category (whitespace by `\x0B`), and each
//!   `\p{X}` by "the stand-in or the ASCII members of X". So `[A-Za-z]` never matches a
//!   non-ASCII letter and categories come from llama.cpp's Unicode table
//!   ([`super::unicode`]). We use private-use codepoints U+E000.. as stand-ins.
//! - Other patterns run on the text with non-ASCII whitespace replaced by `\x0B` (so
//!   `\s` means ASCII whitespace, as in C++ `std::regex`) and `\d` meaning `[0-9]`.
//!
//! Each regex runs separately on each piece (so `$` and `(?!\S)` see a piece's end as
//! the text's end), with `fancy-regex` for look-around.

use std::ops::Range;

use fancy_regex::Regex;

use super::unicode::{self, Flags};

mod scan;
use super::TokenizerError;
use scan::{scan_each_number, scan_gpt2, scan_llama3, scan_newlines, split_regex, Fragment};

/// llama.cpp's `llama_vocab_pre_type` values wren implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PreType {
    Bailingmoe,
    Bloom,
    Chameleon,
    Chatglm4,
    Codeshell,
    CommandR,
    Dbrx,
    Deepseek3Llm,
    DeepseekCoder,
    DeepseekLlm,
    Default,
    Exaone,
    ExaoneMoe,
    Falcon,
    Gemma4,
    Gpt2,
    Gpt3Finnish,
    Gpt4o,
    GraniteDocling,
    GraniteEmbMulti,
    Grok2,
    Hunyuan,
    HunyuanDense,
    HyV4,
    Jais,
    Jais2,
    JoyaiLlm,
    Laguna,
    Llama3,
    Mellum2,
    Minerva,
    Minicpm5,
    MinimaxM2,
    Mpt,
    Olmo,
    Poro,
    Qwen2,
    Qwen35,
    Refact,
    SarvamMoe,
    SeedCoder,
    Smaug,
    Smollm,
    SolarOpen,
    Spark25,
    Stablelm2,
    Starcoder,
    Superbpe,
    Tekken,
    Trillion,
    Ufakzeka,
    Viking,
    Whitespace,
    Youtu,
}

/// What `tokenizer.ggml.pre` selects besides the regexes (llama.cpp's `load()`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct PreConfig {
    pub pre: PreType,
    /// A whole word that is a vocab token is taken as is, without merging.
    pub ignore_merges: bool,
    /// Overrides the BPE default of not adding BOS (before `tokenizer.ggml.add_bos_token`).
    pub add_bos: Option<bool>,
    /// The BOS id is forced to none (ChatGLM); metadata may set it again.
    pub no_bos: bool,
    /// Words are spelled with GPT-2's byte table (false: raw UTF-8, `<0xXX>` fallback).
    pub byte_encode: bool,
    /// Spaces become `▁` before splitting (SPM-style BPE: Gemma 4, Sarvam).
    pub escape_whitespace: bool,
}

impl PreConfig {
    /// The configuration for `tokenizer.ggml.pre` (missing or empty: `default`).
    pub(crate) fn from_name(name: Option<&str>) -> Result<PreConfig, TokenizerError> {
        use PreType as P;
        let mut c = PreConfig {
            pre: P::Default,
            ignore_merges: false,
            add_bos: None,
            no_bos: false,
            byte_encode: true,
            escape_whitespace: false,
        };
        let name = name.unwrap_or("");
        c.pre = match name {
            "" | "default" => P::Default,
            "minicpm5" => {
                c.ignore_merges = true;
                P::Minicpm5
            }
            "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "falcon-h1" | "pixtral"
            | "midm-2.0" | "lfm2" | "jina-v5-nano" => {
                c.ignore_merges = true;
                c.add_bos = Some(true);
                P::Llama3
            }
            "deepseek-llm" => P::DeepseekLlm,
            "deepseek-coder" => P::DeepseekCoder,
            "deepseek-v3" => P::Deepseek3Llm,
            "spark2_5" => P::Spark25,
            "youtu" => {
                c.ignore_merges = true;
                P::Youtu
            }
            "falcon" => P::Falcon,
            "mpt" => P::Mpt,
            "starcoder" => P::Starcoder,
            "gpt-2" | "phi-2" | "jina-es" | "jina-de" | "gigachat" | "jina-v2-es"
            | "jina-v2-de" | "a.x-4.0" | "mellum" | "modern-bert" | "exaone4" | "jina-v1-en"
            | "jina-v2-code" | "roberta-bpe" => P::Gpt2,
            "jais-2" => P::Jais2,
            "gemma4" | "granite-embed-multi-311m" => {
                c.escape_whitespace = true;
                c.byte_encode = false;
                P::Gemma4
            }
            "sarvam-moe" => {
                c.escape_whitespace = true;
                c.byte_encode = false;
                P::SarvamMoe
            }
            "whitespace" => {
                c.byte_encode = false;
                P::Whitespace
            }
            "refact" => P::Refact,
            "command-r" => P::CommandR,
            "qwen2" | "deepseek-r1-qwen" | "kormo" | "f2llmv2" | "megrez" => P::Qwen2,
            "qwen35" => P::Qwen35,
            "stablelm2" => P::Stablelm2,
            "olmo" => P::Olmo,
            "dbrx" => P::Dbrx,
            "smaug-bpe" => P::Smaug,
            "poro-chat" => P::Poro,
            "chatglm-bpe" => {
                c.no_bos = true;
                P::Chatglm4
            }
            "glm4" | "glm5" => {
                c.no_bos = true;
                c.ignore_merges = true;
                P::Chatglm4
            }
            "viking" => P::Viking,
            "jais" => P::Jais,
            "tekken" => {
                c.ignore_merges = true;
                c.add_bos = Some(true);
                P::Tekken
            }
            "smollm" => P::Smollm,
            "codeshell" => P::Codeshell,
            "bloom" => P::Bloom,
            "gpt3-finnish" => P::Gpt3Finnish,
            "exaone" => P::Exaone,
            "exaone-moe" => P::ExaoneMoe,
            "chameleon" => {
                c.add_bos = Some(true);
                P::Chameleon
            }
            "minerva-7b" => P::Minerva,
            "gpt-4o" | "llama4" | "kanana2" | "talkie" => P::Gpt4o,
            "granite-embed-multi-97m" => {
                c.ignore_merges = true;
                P::GraniteEmbMulti
            }
            "superbpe" => P::Superbpe,
            "trillion" => P::Trillion,
            "granite-docling" => P::GraniteDocling,
            "bailingmoe" | "bailingmoe2" | "llada-moe" => P::Bailingmoe,
            "seed-coder" => P::SeedCoder,
            "hunyuan" => P::Hunyuan,
            "hunyuan-dense" => P::HunyuanDense,
            "hy_v4" => P::HyV4,
            "joyai-llm" => P::JoyaiLlm,
            "ufakzeka" => P::Ufakzeka,
            "grok-2" => P::Grok2,
            "laguna" => P::Laguna,
            "minimax-m2" => P::MinimaxM2,
            "solar-open" => P::SolarOpen,
            "mellum2" => P::Mellum2,
            // llama.cpp splits these with hand-written scanners that wren does not
            // (yet) reproduce; refuse rather than tokenize differently.
            "kimi-k2" | "afmoe" | "tiny_aya" | "cohere2moe" => {
                return Err(TokenizerError::UnsupportedPreTokenizer(name.to_owned()));
            }
            _ => return Err(TokenizerError::UnknownPreTokenizer(name.to_owned())),
        };
        Ok(c)
    }
}

/// Every `tokenizer.ggml.pre` value wren accepts (for tests and messages).
#[cfg(test)]
pub(crate) const ALL_NAMES: &[&str] = &[
    "default",
    "minicpm5",
    "llama3",
    "llama-v3",
    "llama-bpe",
    "falcon3",
    "falcon-h1",
    "pixtral",
    "midm-2.0",
    "lfm2",
    "jina-v5-nano",
    "deepseek-llm",
    "deepseek-coder",
    "deepseek-v3",
    "spark2_5",
    "youtu",
    "falcon",
    "mpt",
    "starcoder",
    "gpt-2",
    "phi-2",
    "jina-es",
    "jina-de",
    "gigachat",
    "jina-v2-es",
    "jina-v2-de",
    "a.x-4.0",
    "mellum",
    "modern-bert",
    "exaone4",
    "jina-v1-en",
    "jina-v2-code",
    "roberta-bpe",
    "jais-2",
    "gemma4",
    "granite-embed-multi-311m",
    "sarvam-moe",
    "whitespace",
    "refact",
    "command-r",
    "qwen2",
    "deepseek-r1-qwen",
    "kormo",
    "f2llmv2",
    "megrez",
    "qwen35",
    "stablelm2",
    "olmo",
    "dbrx",
    "smaug-bpe",
    "poro-chat",
    "chatglm-bpe",
    "glm4",
    "glm5",
    "viking",
    "jais",
    "tekken",
    "smollm",
    "codeshell",
    "bloom",
    "gpt3-finnish",
    "exaone",
    "exaone-moe",
    "chameleon",
    "minerva-7b",
    "gpt-4o",
    "llama4",
    "kanana2",
    "talkie",
    "granite-embed-multi-97m",
    "superbpe",
    "trillion",
    "granite-docling",
    "bailingmoe",
    "bailingmoe2",
    "llada-moe",
    "seed-coder",
    "hunyuan",
    "hunyuan-dense",
    "hy_v4",
    "joyai-llm",
    "ufakzeka",
    "grok-2",
    "laguna",
    "minimax-m2",
    "solar-open",
    "mellum2",
];

/// The regexes of a pre-tokenizer type, in order (llama.cpp's table, verbatim).
fn regexes(pre: PreType) -> &'static [&'static str] {
    match pre {
        PreType::Llama3 => &[
            "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
        ],
        PreType::Jais2 => &[
            "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s{512}(?!\\S)|\\s{256}(?!\\S)|\\s{128}(?!\\S)|\\s{64}(?!\\S)|\\s{32}(?!\\S)|\\s{16}(?!\\S)|\\s{8}(?!\\S)|\\s{4}(?!\\S)|\\s{1,2}(?!\\S)|\\s{1}",
        ],
        PreType::Dbrx | PreType::Smaug => &[
            "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
        ],
        PreType::DeepseekLlm => &[
            "[\r\n]",
            "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
            "\\s?[!-/:-~！-／：-～‘-‟　-。]+",
            "\\s+$",
            "[一-龥ࠀ-一가-퟿]+",
            "\\p{N}+",
        ],
        PreType::Deepseek3Llm | PreType::HunyuanDense | PreType::JoyaiLlm | PreType::HyV4 => &[
            "\\p{N}{1,3}",
            "[一-龥぀-ゟ゠-ヿ]+",
            "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
        ],
        PreType::Spark25 => &[
            "\\p{N}{1,3}",
            "[一-龥぀-ゟ゠-ヿ]+",
            "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+|[\r\n]|\\s+(?!\\S)|\\s+",
            "\\p{N}",
        ],
        PreType::Youtu => &[
            "[가-힣ㄱ-ㆎ]+|[！…“”‘’—：；，、-〿︰-﹏]+|[ㄅ-ㄯ]+|[一-龥぀-ゟ゠-ヿ]+",
            "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
        ],
        PreType::DeepseekCoder => &[
            "[\r\n]",
            "\\s?\\p{L}+",
            "\\s?\\p{P}+",
            "[一-龥ࠀ-一가-퟿]+",
            "\\p{N}",
        ],
        PreType::Falcon => &[
            "[\\p{P}\\$\\+<=>\\^~\\|`]+",
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
            "[0-9][0-9][0-9]",
        ],
        PreType::Starcoder | PreType::Refact | PreType::CommandR | PreType::Smollm | PreType::Codeshell | PreType::Exaone | PreType::Minerva | PreType::Mellum2 => &[
            "\\p{N}",
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
        ],
        PreType::Gpt2 | PreType::Mpt | PreType::Olmo | PreType::Jais | PreType::Trillion | PreType::GraniteDocling => &[
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
        ],
        PreType::Stablelm2 | PreType::Qwen2 | PreType::Hunyuan | PreType::SolarOpen => &[
            "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
        ],
        PreType::Qwen35 => &[
            "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
        ],
        PreType::Poro | PreType::Bloom | PreType::Gpt3Finnish => &[
            " ?[^(\\s|.,!?…。，、।۔،)]+",
        ],
        PreType::Chatglm4 => &[
            "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
        ],
        PreType::Viking => &[
            " ?[^(\\s|.,!?…。，、।۔،)]+",
            "\\p{N}",
        ],
        PreType::Tekken => &[
            "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
        ],
        PreType::Chameleon => &[
            "<sentinel:[0-9]+>",
            "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z",
            "([\\t\\n]|    |  )",
            "\\p{N}",
            "[\\p{P}!-/:-@\\[-`{-~]",
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
        ],
        PreType::Gpt4o | PreType::MinimaxM2 => &[
            "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
        ],
        PreType::GraniteEmbMulti => &[
            "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}\\p{M}])([^a-z]))*((?=[\\p{L}\\p{M}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}\\p{M}])([^a-z]))+((?=[\\p{L}\\p{M}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
        ],
                PreType::Superbpe => &[
            "\\p{N}+",
            "(?=(\\d{3})+(?!\\d))",
        ],
        PreType::Bailingmoe => &[
            "'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+",
        ],
        PreType::SeedCoder => &[
            "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
        ],
        PreType::Ufakzeka => &[
            "[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
        ],
        PreType::Grok2 => &[
            "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
        ],
        PreType::Laguna => &[
            "[^\\n]+|[\\n]+",
            "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
        ],
        PreType::ExaoneMoe => &[
            "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?(?:\\p{L}\\p{M}*(?: \\p{L}\\p{M}*)*)+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]?|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+",
        ],
        PreType::Gemma4 => &[
            "[^\\n]+|[\\n]+",
        ],
        PreType::SarvamMoe => &[
            "[^\\n]+|[\\n]+",
        ],
        PreType::Minicpm5 => &[
            "\\p{N}{1,3}",
            "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}+| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
        ],
        PreType::Whitespace => &[
            "\\S+",
        ],
        PreType::Default => &[
            "[\\p{P}\\$\\+<=>\\^~\\|]+",
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
            "\\p{N}+",
            "[0-9][0-9][0-9]",
        ],
    }
}

const GPT2: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";
const LLAMA3: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN35: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const NEWLINES: &str = r"[^\n]+|[\n]+";

/// One splitting step.
enum Step {
    /// GPT-2's pattern, hand-coded.
    Gpt2,
    /// Llama 3's family, hand-coded: digits per group (3, or 1 for Qwen), and whether
    /// marks join letters (Qwen3.5).
    Llama3 { max_digits: usize, marks: bool },
    /// Runs of newlines and runs of anything else.
    Newlines,
    /// `\p{N}`: every number codepoint is a word of its own.
    EachNumber,
    /// A regex on the collapsed (`true`) or whitespace-normalized text.
    Regex { re: Box<Regex>, collapsed: bool },
}

/// The compiled pre-tokenizer.
pub(crate) struct PreTokenizer {
    steps: Vec<Step>,
}

/// Private-use stand-ins for non-ASCII codepoints of each category in collapsed text.
const STAND_IN_OTHER: char = '\u{E000}';
fn stand_in(cat: u16) -> char {
    match cat {
        unicode::NUMBER => '\u{E001}',
        unicode::LETTER => '\u{E002}',
        unicode::PUNCT => '\u{E003}',
        unicode::MARK => '\u{E004}',
        unicode::SYMBOL => '\u{E005}',
        _ => STAND_IN_OTHER,
    }
}

/// `\p{..}` names llama.cpp collapses, with their category and ASCII members (as the
/// inside of a regex class).
fn category(name: &str) -> Option<(u16, &'static str)> {
    let n = r"0-9";
    let l = r"A-Za-z";
    let p = r"!-#%-*,-/:-;?-@\[-\]_\{\}";
    let s = r"\$\+<->\^`\|~";
    Some(match name {
        "N" => (unicode::NUMBER, n),
        "L" | "Lu" | "Ll" | "Lt" | "Lm" | "Lo" => (unicode::LETTER, l),
        "P" => (unicode::PUNCT, p),
        "M" => (unicode::MARK, ""),
        "S" => (unicode::SYMBOL, s),
        _ => return None,
    })
}

/// Whether a pattern uses a category llama.cpp collapses.
fn uses_categories(pattern: &str) -> bool {
    ["N", "L", "P", "M", "S", "Lu", "Ll", "Lt", "Lm", "Lo"]
        .iter()
        .any(|c| pattern.contains(&format!(r"\p{{{c}}}")))
}

/// Rewrites a pattern for the text it runs on: `\p{X}` as stand-in plus ASCII members
/// (collapsed only), `\d` as `[0-9]`.
fn translate(pattern: &str, collapsed: bool) -> Result<String, TokenizerError> {
    let bad = |message: String| TokenizerError::Regex {
        pattern: pattern.to_owned(),
        message,
    };
    let mut out = String::with_capacity(pattern.len() * 2);
    let mut in_class = false;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(e) = chars.next() else {
                    return Err(bad("trailing backslash".into()));
                };
                if e == 'p' && collapsed {
                    if chars.next() != Some('{') {
                        return Err(bad(r"\p without {".into()));
                    }
                    let mut name = String::new();
                    for c in chars.by_ref() {
                        if c == '}' {
                            break;
                        }
                        name.push(c);
                    }
                    let (cat, ascii) = category(&name)
                        .ok_or_else(|| bad(format!(r"unsupported class \p{{{name}}}")))?;
                    if !in_class {
                        out.push('[');
                    }
                    out.push(stand_in(cat));
                    out.push_str(ascii);
                    if !in_class {
                        out.push(']');
                    }
                } else if e == 'd' {
                    out.push_str(if in_class { "0-9" } else { "[0-9]" });
                } else {
                    out.push('\\');
                    out.push(e);
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // A leading `]` or `^]` is literal in a class.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '[' => out.push_str(r"\["),
            // Rust classes treat `&&`, `--` and `~~` as set operations; C++ does not.
            '&' | '-' | '~' if in_class && chars.peek() == Some(&c) => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    Ok(out)
}

impl PreTokenizer {
    pub(crate) fn new(pre: PreType) -> Result<PreTokenizer, TokenizerError> {
        let mut steps = Vec::new();
        for &pattern in regexes(pre) {
            let step = match pattern {
                GPT2 => Step::Gpt2,
                LLAMA3 => Step::Llama3 {
                    max_digits: 3,
                    marks: false,
                },
                QWEN2 => Step::Llama3 {
                    max_digits: 1,
                    marks: false,
                },
                QWEN35 => Step::Llama3 {
                    max_digits: 1,
                    marks: true,
                },
                NEWLINES => Step::Newlines,
                r"\p{N}" => Step::EachNumber,
                _ => {
                    let collapsed = uses_categories(pattern);
                    let translated = translate(pattern, collapsed)?;
                    let re = fancy_regex::RegexBuilder::new(&translated)
                        .backtrack_limit(usize::MAX)
                        .build()
                        .map_err(|e| TokenizerError::Regex {
                            pattern: pattern.to_owned(),
                            message: e.to_string(),
                        })?;
                    Step::Regex {
                        re: Box::new(re),
                        collapsed,
                    }
                }
            };
            steps.push(step);
        }
        Ok(PreTokenizer { steps })
    }

    /// Splits `text` into words, appending their byte ranges to `out` (in order,
    /// covering the text; no empty ranges).
    pub(crate) fn split(&self, text: &str, s: &mut Scratch, out: &mut Vec<Range<usize>>) {
        s.chars.clear();
        s.flags.clear();
        s.byte_off.clear();
        for (i, c) in text.char_indices() {
            s.chars.push(c);
            s.flags.push(unicode::flags(c));
            s.byte_off.push(i);
        }
        s.byte_off.push(text.len());
        let n = s.chars.len();
        s.ends.clear();
        s.ends.push(n);
        for step in &self.steps {
            s.next.clear();
            let mut start = 0;
            for k in 0..s.ends.len() {
                let end = s.ends[k];
                let frag = Fragment {
                    chars: &s.chars,
                    flags: &s.flags,
                    lo: start,
                    hi: end,
                };
                match step {
                    Step::Gpt2 => scan_gpt2(&frag, &mut s.next),
                    Step::Llama3 { max_digits, marks } => {
                        scan_llama3(&frag, *max_digits, *marks, &mut s.next)
                    }
                    Step::Newlines => scan_newlines(&frag, &mut s.next),
                    Step::EachNumber => scan_each_number(&frag, &mut s.next),
                    Step::Regex { re, collapsed } => {
                        split_regex(&frag, re, *collapsed, &mut s.buf, &mut s.map, &mut s.next)
                    }
                }
                start = end;
            }
            std::mem::swap(&mut s.ends, &mut s.next);
        }
        let mut start = 0;
        for &end in &s.ends {
            if end > start {
                out.push(s.byte_off[start]..s.byte_off[end]);
            }
            start = end;
        }
    }
}

/// Buffers reused across calls.
#[derive(Default)]
pub(crate) struct Scratch {
    chars: Vec<char>,
    flags: Vec<Flags>,
    byte_off: Vec<usize>,
    ends: Vec<usize>,
    next: Vec<usize>,
    buf: String,
    map: Vec<u32>,
}
