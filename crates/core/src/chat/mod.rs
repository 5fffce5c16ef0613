//! Chat templates: turning a list of messages into the prompt text a model
//! was trained on.
//!
//! A [`ChatTemplate`] renders the model's own Jinja template
//! (`tokenizer.chat_template` in the GGUF) the way Hugging Face
//! `transformers` does, or — when the file has none — a built-in format
//! chosen by architecture (see [`fallback`]).
//!
//! The rendered text contains the template's control tokens (`<bos>`,
//! `<start_of_turn>` …) as text, so it must be tokenized with special-token
//! parsing on. Message contents must *not* be, or a user could inject
//! control tokens: use [`ChatTemplate::render_segments`], which keeps the
//! two apart. If the template emits the BOS token, the rendered text already
//! starts with it; do not add another.

pub mod fallback;
pub mod template;
pub mod tool_syntax;

pub use tool_syntax::ToolSyntax;

use serde::{Deserialize, Serialize};

/// One chat message, as Hugging Face templates read it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant`, `tool` … (ASCII letters, digits, `_`
    /// and `-` only; anything else is rejected when rendering).
    pub role: String,
    /// The message text.
    pub content: String,
    /// An assistant message's tool calls (templates that know tools render them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// A `tool` message: the id of the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

/// A tool call in a message, shaped as `transformers` passes it to templates:
/// `{"id", "type": "function", "function": {"name", "arguments"}}`, with the
/// arguments as a JSON object (templates apply `tojson` to them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub function: FunctionCall,
}

/// The function part of a [`ToolCall`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    pub name: String,
    pub arguments: serde_json::Value,
}

impl ChatMessage {
    /// A message with the given role and content.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        ChatMessage {
            role: role.into(),
            content: content.into(),
            tool_calls: None,
            tool_call_id: None,
        }
    }

    /// The same message with its content replaced (tool calls and ids kept).
    fn with_content(&self, content: String) -> Self {
        ChatMessage {
            content,
            ..self.clone()
        }
    }
}

/// Errors from compiling or rendering a chat template.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    /// The template source does not compile.
    #[error("chat template does not compile: {0}")]
    Syntax(String),
    /// The template called `raise_exception(msg)` (e.g. roles that do not
    /// alternate); holds `msg`.
    #[error("chat template rejected the conversation: {0}")]
    Raised(String),
    /// Any other rendering failure.
    #[error("chat template failed to render: {0}")]
    Render(String),
    /// A message role with characters other than ASCII letters, digits, `_`
    /// or `-` (roles are emitted as template text, so they must be inert).
    #[error("invalid message role {0:?}: use ASCII letters, digits, '_' or '-'")]
    InvalidRole(String),
    /// The template transforms message contents in a way that
    /// [`ChatTemplate::render_segments`] cannot track (e.g. `| upper`).
    #[error("cannot separate message contents from template text: {0}")]
    Segments(String),
}

/// Where the template in use comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemplateSource {
    /// The model file's own `tokenizer.chat_template`.
    FromModel,
    /// A built-in format, by name: `"gemma"`, `"chatml"`, `"llama3"` or
    /// `"plain"`.
    Builtin(&'static str),
}

/// A piece of a rendered prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// Template text: tokenize with special-token parsing on.
    Template(String),
    /// (Possibly trimmed) message content: tokenize as plain text.
    Content(String),
}

impl Segment {
    /// The tokens of a rendered prompt (no BOS added): control tokens come from the
    /// template only, never from message content, and the text around them is tokenized
    /// as one across segments, as the whole prompt would be
    /// ([`Tokenizer::encode_parts`]).
    pub fn encode(tok: &crate::tokenizer::Tokenizer, segs: &[Segment], out: &mut Vec<u32>) {
        let parts: Vec<(&str, bool)> = segs
            .iter()
            .map(|s| match s {
                Segment::Template(t) => (t.as_str(), true),
                Segment::Content(c) => (c.as_str(), false),
            })
            .collect();
        tok.encode_parts(&parts, out);
    }
}

/// A compiled chat template.
#[derive(Clone, Debug)]
pub struct ChatTemplate {
    env: minijinja::Environment<'static>,
    source: TemplateSource,
    description: String,
    bos_token: String,
    eos_token: String,
    stop_strings: Vec<String>,
    tool_syntax: Option<ToolSyntax>,
}

/// Name of the single template inside the environment.
const NAME: &str = "chat";

