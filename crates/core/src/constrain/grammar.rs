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
    // The schema `true` (anything) is `{}`, which takes the options.
    if schema == Value::Bool(true) {
        schema = Value::Object(Default::default());
    }
    tighten_exclusive_bounds(&mut schema);
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

/// Works around llguidance 1.9's number ranges, which admit an excluded whole-number
/// bound when both bounds have the same integer part (`exclusiveMinimum: 0` with
/// `maximum: 0.5` let `0` through): such a bound becomes an inclusive one a little
/// inside the range, which leaves out only numbers closer to the bound than that.
fn tighten_exclusive_bounds(v: &mut Value) {
    match v {
        Value::Object(o) => {
            let num =
                |k: &str, o: &serde_json::Map<String, Value>| o.get(k).and_then(Value::as_f64);
            let lower = num("exclusiveMinimum", o);
            let upper = num("maximum", o)
                .into_iter()
                .chain(num("exclusiveMaximum", o))
                .reduce(f64::min);
            let lower_in = num("minimum", o);
            let low = lower.into_iter().chain(lower_in).reduce(f64::max);
            if let (Some(l), Some(u)) = (lower, upper) {
                // A whole, non-negative bound with the upper bound below the next integer.
                if l.fract() == 0.0 && l >= 0.0 && u < l + 1.0 && u > l && Some(l) == low {
                    let step = ((u - l) / 1024.0).min(1e-9);
                    o.remove("exclusiveMinimum");
                    o.insert("minimum".into(), Value::from(l + step));
                }
            }
            let upper_ex = num("exclusiveMaximum", o);
            let high = upper_ex
                .into_iter()
                .chain(num("maximum", o))
                .reduce(f64::min);
            let low = num("exclusiveMinimum", o)
                .into_iter()
                .chain(num("minimum", o))
                .reduce(f64::max);
            if let (Some(u), Some(l)) = (upper_ex, low) {
                // The same, mirrored below zero.
                if u.fract() == 0.0 && u <= 0.0 && l > u - 1.0 && l < u && Some(u) == high {
                    let step = ((u - l) / 1024.0).min(1e-9);
                    o.remove("exclusiveMaximum");
                    o.insert("maximum".into(), Value::from(u - step));
                }
            }
            for (k, v) in o.iter_mut() {
                if !matches!(k.as_str(), "const" | "enum" | "default" | "examples") {
                    tighten_exclusive_bounds(v);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(tighten_exclusive_bounds),
        _ => {}
    }
}
