pub mod chat;
pub mod fetch_cmd;
pub mod info;
pub mod logits;
pub mod perplexity;
pub mod run;
pub mod tokenize;
