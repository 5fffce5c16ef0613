//! What a constrained output must match.

use llguidance::api::TopLevelGrammar;
use llguidance::JsonCompileOptions;
use serde_json::Value;

/// A grammar for [`GrammarEnv::constraint`](super::GrammarEnv::constraint).
#[derive(Clone, Debug, PartialEq)]
pub enum Grammar {
    /// Any JSON object (OpenAI's `response_format: {"type": "json_object"}`).
    JsonObject,
    /// JSON matching a JSON Schema (llguidance's supported subset: types, properties,
    /// required, enum/const, anyOf/oneOf/allOf, $ref/$defs, items, min/max lengths and
    /// values, patterns, formats; unsupported keywords are an error).
    JsonSchema(Value),
    /// A regular expression (Rust `regex` syntax) the whole output must match.
    Regex(String),
    /// A grammar in llguidance's Lark syntax (GBNF is translated to it first) (`start: ...`, rules, `/regex/`
    /// terminals, `%json {...}` for embedded schemas).
    Lark(String),
}

impl Grammar {
    /// A short name for messages: "JSON schema", "regex", ...
    pub fn kind(&self) -> &'static str {
        match self {
            Grammar::JsonObject => "json_object grammar",
            Grammar::JsonSchema(_) => "JSON schema",
            Grammar::Regex(_) => "regex",
            Grammar::Lark(_) => "grammar",
        }
    }

    /// Reads a grammar file's text: llguidance's Lark syntax, or GBNF (llama.cpp's
    /// format, recognised by `::=`), which is translated to Lark ([`super::gbnf`]).
    pub fn from_grammar_text(text: &str) -> Result<Grammar, String> {
        if text.trim().is_empty() {
            return Err("the grammar is empty".into());
        }
        let gbnf = text
            .lines()
            .map(str::trim_start)
            .any(|l| !l.starts_with('#') && l.contains("::="));
        if gbnf {
            return super::gbnf::to_lark(text)
                .map(Grammar::Lark)
                .map_err(|e| format!("GBNF grammar: {e}"));
        }
        Ok(Grammar::Lark(text.to_string()))
    }

    pub(crate) fn to_llg(&self) -> TopLevelGrammar {
        match self {
            Grammar::JsonObject => {
                TopLevelGrammar::from_json_schema(compact(serde_json::json!({"type": "object"})))
            }
            Grammar::JsonSchema(v) => TopLevelGrammar::from_json_schema(compact(v.clone())),
            Grammar::Regex(rx) => TopLevelGrammar::from_regex(rx),
            Grammar::Lark(g) => TopLevelGrammar::from_lark(g.clone()),
        }
    }
}

/// JSON output layout: one line, `", "` between items and `": "` after keys (the
/// layout models see most), no free whitespace elsewhere. Flexible whitespace lets a
/// small model pad with newlines forever; a schema that sets `x-guidance` itself keeps
/// its own options.
pub fn compact(mut schema: Value) -> Value {
    if let Some(o) = schema.as_object() {
        if !o.contains_key("x-guidance") {
            let opts = JsonCompileOptions {
                item_separator: ", ".into(),
                key_separator: ": ".into(),
                whitespace_flexible: false,
                ..JsonCompileOptions::default()
            };
            opts.apply_to(&mut schema);
        }
    }
    schema
}
