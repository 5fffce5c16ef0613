//! `response_format` and `logit_bias`: request fields that shape the output.

use wren_core::constrain::{Constraint, Grammar};

use super::tools::Tools;
use super::types::GenBody;
use crate::error::ApiError;
use crate::AppState;

/// OpenAI's rule for schema and function names.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The grammar `response_format` asks for (`None` for text or when absent).
pub fn response_grammar(c: &GenBody) -> Result<Option<Grammar>, ApiError> {
    let Some(rf) = &c.response_format else {
        return Ok(None);
    };
    match (rf.kind.as_str(), &rf.json_schema) {
        ("text", None) => Ok(None),
        ("json_object", None) => Ok(Some(Grammar::JsonObject)),
        ("json_schema", Some(f)) => {
            if !valid_name(&f.name) {
                return Err(ApiError::invalid_param(
                    "response_format.json_schema.name",
                    format!(
                        "invalid schema name {:?}: use 1 to 64 ASCII letters, digits, '_' or '-'",
                        f.name
                    ),
                ));
            }
            match &f.schema {
                None => Ok(Some(Grammar::JsonObject)),
                Some(s) if s.is_object() || s.is_boolean() => {
                    Ok(Some(Grammar::JsonSchema(s.clone())))
                }
                Some(_) => Err(ApiError::invalid_param(
                    "response_format.json_schema.schema",
                    "the schema must be a JSON Schema object",
                )),
            }
        }
        ("json_schema", None) => Err(ApiError::invalid_param(
            "response_format.json_schema",
            "missing field `response_format.json_schema` (with type \"json_schema\")",
        )),
        ("text" | "json_object", Some(_)) => Err(ApiError::invalid_param(
            "response_format.json_schema",
            format!("json_schema goes with type \"json_schema\", not {:?}", rf.kind),
        )),
        (other, _) => Err(ApiError::invalid_param(
            "response_format.type",
            format!(
                "unknown response_format type {other:?}: use \"text\", \"json_object\" or \"json_schema\""
            ),
        )),
    }
}

/// Compiles `grammar` for the model off the async threads; a schema or grammar that
/// does not compile is a 400 on `param`.
pub async fn constraint(
    state: &AppState,
    grammar: Option<Grammar>,
    param: &str,
) -> Result<Option<Constraint>, ApiError> {
    let Some(g) = grammar else {
        return Ok(None);
    };
    let r = crate::offload::run(state, move |e| e.constraint(&g)).await?;
    r.map(Some)
        .map_err(|e| ApiError::invalid_param(param, e.to_string()))
}

/// Compiles the grammar of `tools`; when it fails, finds the tool whose parameters
/// schema is at fault and names it (`tools[1].function.parameters`).
pub async fn tools_constraint(state: &AppState, tools: &Tools) -> Result<Constraint, ApiError> {
    let g = tools.grammar();
    let whole = match crate::offload::run(state, move |e| e.constraint(&g)).await? {
        Ok(c) => return Ok(c),
        Err(e) => e,
    };
    for (i, f) in tools.functions.iter().enumerate() {
        if let Some(p) = &f.parameters {
            let param = format!("tools[{i}].function.parameters");
            constraint(state, Some(Grammar::JsonSchema(p.clone())), &param).await?;
        }
    }
    Err(ApiError::invalid_param("tools", whole.to_string()))
}

/// `logit_bias` as `(id, bias)` pairs: keys are token ids (as strings) inside the
/// vocabulary, values in [-100, 100].
pub fn logit_bias(c: &GenBody, vocab: usize) -> Result<Vec<(u32, f32)>, ApiError> {
    let Some(map) = &c.logit_bias else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(map.len());
    for (k, &v) in map {
        let param = format!("logit_bias.{k}");
        let id: u32 = k.trim().parse().map_err(|_| {
            ApiError::invalid_param(&param, format!("logit_bias keys are token ids, got {k:?}"))
        })?;
        if id as usize >= vocab {
            return Err(ApiError::invalid_param(
                &param,
                format!("token id {id} is outside the vocabulary ({vocab} tokens)"),
            ));
        }
        if !(-100.0..=100.0).contains(&v) {
            return Err(ApiError::invalid_param(
                &param,
                format!("logit_bias values must be between -100 and 100, got {v}"),
            ));
        }
        out.push((id, v));
    }
    Ok(out)
}
