//! The server's request-body parsing: every endpoint's body type from any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wren_server::openai::body::parse;
use wren_server::openai::types::{
    ApplyTemplateRequest, DetokenizeRequest, GenBody, TokenizeRequest,
};

fuzz_target!(|data: &[u8]| {
    let _ = parse::<GenBody>(data);
    let _ = parse::<TokenizeRequest>(data);
    let _ = parse::<DetokenizeRequest>(data);
    let _ = parse::<ApplyTemplateRequest>(data);
});
