//! Built-in chat formats for model files that carry no
//! `tokenizer.chat_template`, chosen by `general.architecture`.
//!
//! They are Jinja templates rendered exactly like a model's own template, so
//! [`ChatTemplate::render_segments`](super::ChatTemplate::render_segments)
//! works the same for both.

/// A built-in chat format.
#[derive(Debug)]
pub struct Builtin {
    /// Short name, e.g. `"gemma"`, reported by `TemplateSource::Builtin`.
    pub name: &'static str,
    /// Jinja source (rendered with HF's `trim_blocks`/`lstrip_blocks`).
    pub template: &'static str,
    /// Human-readable description for the CLI.
    pub description: &'static str,
    /// Strings that end an assistant turn.
    pub stop_strings: &'static [&'static str],
}

/// Gemma's official turn format (as in Google's Gemma 2/3 templates):
/// `{bos}` then `<start_of_turn>{role}\n{content|trim}<end_of_turn>\n` per
/// message, `assistant` renamed `model`. A leading system message has no
/// turn of its own: its text plus `"\n\n"` is prepended to the first user
/// message (or becomes a user turn if there is no user message).
pub static GEMMA: Builtin = Builtin {
    name: "gemma",
    template: r#"{{ bos_token }}
{%- if messages and messages[0].role == 'system' -%}
    {%- set first_user_prefix = messages[0].content + '\n\n' -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = '' -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- set ns = namespace(prefix=first_user_prefix) -%}
{%- if ns.prefix and not (loop_messages | selectattr('role', 'equalto', 'user') | list) -%}
    {{ '<start_of_turn>user\n' + messages[0].content + '<end_of_turn>\n' }}
    {%- set ns.prefix = '' -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- set role = 'model' if message.role == 'assistant' else message.role -%}
    {{ '<start_of_turn>' + role + '\n' }}
    {%- if message.role == 'user' -%}
        {{ ns.prefix }}
        {%- set ns.prefix = '' -%}
    {%- endif -%}
    {{ message.content | trim }}
    {{- '<end_of_turn>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{ '<start_of_turn>model\n' }}
{%- endif -%}
"#,
    description: "built-in Gemma turn format (the model file has no chat template)",
    stop_strings: &["<end_of_turn>"],
};

/// ChatML (`<|im_start|>{role}\n{content}<|im_end|>\n`), used by Qwen 2/3.
pub static CHATML: Builtin = Builtin {
    name: "chatml",
    template: r#"{%- for message in messages -%}
    {{ '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{ '<|im_start|>assistant\n' }}
{%- endif -%}
"#,
    description: "built-in ChatML format (the model file has no chat template)",
    stop_strings: &["<|im_end|>"],
};

/// Meta's Llama 3 header format (the official Llama 3 template).
pub static LLAMA3: Builtin = Builtin {
    name: "llama3",
    template: r#"{{ bos_token }}
{%- for message in messages -%}
    {{ '<|start_header_id|>' + message.role + '<|end_header_id|>\n\n' }}
    {{- message.content | trim }}
    {{- '<|eot_id|>' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif -%}
"#,
    description: "built-in Llama 3 header format (the model file has no chat template; \
                  assuming a Llama 3 model)",
    stop_strings: &["<|eot_id|>"],
};

/// A plain transcript for unknown architectures: system text, then
/// `User: …` / `Assistant: …` lines, ending with `Assistant:`. No BOS.
pub static PLAIN: Builtin = Builtin {
    name: "plain",
    template: r#"{%- for message in messages -%}
    {%- if message.role == 'system' -%}
        {{ message.content + '\n\n' }}
    {%- elif message.role == 'user' -%}
        {{ 'User: ' + message.content + '\n' }}
    {%- elif message.role == 'assistant' -%}
        {{ 'Assistant: ' + message.content + '\n' }}
    {%- else -%}
        {{ (message.role | capitalize) + ': ' + message.content + '\n' }}
    {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{ 'Assistant:' }}
{%- endif -%}
"#,
    description: "plain \"User: … / Assistant:\" transcript (the model file has no chat \
                  template and its architecture has no known format)",
    stop_strings: &["\nUser:"],
};

/// The built-in format for an architecture: gemma* → Gemma, qwen* →
/// ChatML, llama → Llama 3, anything else → plain.
pub fn for_arch(arch: &str) -> &'static Builtin {
    let arch = arch.to_ascii_lowercase();
    if arch.starts_with("gemma") {
        &GEMMA
    } else if arch.starts_with("qwen") {
        &CHATML
    } else if arch == "llama" {
        &LLAMA3
    } else {
        &PLAIN
    }
}

/// End-of-turn markers of well-known formats that occur in a template's
/// source, used as stop strings for a model's own template.
pub fn detect_stop_strings(template: &str) -> Vec<String> {
    const KNOWN: [&str; 4] = ["<end_of_turn>", "<|im_end|>", "<|eot_id|>", "<|end|>"];
    KNOWN
        .iter()
        .filter(|m| template.contains(*m))
        .map(|m| m.to_string())
        .collect()
}
