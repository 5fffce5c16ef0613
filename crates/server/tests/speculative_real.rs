//! The server's speculative decoding on the real models: requests decoded with prompt
//! lookup, FR self-drafting (a draft head ranked by the tokenizer, as on a machine without
//! a frequency table) and `auto` get exactly the tokens a lone session decoding greedily
//! without speculation gets (`wren_core::generate::generate`, the CLI's loop). One request
//! at a time, each in a fresh slot: `wren serve` drafts only for a sequence decoding
//! alone, and beside others
//! the batched kernels (not bit-identical to lone decoding) decode as without
//! speculation. The verification of several sequences' drafts in one pass is checked bit
//! for bit in `core/tests/spec_identity.rs`, and the batching in `local_engine.rs`.

use std::sync::Arc;

use tokio::sync::mpsc::unbounded_channel;
use wren_core::chat::ChatTemplate;
use wren_core::generate::{generate, Flow, FrDraft, SpecConfig, SpecMode};
use wren_core::linear::Compute;
use wren_core::models::Model;
use wren_core::sample::{Sampler, SamplingParams};
use wren_core::session::{thread_pool, Session};
use wren_core::tokenizer::Tokenizer;
use wren_gguf::GgufFile;
use wren_server::engine::local::{LocalConfig, LocalEngine};
use wren_server::engine::{Engine, Event, GenRequest};

const PROMPTS: &[&str] = &[
    "Copy the list exactly.\nList: apples, pears, plums, cherries, apricots, peaches, grapes, figs.\nCopy: apples, pears,",
    "def area(width, height):\n    return width * height\n\n# The same with `width` renamed to `w`:\ndef area(w, height):\n",
    "The committee met on Tuesday to review the budget. Quote the first sentence: \"The committee",
    "Once upon a time, in a small village,",
];
const MAX: usize = 40;

fn check(path: std::path::PathBuf, compute: Compute, mode: SpecMode) {
    assert!(
        path.is_file(),
        "real-model test: {} not found",
        path.display()
    );
    let file = Arc::new(GgufFile::open(&path).unwrap());
    let model: Arc<dyn Model> = Arc::from(wren_core::models::load(file.clone()).unwrap());
    let tok = Tokenizer::from_gguf(&file).unwrap();
    let prompts: Vec<Vec<u32>> = PROMPTS
        .iter()
        .map(|p| tok.encode(p, tok.add_bos_default(), false))
        .collect();
    let pool = thread_pool(0).unwrap();
    // Alone, plain greedy decoding.
    let want: Vec<Vec<u32>> = prompts
        .iter()
        .map(|p| {
            let mut s = Session::new(model.clone(), 1024, pool.clone(), compute).unwrap();
            let mut sampler = Sampler::new(SamplingParams::greedy(), model.info().vocab_size);
            let mut out = Vec::new();
            let off = SpecConfig::default();
            generate(&mut s, &tok, &mut sampler, off, p, MAX, |_, id| {
                out.push(id);
                Flow::Continue
            })
            .unwrap();
            out
        })
        .collect();
    // One request at a time, each in a fresh server (prefix reuse would change how a
    // prompt is batched): drafts are made while a sequence decodes alone.
    let fr = mode
        .fr()
        .then(|| Arc::new(FrDraft::load(model.as_ref(), &tok, None, 0).unwrap()));
    let (mut drafted, mut accepted) = (0, 0);
    for (i, p) in prompts.iter().enumerate() {
        let cfg = LocalConfig {
            model_id: "m".into(),
            ctx: 1024,
            parallel: 1,
            queue: 8,
            compute,
            prefill_chunk: 256,
            kv_type: Default::default(),
            sparse: Default::default(),
            spec: SpecConfig::new(mode, 8),
            spec_max_seqs: 1,
            fr: fr.clone(),
        };
        let tmpl = ChatTemplate::new(None, &model.info().arch, "", "").unwrap();
        let server_tok = Tokenizer::from_gguf(&file).unwrap();
        let e = LocalEngine::start(model.clone(), server_tok, tmpl, pool.clone(), cfg).unwrap();
        let (tx, mut rx) = unbounded_channel();
        e.submit(GenRequest {
            prompt: p.clone(),
            max_tokens: MAX,
            sampling: SamplingParams::greedy(),
            logprobs: None,
            constraint: None,
            spec: None,
            events: tx,
        })
        .unwrap();
        let mut ids = Vec::new();
        loop {
            match rx.blocking_recv().expect("engine hung up") {
                Event::Token { id, .. } => ids.push(id),
                Event::Done { .. } => break,
                Event::Error(e) => panic!("{e}"),
            }
        }
        // The server reports the EOG token with its final event; the CLI loop does not.
        ids.retain(|t| !tok.eog_ids().contains(t));
        assert_eq!(
            ids, want[i],
            "{compute:?} {mode:?} prompt {i}: server speculative tokens differ"
        );
        let st = e.stats();
        drafted += st.drafted;
        accepted += st.accepted;
    }
    eprintln!(
        "{} {compute:?} {}: {} requests identical to plain single decoding; drafted {drafted}, accepted {accepted}",
        path.display(),
        mode.name(),
        prompts.len(),
    );
    assert!(accepted > 10, "drafted {drafted}, accepted {accepted}");
}

#[test]
#[ignore = "needs the real models (scripts/test.sh fetches them)"]
fn server_speculation_gives_each_request_its_plain_tokens() {
    for m in [
        wren_core::catalog::GEMMA3_270M,
        wren_core::catalog::SMOLLM2_135M_INSTRUCT,
    ] {
        for c in [Compute::Auto, Compute::Exact] {
            for mode in [SpecMode::Ngram, SpecMode::Fr, SpecMode::Auto] {
                check(m.path(), c, mode);
            }
        }
    }
}