impl ChatTemplate {
    /// Compiles `template` (the GGUF's `tokenizer.chat_template`, if any and
    /// non-blank), or else the built-in format for `arch`
    /// (`general.architecture`). `bos_token`/`eos_token` are the texts of
    /// those tokens, passed to the template as `bos_token`/`eos_token`.
    pub fn new(
        template: Option<&str>,
        arch: &str,
        bos_token: &str,
        eos_token: &str,
    ) -> Result<ChatTemplate, ChatError> {
        let (src, source, description, stop_strings) = match template {
            Some(t) if !t.trim().is_empty() => (
                t.to_string(),
                TemplateSource::FromModel,
                "model's own chat template".to_string(),
                fallback::detect_stop_strings(t),
            ),
            _ => {
                let b = fallback::for_arch(arch);
                (
                    b.template.to_string(),
                    TemplateSource::Builtin(b.name),
                    b.description.to_string(),
                    b.stop_strings.iter().map(|s| s.to_string()).collect(),
                )
            }
        };
        let candidate = match source {
            TemplateSource::FromModel => ToolSyntax::detect(&src),
            TemplateSource::Builtin(_) => None,
        };
        let mut env = template::environment();
        env.add_template_owned(NAME, src)
            .map_err(|e| ChatError::Syntax(format!("{e:#}")))?;
        let mut t = ChatTemplate {
            tool_syntax: None,
            env,
            source,
            description,
            bos_token: bos_token.to_string(),
            eos_token: eos_token.to_string(),
            stop_strings,
        };
        t.tool_syntax = candidate.filter(|&syn| tool_syntax::probe(&t, syn));
        Ok(t)
    }

    /// Where the template comes from.
    pub fn source(&self) -> TemplateSource {
        self.source
    }

    /// One line for the user, e.g. "model's own chat template" or
    /// "built-in Gemma turn format (the model file has no chat template)".
    pub fn describe(&self) -> String {
        self.description.clone()
    }

    /// Replaces what [`describe`](Self::describe) says (e.g. for a template read
    /// from a file rather than the model).
    pub fn described_as(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// How the template shows tools and how its model writes calls, when it
    /// renders a `tools` list itself in a syntax wren parses; `None` otherwise
    /// (the caller then describes the tools in the system turn, see
    /// [`ToolSyntax`]).
    pub fn tool_syntax(&self) -> Option<ToolSyntax> {
        self.tool_syntax
    }

    /// Strings that end an assistant turn (e.g. `<end_of_turn>`), for use as
    /// extra stop conditions; may be empty for a model's own template.
    pub fn stop_strings(&self) -> &[String] {
        &self.stop_strings
    }

    /// Renders the conversation; with `add_generation_prompt` the text ends
    /// with the opening of an assistant turn. The template receives
    /// `messages`, `add_generation_prompt`, `bos_token`, `eos_token`,
    /// `tools` (the OpenAI-style list `[{"type": "function", "function":
    /// {...}}]`, or none) and `documents = none`, as with `transformers`.
    ///
    /// Tool definitions and call arguments are template text once rendered
    /// (templates pass them through `tojson`): a caller that tokenizes
    /// template text with special-token parsing must first make sure they
    /// hold no control-token text.
    pub fn render(
        &self,
        messages: &[ChatMessage],
        tools: Option<&serde_json::Value>,
        add_generation_prompt: bool,
    ) -> Result<String, ChatError> {
        for m in messages {
            let ok = !m.role.is_empty()
                && m.role
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !ok {
                return Err(ChatError::InvalidRole(m.role.clone()));
            }
        }
        let tmpl = self
            .env
            .get_template(NAME)
            .map_err(template::map_render_error)?;
        let ctx = minijinja::context! {
            messages => messages,
            add_generation_prompt => add_generation_prompt,
            bos_token => &self.bos_token,
            eos_token => &self.eos_token,
            tools => tools,
            documents => (),
        };
        tmpl.render(ctx).map_err(template::map_render_error)
    }

    /// Renders like [`render`](Self::render) but returns the prompt as
    /// segments, so that message contents can be tokenized without
    /// special-token parsing: every character that comes from a message's
    /// content lies in a [`Segment::Content`], and [`Segment::Template`]
    /// text comes from the template alone (plus roles, BOS/EOS texts).
    ///
    /// How: the conversation is rendered twice, once with each content
    /// replaced by a unique placeholder (`U+E000 wren-msg-{i} U+E001`) —
    /// whose rendering, split at the placeholders, gives the template text —
    /// and once for real. If the real rendering equals the template pieces
    /// with each content inserted either verbatim or trimmed (templates such
    /// as Gemma's apply `| trim`), those are the segments and their
    /// concatenation equals `render()` exactly. Otherwise (the template
    /// branches on content, e.g. Qwen 3 dropping old `<think>` blocks) the
    /// contents are inserted verbatim into the placeholder rendering: still
    /// safe, but possibly not identical to `render()`. A template that
    /// mangles the placeholder itself (e.g. `| upper`) gives
    /// [`ChatError::Segments`].
    pub fn render_segments(
        &self,
        messages: &[ChatMessage],
        tools: Option<&serde_json::Value>,
        add_generation_prompt: bool,
    ) -> Result<Vec<Segment>, ChatError> {
        let real = self.render(messages, tools, add_generation_prompt)?;
        let masked: Vec<ChatMessage> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| m.with_content(template::placeholder(i)))
            .collect();
        let rendered = self.render(&masked, tools, add_generation_prompt)?;
        let pieces = template::split_placeholders(&rendered, messages.len()).ok_or_else(|| {
            ChatError::Segments("the template alters message contents beyond trimming".into())
        })?;
        let contents: Vec<&str> = messages.iter().map(|m| m.content.as_str()).collect();
        let segs = template::align(&real, &pieces, &contents)
            .unwrap_or_else(|| template::substitute(&pieces, &contents));
        Ok(template::normalize(segs))
    }
}

#[cfg(test)]
mod tests;
