//! The server's request-body parsing: every endpoint's body type from any bytes, and
//! for the generation body the sampling-parameter validation that follows it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wren_server::openai::body::parse;
use wren_server::openai::gen::sampling;
use wren_server::openai::types::{
    ApplyTemplateRequest, DetokenizeRequest, GenBody, TokenizeRequest,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(body) = parse::<GenBody>(data) {
        let _ = sampling(&body);
    }
    let _ = parse::<TokenizeRequest>(data);
    let _ = parse::<DetokenizeRequest>(data);
    let _ = parse::<ApplyTemplateRequest>(data);
});
