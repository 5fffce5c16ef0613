//! Tokenization in linear time and bounded memory on adversarial inputs (issue 15,
//! finding 2): whitespace runs, one repeated character, runs of one merge pair, and
//! control-token text, for both tokenizer kinds.
//!
//! Memory is the process's peak RSS growth during one `encode` (`VmHWM`, reset through
//! `/proc/self/clear_refs`), measured under a lock so concurrent tests do not add up.
//! The real-model cases are ignored by default (they need the models; `scripts/test.sh`
//! fetches them). Time bounds are generous and apply to release builds only.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use wren_core::tokenizer::Tokenizer;
use wren_gguf::GgufFile;

const MIB: usize = 1 << 20;
static MEASURE: Mutex<()> = Mutex::new(());

fn status_kib(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `f`, returning its result, seconds, and peak RSS growth in MiB (None where
/// the platform cannot say).
fn measure<T>(f: impl FnOnce() -> T) -> (T, f64, Option<f64>) {
    let _g = MEASURE.lock().unwrap_or_else(|e| e.into_inner());
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = status_kib("VmRSS:");
    let t0 = Instant::now();
    let out = f();
    let secs = t0.elapsed().as_secs_f64();
    let peak = status_kib("VmHWM:");
    let grew = match (reset, before, peak) {
        (true, Some(b), Some(p)) => Some(p.saturating_sub(b) as f64 / 1024.0),
        _ => None,
    };
    (out, secs, grew)
}

/// Encodes each input (with and without special parsing), checks the round trip and
/// bounds time and peak memory growth (`mib_per_mib` MiB per MiB of input).
fn check(t: &Tokenizer, inputs: &[(&str, String)], secs_max: f64, mib_per_mib: f64) {
    for (what, text) in inputs {
        for parse_special in [false, true] {
            let (ids, secs, grew) = measure(|| t.encode(text, false, parse_special));
            let mib_in = text.len() as f64 / MIB as f64;
            println!(
                "{what} (parse_special {parse_special}): {} tokens in {secs:.3} s, peak +{} MiB",
                ids.len(),
                grew.map_or("?".into(), |g| format!("{g:.0}"))
            );
            if !parse_special {
                assert_eq!(t.decode(&ids), *text, "{what}: round trip");
            }
            if let Some(g) = grew {
                assert!(
                    g <= mib_per_mib * mib_in + 16.0,
                    "{what}: peak memory grew {g:.0} MiB for {mib_in:.1} MiB of text"
                );
            }
            if !cfg!(debug_assertions) {
                assert!(secs < secs_max * mib_in, "{what}: {secs:.2} s");
            }
        }
    }
}

fn adversarial(control: &str) -> Vec<(&'static str, String)> {
    vec![
        ("1 MiB of spaces", " ".repeat(MIB)),
        ("2 MiB of spaces", " ".repeat(2 * MIB)),
        ("1 MiB of tabs and newlines", "\t\n".repeat(MIB / 2)),
        ("1 MiB of 'a'", "a".repeat(MIB)),
        ("1 MiB of \"ab\"", "ab".repeat(MIB / 2)),
        ("1 MiB of 'é'", "é".repeat(MIB / 2)),
        (
            "1 MiB of control-token text",
            control.repeat(MIB / control.len()),
        ),
    ]
}

/// A SentencePiece vocab shaped like Gemma's: byte tokens, user-defined tokens for runs
/// of 1..=31 spaces, a control token, and merges for runs of `a`.
fn synthetic_spm() -> Tokenizer {
    let mut tokens: Vec<String> = (0..=255u32).map(|b| format!("<0x{b:02X}>")).collect();
    let mut types = vec![6; 256];
    for n in 1..=31 {
        tokens.push(" ".repeat(n));
        types.push(4);
    }
    tokens.push("<ctl>".into());
    types.push(3);
    for n in 1..=16 {
        tokens.push("a".repeat(n));
        types.push(1);
    }
    for t in ["▁", "b", "ab", "\t", "\n"] {
        tokens.push(t.into());
        types.push(1);
    }
    let scores = (0..tokens.len()).map(|i| i as f32).collect();
    Tokenizer::from_parts(tokens, scores, types, None, None, false).unwrap()
}

#[test]
fn synthetic_spm_whitespace_runs_are_linear() {
    let t = synthetic_spm();
    // Before the partition rewrite: ~31 matches per space, ~750 bytes per input byte.
    check(&t, &adversarial("<ctl>"), 2.0, 64.0);
}

fn real(name: &str) -> Option<Tokenizer> {
    let p: PathBuf = wren_core::paths::cache_dir().join(name);
    let f = GgufFile::open(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    Some(Tokenizer::from_gguf(&f).expect("tokenizer"))
}

#[test]
#[ignore = "needs the Gemma 3 model (scripts/test.sh fetches it)"]
fn gemma3_adversarial_inputs_are_linear() {
    let t = real("gemma-3-270m-q4_k_m.gguf").unwrap();
    check(&t, &adversarial("<start_of_turn>"), 3.0, 96.0);
}

#[test]
#[ignore = "needs the SmolLM2 model (scripts/test.sh fetches it)"]
fn smollm2_adversarial_inputs_are_linear() {
    let t = real("SmolLM2-135M-Instruct.Q4_1.gguf").unwrap();
    check(&t, &adversarial("<|im_start|>"), 3.0, 96.0);
}
