//! Tokenizer (filled in by the tokenizer work).
