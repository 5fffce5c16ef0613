//! `wren`: run, chat with, inspect and evaluate GGUF language models on the CPU.
// SAFETY: not needed — this crate has no unsafe code (kernels: wren-kernels; mmap: wren-gguf).
#![forbid(unsafe_code)]

mod chat;
mod commands;
mod common;
mod fetch;
mod ftype;
mod hub;
mod logging;
mod pipe;
mod progress;
mod resolve;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "wren",
    version,
    about = "On-device LLM inference from GGUF files",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate text from a prompt, streamed to stdout (statistics on stderr).
    Run(commands::run::Args),
    /// Interactive chat using the model's chat template.
    Chat(commands::chat::Args),
    /// Show a model's metadata and tensors (never downloads).
    Info(commands::info::Args),
    /// A model's summary: architecture, parameters, quantization, context, template.
    Show(commands::show::Args),
    /// List the catalogue's models (downloaded or not) and other GGUF files in the cache.
    List(commands::list::Args),
    /// Delete downloaded catalogue models from the cache.
    Rm(commands::rm::Args),
    /// Print the token ids of a text as a JSON array.
    Tokenize(commands::tokenize::Args),
    /// Print the text of token ids.
    Detokenize(commands::detokenize::Args),
    /// Count the model's tokens over a text corpus and save the most frequent beside the
    /// model (`<model>.fr`), for FR-Spec drafting (`--spec fr`).
    FrTable(commands::fr_table::Args),
    /// Print the top logits at every position as JSON.
    Logits(commands::logits::Args),
    /// Perplexity of a text file (llama-perplexity's method).
    Perplexity(commands::perplexity::Args),
    /// Measure prompt-processing and generation speed (like llama-bench).
    Bench(commands::bench::Args),
    /// Serve the model over an OpenAI-compatible HTTP API.
    Serve(commands::serve::Args),
    /// Add a checkpoint's block-sparse attention config (MiniCPM4's `sparse_config`) to a
    /// converted GGUF file, so the model runs with it by default.
    Sparsify(commands::sparsify::Args),
    /// Download models of the catalogue now (other commands do this on first use).
    #[command(visible_alias = "pull")]
    Fetch(commands::fetch_cmd::Args),
}

fn main() {
    pipe::install();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(a) => commands::run::main(a),
        Command::Chat(a) => commands::chat::main(a),
        Command::Info(a) => commands::info::main(a),
        Command::Show(a) => commands::show::main(a),
        Command::List(a) => commands::list::main(a),
        Command::Rm(a) => commands::rm::main(a),
        Command::Detokenize(a) => commands::detokenize::main(a),
        Command::Tokenize(a) => commands::tokenize::main(a),
        Command::FrTable(a) => commands::fr_table::main(a),
        Command::Logits(a) => commands::logits::main(a),
        Command::Perplexity(a) => commands::perplexity::main(a),
        Command::Fetch(a) => commands::fetch_cmd::main(a),
        Command::Serve(a) => commands::serve::main(a),
        Command::Bench(a) => commands::bench::main(a),
        Command::Sparsify(a) => commands::sparsify::main(a),
    };
    if let Err(e) = result {
        if pipe::is_broken_pipe(&e) {
            std::process::exit(0); // stdout was closed: the reader wanted no more
        }
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
