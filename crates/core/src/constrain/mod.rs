//! Constrained decoding: a per-step token mask from a grammar.
//!
//! The grammar engine is [llguidance](https://github.com/guidance-ai/llguidance)
//! (the one llama.cpp, vLLM and SGLang use): JSON schemas, regular expressions and
//! Lark-style context-free grammars, with masks computed lazily over a token trie.
//!
//! - [`GrammarEnv`] ([`env`]): the model's vocabulary as llguidance sees it (each
//!   token's bytes, end-of-generation tokens as EOS), built once per tokenizer and
//!   shared ([`Tokenizer::grammar_env`](crate::tokenizer::Tokenizer::grammar_env)).
//! - [`Grammar`] ([`grammar`]): what the output must match, parsed and checked up
//!   front so that a bad schema or regex is an error before generation starts.
//! - [`Constraint`] ([`constraint`]): one sequence's parser state. The
//!   [`Sampler`](crate::sample::Sampler) owns it: each step it masks the logits,
//!   picks a token, then commits it, so every generation loop gets constraints
//!   without knowing about them.

pub mod constraint;
pub mod env;
pub mod gbnf;
pub mod grammar;

pub use constraint::Constraint;
pub use env::GrammarEnv;
pub use grammar::Grammar;

#[cfg(test)]
mod tests;
