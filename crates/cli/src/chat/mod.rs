//! The pieces of `wren chat` (the command itself is `commands::chat`).

pub mod conversation;
pub mod input;
pub mod interrupt;
