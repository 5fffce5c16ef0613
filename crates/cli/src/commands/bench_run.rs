//! One `wren bench` test (`ppP`, `tgN`, `tgNxS`, `tgN+MODE`, at a depth) and one timed
//! repetition of it; `bench.rs` builds the test list, runs the rounds and reports.

use std::time::Instant;

use anyhow::Result;
use wren_core::generate::{SpecConfig, SpecMode, SpecStats};
use wren_core::session::Session;
use wren_core::tokenizer::Tokenizer;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Prompt,
    Gen,
}

#[derive(Clone, Copy, Debug)]
pub struct Test {
    pub kind: Kind,
    /// Tokens evaluated (timed).
    pub n: usize,
    /// Tokens of context filled before (untimed).
    pub depth: usize,
    /// Sequences decoded together (generation tests).
    pub seqs: usize,
    /// Real greedy generation with this speculative decoding (`tgN+MODE`).
    pub spec: Option<SpecMode>,
}

impl Test {
    pub fn name(&self) -> String {
        let k = match self.kind {
            Kind::Prompt => "pp",
            Kind::Gen => "tg",
        };
        let mut name = format!("{k}{}", self.n);
        if self.seqs > 1 {
            name += &format!("x{}", self.seqs);
        }
        if let Some(m) = self.spec {
            name += &format!("+{}", m.name());
        }
        if self.depth > 0 {
            name += &format!("@d{}", self.depth);
        }
        name
    }
}

/// Fixed-seed token source: ids in 1000..200000 (clamped to the vocabulary), no control
/// tokens.
pub struct TokenGen {
    state: u64,
    lo: u32,
    hi: u32,
}

impl TokenGen {
    pub fn new(vocab: usize, seed: u64) -> TokenGen {
        let hi = vocab.min(200_000) as u32;
        let lo = if vocab > 2000 { 1000 } else { 0 };
        TokenGen {
            state: seed ^ 0x9E37_79B9_7F4A_7C15,
            lo,
            hi,
        }
    }

    pub fn next(&mut self, tok: &Tokenizer) -> u32 {
        loop {
            // xorshift64*
            self.state ^= self.state >> 12;
            self.state ^= self.state << 25;
            self.state ^= self.state >> 27;
            let r = self.state.wrapping_mul(0x2545_F491_4F6C_DD1D);
            let span = u64::from(self.hi - self.lo);
            let id = self.lo + ((r >> 32) % span) as u32;
            if !tok.is_control(id) {
                return id;
            }
        }
    }

    pub fn take(&mut self, tok: &Tokenizer, n: usize) -> Vec<u32> {
        (0..n).map(|_| self.next(tok)).collect()
    }
}

/// A `--spec` test's settings.
pub struct SpecTest<'a> {
    pub prompt: &'a str,
    pub draft_max: usize,
    pub stats: SpecStats,
}

/// Run one repetition of `t`; returns tokens per second of the timed part.
pub fn run_once(
    s: &mut Session,
    others: &mut [Session],
    tok: &Tokenizer,
    gen: &mut TokenGen,
    t: Test,
    bos: Option<u32>,
    sp: &mut SpecTest<'_>,
) -> Result<f64> {
    s.reset();
    if t.depth > 0 {
        let fill = gen.take(tok, t.depth);
        s.eval_with(&fill, 0..0, |_, _| {})?;
    }
    if let (Kind::Gen, Some(mode)) = (t.kind, t.spec) {
        let ids = tok.encode(sp.prompt, t.depth == 0 && tok.add_bos_default(), false);
        let params = wren_core::sample::SamplingParams {
            temperature: 0.0,
            ..Default::default()
        };
        let mut sampler = wren_core::sample::Sampler::new(params, s.model().info().vocab_size);
        let cfg = SpecConfig::new(mode, sp.draft_max);
        let (_, st) =
            wren_core::generate::generate(s, tok, &mut sampler, cfg, &ids, t.n, |_, _| {
                wren_core::generate::Flow::Continue
            })?;
        sp.stats = st.spec;
        return Ok(st.decode_tps());
    }
    match t.kind {
        Kind::Prompt => {
            let prompt = gen.take(tok, t.n);
            let start = Instant::now();
            let logits = s.eval_last(&prompt)?;
            std::hint::black_box(logits.first().copied());
            let dt = start.elapsed().as_secs_f64();
            Ok(t.n as f64 / dt)
        }
        Kind::Gen if t.seqs > 1 => {
            // `seqs` sessions in lockstep: the first is filled as above, the others get
            // the same depth of context (untimed), then every step is one batched pass.
            let others = &mut others[..t.seqs - 1];
            for o in others.iter_mut() {
                o.reset();
                if t.depth > 0 {
                    let fill = gen.take(tok, t.depth);
                    o.eval_with(&fill, 0..0, |_, _| {})?;
                }
            }
            let mut sessions: Vec<&mut Session> = std::iter::once(s).chain(others).collect();
            let mut next: Vec<u32> = (0..t.seqs)
                .map(|_| match (t.depth, bos) {
                    (0, Some(b)) => b,
                    _ => gen.next(tok),
                })
                .collect();
            let start = Instant::now();
            for _ in 0..t.n {
                Session::decode_batch(&mut sessions, &next)?;
                std::hint::black_box(sessions[0].last_logits().first().copied());
                for x in next.iter_mut() {
                    *x = gen.next(tok);
                }
            }
            let dt = start.elapsed().as_secs_f64();
            Ok((t.n * t.seqs) as f64 / dt)
        }
        Kind::Gen => {
            let mut next = match (t.depth, bos) {
                (0, Some(b)) => b,
                _ => gen.next(tok),
            };
            let start = Instant::now();
            for _ in 0..t.n {
                let logits = s.eval_last(&[next])?;
                std::hint::black_box(logits.first().copied());
                next = gen.next(tok);
            }
            let dt = start.elapsed().as_secs_f64();
            Ok(t.n as f64 / dt)
        }
    }
}
