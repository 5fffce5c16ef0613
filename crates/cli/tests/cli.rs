//! End-to-end tests of the `wren` binary. Those that need the real model are `#[ignore]`d
//! (scripts/test.sh fetches the model, then runs them with `--include-ignored`).

use std::path::PathBuf;
use std::process::{Command, Output};

fn wren(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wren"))
        .args(args)
        .output()
        .expect("run wren")
}

fn reference(name: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/reference"
    ))
    .join(name)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A command that must succeed without downloading anything (the model is cached).
fn ok_cached(args: &[&str]) -> String {
    let o = wren(args);
    let err = stderr(&o);
    assert!(o.status.success(), "wren {args:?} failed: {err}");
    assert!(
        !err.contains("downloading"),
        "wren {args:?} fetched the model again: {err}"
    );
    String::from_utf8(o.stdout).expect("utf-8 stdout")
}

#[test]
fn malformed_model_gives_one_clean_error() {
    let dir = std::env::temp_dir().join(format!("wren-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases: [(&str, &[u8]); 3] = [
        ("empty.gguf", b""),
        ("magic.gguf", b"GGML\x03\0\0\0"),
        ("short.gguf", b"GGUF\x03\0\0\0\x01\0"),
    ];
    for (name, bytes) in cases {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        for cmd in [
            &["info", p.to_str().unwrap()][..],
            &["run", "-m", p.to_str().unwrap(), "hi"][..],
        ] {
            let o = wren(cmd);
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(1), "{cmd:?}: {err}");
            assert!(err.starts_with("error:"), "{cmd:?}: {err}");
            assert!(!err.contains("panicked"), "{cmd:?}: {err}");
        }
    }
    let o = wren(&["run", "-m", "/nonexistent/model.gguf", "hi"]);
    assert!(
        stderr(&o).contains("/nonexistent/model.gguf"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn negative_and_empty_values_are_refused_by_their_flags() {
    // clap took `-1` for an unknown flag and suggested `-- -1`, which makes it the prompt.
    // Negative values now reach the flag and its own check (no model is loaded for these).
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let cases: [(&[&str], &str); 6] = [
        (&["run", "--temp", "-1", "x"], "temperature must be >= 0"),
        (
            &["run", "--seed", "-2", "x"],
            "use a non-negative integer, or -1",
        ),
        (&["run", "-n", "-5", "x"], "-5 is not a token count"),
        (&["chat", "-n", "-5"], "-5 is not a token count"),
        // And two values that were accepted and gave nothing (PPL = NaN) or were ignored.
        (
            &["perplexity", "-f", manifest, "--chunks", "0"],
            "--chunks 0 scores nothing",
        ),
        (
            &["run", "--special", "--system", "s", "x"],
            "cannot be used with",
        ),
    ];
    for (args, want) in cases {
        let o = wren(args);
        let err = stderr(&o);
        assert!(!o.status.success() && err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("unexpected argument"), "{args:?}: {err}");
    }
    // Negative penalties are valid (OpenAI's range is -2..2): they parse, and the run
    // gets as far as the temperature check.
    let o = wren(&[
        "run",
        "--presence-penalty",
        "-0.5",
        "--frequency-penalty",
        "-1",
    ]);
    let o2 = wren(&["run", "--presence-penalty", "-0.5", "--temp", "-1", "x"]);
    assert!(
        !stderr(&o).contains("unexpected argument"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o2).contains("temperature must be"),
        "{}",
        stderr(&o2)
    );
}

#[test]
fn bad_kv_flags_are_refused_with_the_valid_values() {
    for cmd in ["run", "chat", "perplexity", "bench", "serve", "logits"] {
        let o = wren(&[cmd, "--kv-type", "q3"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{cmd}: {err}");
        assert!(
            err.contains("\"q3\"") && err.contains("f16, q8_0, q4_0"),
            "{cmd}: {err}"
        );
        let o = wren(&[cmd, "--sparse", "maybe"]);
        assert!(stderr(&o).contains("expected on or off"), "{cmd}");
    }
}

#[test]
#[ignore = "needs the real model (scripts/test.sh fetches it)"]
fn kv_cache_is_reported_and_sparse_flags_need_sparse_on() {
    let o = wren(&[
        "run",
        "-n",
        "2",
        "--greedy",
        "--kv-type",
        "q8_0",
        "--ctx",
        "1024",
        "Hi",
    ]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("KV cache: ") && err.contains("(q8_0, ctx 1024)"),
        "{err}"
    );
    assert!(
        !err.contains("] prefill "),
        "short prompts show no progress: {err}"
    );
    let o = wren(&["run", "-n", "2", "--sparse-topk", "4", "Hi"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("--sparse on"), "{err}");
    let o = wren(&[
        "run",
        "-n",
        "2",
        "--sparse",
        "on",
        "--sparse-block",
        "0",
        "Hi",
    ]);
    assert!(stderr(&o).contains("block size"), "{}", stderr(&o));
}

#[test]
#[ignore = "needs the real model (scripts/test.sh fetches it)"]
fn model_less_commands_use_the_cache() {
    let out = ok_cached(&["tokenize", "Hello world"]);
    assert_eq!(out.trim(), "[2,9259,1902]");
    let out = ok_cached(&["tokenize", "--no-bos", "--special", "<start_of_turn>user\n"]);
    assert_eq!(out.trim(), "[105,2364,107]");
    let out = ok_cached(&["info"]);
    assert!(out.contains("gemma3.block_count") && out.contains("token_embd.weight"));
    let out = ok_cached(&["logits", "--tokens", "2,818,5279", "--top", "3"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["tokens"], serde_json::json!([2, 818, 5279]));
    assert_eq!(v["top"].as_array().unwrap().len(), 3);
    assert_eq!(v["top"][0].as_array().unwrap().len(), 3);
}

/// Greedy tokens of a reference entry that any correct engine must reproduce: the leading
/// ones whose reference top-1 is the greedy token by a margin of at least `band` (the
/// reference README: compare only up to the first near-tie), at most `max`.
fn untied_prefix(
    greedy: &[u64],
    n_prompt: usize,
    top: &serde_json::Value,
    band: f64,
    max: usize,
) -> usize {
    (0..greedy.len().min(max))
        .take_while(|&i| {
            let t = top[n_prompt + i - 1].as_array().unwrap();
            let (a, b) = (t[0].as_array().unwrap(), t[1].as_array().unwrap());
            a[0].as_u64() == Some(greedy[i])
                && a[1].as_f64().unwrap() - b[1].as_f64().unwrap() >= band
        })
        .count()
}

/// `wren run` end to end (prompt, prefill, decode, detokenized text) on every reference
/// prompt of `refs` (a folder of ../shared/reference) with model `model` (a path or a
/// catalogue name): the default arithmetic against llama.cpp's logits with the parity
/// suite's 0.5 tie band for 8-bit activations, and `--compute exact` against the exact
/// reference with the README's 0.1 band. The text is tokenized back to compare ids.
/// Prompts holding control-token text (rendered chat prompts) run with `--special`, as
/// the references were made.
fn greedy_run(model: &str, refs: &str) -> [usize; 2] {
    let read = |name: &str| -> serde_json::Value {
        let p = reference(refs).join(name);
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let (quant, exact) = (read("generate.json"), read("generate_exact.json"));
    let mut compared = [0usize; 2];
    for (q, x) in quant
        .as_array()
        .unwrap()
        .iter()
        .zip(exact.as_array().unwrap())
    {
        let prompt = q["text"].as_str().unwrap();
        let n_prompt = q["prompt_tokens"].as_array().unwrap().len();
        let greedy: Vec<u64> = q["greedy"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_u64().unwrap())
            .collect();
        let special = prompt.contains("<|im_start|>") || prompt.contains("<start_of_turn>");
        for (mode, (top, band)) in [(&q["top"], 0.5), (&x["top"], 0.1)].into_iter().enumerate() {
            let k = untied_prefix(&greedy, n_prompt, top, band, 12);
            if k == 0 {
                continue;
            }
            compared[mode] += k;
            let n = k.to_string();
            let mut args = vec!["run", "-m", model, "--greedy", "-n", &n];
            if mode == 1 {
                args.extend(["--compute", "exact"]);
            }
            if special {
                args.push("--special");
            }
            args.push(prompt);
            let out = ok_cached(&args);
            assert!(out.starts_with(prompt), "{out:?}");
            let produced = out[prompt.len()..].trim_end_matches('\n');
            let ids: Vec<u64> = serde_json::from_str(
                ok_cached(&["tokenize", "-m", model, "--no-bos", produced]).trim(),
            )
            .unwrap();
            assert_eq!(
                &ids[..k.min(ids.len())],
                &greedy[..k],
                "{} path, prompt {prompt:?}: wren wrote {produced:?}",
                ["default", "exact"][mode]
            );
        }
    }
    eprintln!(
        "{model}: greedy tokens compared: default {}, exact {}",
        compared[0], compared[1]
    );
    compared
}

#[test]
#[ignore = "needs the real model (scripts/test.sh fetches it)"]
fn greedy_run_reproduces_llama_cpp() {
    let compared = greedy_run("gemma3-270m", "");
    assert!(
        compared[0] >= 30 && compared[1] >= 30,
        "too few untied tokens: {compared:?}"
    );
}

#[test]
#[ignore = "needs SmolLM2 (scripts/test.sh fetches it)"]
fn smollm2_greedy_run_reproduces_llama_cpp() {
    let compared = greedy_run("smollm2-135m-instruct", "smollm2");
    assert!(
        compared[0] >= 30 && compared[1] >= 30,
        "too few untied tokens: {compared:?}"
    );
}

#[test]
#[ignore = "needs the real model (scripts/test.sh fetches it)"]
fn prompt_past_the_context_is_refused() {
    let long = "word ".repeat(100);
    let o = wren(&["run", "--ctx", "16", &long]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("context") && err.contains("16"), "{err}");
    let o = wren(&["run", "--ctx", "100000", "hi"]);
    assert!(stderr(&o).contains("32768"), "{}", stderr(&o));
}

#[test]
#[ignore = "needs the real model (scripts/test.sh fetches it)"]
fn perplexity_matches_llama_cpp() {
    let f = reference("ppl_text.txt");
    let out = ok_cached(&["perplexity", "-f", f.to_str().unwrap(), "--ctx", "512"]);
    eprintln!("{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("PPL = "))
        .expect("PPL line");
    let ppl: f64 = line.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert!(out.contains("chunks = 100"), "{out}");
    assert!(
        ppl <= 1.01 * 12.0623,
        "PPL {ppl} > 1.01 × llama.cpp's 12.0623"
    );
    assert!(ppl > 11.0, "PPL {ppl} is implausibly low");
}

#[test]
#[ignore = "needs SmolLM2 (scripts/test.sh fetches it)"]
fn smollm2_perplexity_matches_llama_cpp() {
    // llama-perplexity's method on the first 40 chunks, no BOS (the model adds none).
    let f = reference("ppl_text.txt");
    let out = ok_cached(&[
        "perplexity",
        "-m",
        "smollm2-135m-instruct",
        "-f",
        f.to_str().unwrap(),
        "--ctx",
        "512",
        "--chunks",
        "40",
    ]);
    eprintln!("{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("PPL = "))
        .expect("PPL line");
    let ppl: f64 = line.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert!(out.contains("chunks = 40"), "{out}");
    assert!(
        ppl <= 1.01 * 15.1589,
        "PPL {ppl} > 1.01 × llama.cpp's 15.1589"
    );
    assert!(ppl > 13.0, "PPL {ppl} is implausibly low");
}

/// Runs `wren args` with `stdin` as input, reads `keep` bytes of its stdout and closes
/// the pipe; returns the exit status and stderr.
fn closed_early(args: &[&str], stdin: &[u8], keep: usize) -> (Option<i32>, String) {
    use std::io::{Read, Write};
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_wren"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run wren");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let mut out = child.stdout.take().unwrap();
    let mut buf = vec![0u8; keep];
    out.read_exact(&mut buf).expect("some output");
    drop(out);
    let o = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    (o.status.code(), stderr(&o))
}

/// `wren tokenize - < big | head -c5` and `wren info --full M | head -1` end quietly with
/// status 0 (they panicked with "failed printing to stdout: Broken pipe", status 101).
#[test]
#[ignore = "needs the Gemma 3 model (scripts/test.sh fetches it)"]
fn a_closed_stdout_is_a_quiet_exit() {
    let model = wren_model();
    let big = "hello world, ".repeat(40_000);
    let (code, err) = closed_early(&["tokenize", "-m", &model, "-"], big.as_bytes(), 5);
    assert_eq!(code, Some(0), "tokenize: {err}");
    assert!(!err.contains("panicked") && !err.contains("error"), "{err}");
    let (code, err) = closed_early(&["info", "--full", &model], b"", 1);
    assert_eq!(code, Some(0), "info: {err}");
    assert!(!err.contains("panicked") && !err.contains("error"), "{err}");
}

fn wren_model() -> String {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_default();
    cache
        .join("wren/gemma-3-270m-q4_k_m.gguf")
        .to_string_lossy()
        .into_owned()
}

/// The memory budget check refuses a load that cannot fit, before loading.
#[test]
#[ignore = "needs the Gemma 3 model (scripts/test.sh fetches it)"]
fn a_model_that_cannot_fit_memory_is_refused() {
    let model = wren_model();
    let o = Command::new(env!("CARGO_BIN_EXE_wren"))
        .args(["run", "-m", &model, "-n", "1", "hi"])
        .env("WREN_MEMORY_AVAILABLE", "100000000")
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("not enough memory") && err.contains("--ctx"),
        "{err}"
    );
}

/// `--api-key ""` (an unset variable) is an error, and so is a non-loopback bind with no
/// key unless `--no-auth` says so; neither loads a model.
#[test]
fn serve_refuses_to_disable_auth_silently() {
    for args in [
        &["serve", "--api-key", ""][..],
        &["serve", "--api-key", "  "][..],
        &["serve", "--host", "0.0.0.0"][..],
        &["serve", "--host", "0.0.0.0", "--api-key", ""][..],
    ] {
        let o = wren(args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("--api-key") && err.contains("--no-auth"),
            "{args:?}: {err}"
        );
    }
    let o = wren(&["serve", "--no-auth", "--api-key", "k"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o)); // clap: conflicting flags
}
