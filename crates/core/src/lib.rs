//! wren's engine: models, tokenizer, sampling, chat templates and the generation loop.
#![forbid(unsafe_code)]

pub mod chat;
pub mod sample;
pub mod tokenizer;
