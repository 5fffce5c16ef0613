//! Which request fields each endpoint takes: the OpenAI fields wren does not implement
//! (and the other endpoint's fields) are refused with a 400 naming them, never ignored.
//! Unknown fields never get this far (`GenBody` denies them while parsing).

use super::types::GenBody;
use crate::error::ApiError;
use crate::metrics::Endpoint;

fn refuse(field: &str, why: &str) -> ApiError {
    ApiError::invalid_param(field, format!("`{field}` is not supported: {why}"))
}

/// Checks the fields that are defined but refused, or valid only on the other endpoint.
pub fn check(c: &GenBody, endpoint: Endpoint) -> Result<(), ApiError> {
    let chat = endpoint == Endpoint::Chat;
    let present =
        |v: bool, field: &str, why: &str| if v { Err(refuse(field, why)) } else { Ok(()) };
    present(c.audio.is_some(), "audio", "wren generates text only")?;
    present(
        c.prediction.is_some(),
        "prediction",
        "predicted outputs are not implemented",
    )?;
    present(
        c.reasoning_effort.is_some(),
        "reasoning_effort",
        "the served model has no reasoning-effort control",
    )?;
    present(
        c.verbosity.is_some(),
        "verbosity",
        "the served model has no verbosity control",
    )?;
    present(
        c.web_search_options.is_some(),
        "web_search_options",
        "wren cannot search the web",
    )?;
    present(
        c.functions.is_some(),
        "functions",
        "the deprecated `functions` API is not implemented; use `tools`",
    )?;
    present(
        c.function_call.is_some(),
        "function_call",
        "the deprecated `function_call` is not implemented; use `tool_choice`",
    )?;
    if let Some(m) = &c.modalities {
        if m.iter().any(|x| x != "text") {
            return Err(refuse(
                "modalities",
                "wren generates text only (modalities: [\"text\"])",
            ));
        }
    }
    if c.store == Some(true) {
        return Err(refuse(
            "store",
            "wren stores no completions (store must be false)",
        ));
    }
    if chat {
        let only_completions = [
            (c.echo.is_some(), "echo"),
            (c.suffix.is_some(), "suffix"),
            (c.best_of.is_some(), "best_of"),
            (c.prompt.is_some(), "prompt"),
        ];
        for (set, field) in only_completions {
            present(
                set,
                field,
                "it belongs to /v1/completions, not /v1/chat/completions",
            )?;
        }
    } else {
        let only_chat = [
            (c.messages.is_some(), "messages"),
            (c.tools.is_some(), "tools"),
            (c.tool_choice.is_some(), "tool_choice"),
            (c.parallel_tool_calls.is_some(), "parallel_tool_calls"),
            (c.top_logprobs.is_some(), "top_logprobs"),
            (c.max_completion_tokens.is_some(), "max_completion_tokens"),
            (c.modalities.is_some(), "modalities"),
        ];
        for (set, field) in only_chat {
            present(
                set,
                field,
                "it belongs to /v1/chat/completions, not /v1/completions",
            )?;
        }
        if c.suffix.as_ref().is_some_and(|s| !s.is_null() && s != "") {
            return Err(refuse("suffix", "fill-in-the-middle is not implemented"));
        }
        if let Some(b) = c.best_of.filter(|&b| b != 1) {
            return Err(ApiError::invalid_param(
                "best_of",
                format!("best_of = {b} is not supported: wren generates one candidate (best_of must be 1)"),
            ));
        }
    }
    Ok(())
}
