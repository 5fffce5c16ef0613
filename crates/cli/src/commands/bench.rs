//! `wren bench`: prompt-processing and generation throughput, in the spirit of llama-bench.
//!
//! For every thread count (one rayon pool each), every depth and every prompt / generation
//! length it runs one untimed warm-up and `-r` timed repetitions, then reports tokens per
//! second (mean ± sample standard deviation, min, median). Unlike llama-bench, the
//! repetitions go round-robin over the tests (test 1, test 2, …, test 1, …), so on a noisy
//! machine the ratios between tests compare runs taken at the same time. The tests:
//!
//! - `ppP` (`ppP@dD`): reset the session, fill `D` tokens of context (untimed), then time
//!   the evaluation of `P` random tokens as one prompt, with logits for the last one only.
//! - `tgN` (`tgN@dD`): reset, fill `D` tokens (untimed), then time `N` single-token
//!   decode steps, each computing the logits, feeding a random token every step (the first
//!   one is BOS when `D` is 0, as llama-bench does).
//!
//! - `tgN+MODE` (`--spec off,ngram,fr,auto`): reset, fill `D` tokens, then time the greedy
//!   generation of `N` tokens after a fixed free-text prompt (`--spec-prompt`) with that
//!   speculative decoding (`off`: plain greedy decoding, sampling included), through the
//!   CLI's generation loop; tokens/s is the loop's decode speed, and the draft acceptance
//!   is reported beside it (every mode produces the same text).
//!
//! Token ids are drawn from a fixed-seed generator in 1000..200000 (clamped to the
//! vocabulary), skipping control tokens, so every run evaluates the same sequences.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde_json::json;
use wren_core::generate::{FrDraft, FrTable, SpecMode, SpecStats};
use wren_core::linear::Compute;
use wren_core::session::{thread_pool, Session};

use super::bench_out::{Format, Table};
use super::bench_run::{run_once, Kind, SpecTest, Test, TokenGen};
use crate::common::{describe_kv, KvOpts, ModelOpts};

#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// GGUF model files or catalogue names, comma-separated or repeated (default:
    /// gemma3-270m, downloaded into the cache on first use). Several models run one after
    /// the other into one table, each loaded only for its own tests.
    #[arg(short = 'm', long = "model", value_delimiter = ',')]
    pub model: Vec<std::path::PathBuf>,
    /// Prompt lengths to test, comma-separated (0 = no prompt test).
    #[arg(short = 'p', long = "n-prompt", value_delimiter = ',', default_values_t = [512])]
    pub n_prompt: Vec<usize>,
    /// Generation lengths to test, comma-separated (0 = no generation test).
    #[arg(short = 'n', long = "n-gen", value_delimiter = ',', default_values_t = [128])]
    pub n_gen: Vec<usize>,
    /// Tokens already in the context before each test (filled untimed), comma-separated.
    #[arg(short = 'd', long = "n-depth", value_delimiter = ',', default_values_t = [0])]
    pub n_depth: Vec<usize>,
    /// Sequences decoded together in each generation test, comma-separated: `tgN` with
    /// `-s 8` runs 8 sessions in lockstep, one batched forward pass per step (as
    /// `wren serve --parallel 8` does), and reports aggregate tokens/s (`tgNx8`).
    #[arg(short = 's', long = "sequences", value_delimiter = ',', default_values_t = [1])]
    pub sequences: Vec<usize>,
    /// Thread counts to test, comma-separated (default: one per core).
    #[arg(short = 't', long = "threads", value_delimiter = ',')]
    pub threads: Vec<usize>,
    /// Timed repetitions of each test.
    #[arg(short = 'r', long = "repetitions", default_value_t = 5)]
    pub reps: usize,
    /// Context size in tokens (default: max depth + max(prompt, gen), rounded up to a
    /// multiple of 256, capped by the model's trained context).
    #[arg(short = 'c', long = "ctx")]
    pub ctx: Option<usize>,
    /// Matrix arithmetic: exact, quant or auto (see `wren run --help`).
    #[arg(long = "compute", default_value = "auto", value_parser = parse_compute)]
    pub compute: Compute,
    #[command(flatten)]
    pub kv: KvOpts,
    /// Skip the untimed warm-up run of each test.
    #[arg(long = "no-warmup")]
    pub no_warmup: bool,
    /// Output format: md (aligned markdown table), csv, json (one array at the end) or
    /// jsonl (one object per line as tests finish).
    #[arg(short = 'o', long = "output", value_enum, default_value = "md")]
    pub output: Format,
    /// Same as `-o json`.
    #[arg(long, conflicts_with = "output")]
    pub json: bool,
    /// Generation tests with speculative decoding, comma-separated modes (off, ngram, fr,
    /// auto): each `-n` runs as real greedy generation after `--spec-prompt` per mode
    /// (`tgN+MODE`), with the draft acceptance reported; without `--spec` the `tgN` tests
    /// feed random tokens.
    #[arg(long = "spec", value_delimiter = ',', value_parser = parse_spec)]
    pub spec: Vec<SpecMode>,
    /// Most tokens drafted per step in the `--spec` tests.
    #[arg(long = "draft-max", default_value_t = 8)]
    pub draft_max: usize,
    /// FR drafting: tokens of the reduced head (0: the default).
    #[arg(long = "draft-vocab", default_value_t = 0)]
    pub draft_vocab: usize,
    /// The prompt of the `--spec` generation tests.
    #[arg(
        long = "spec-prompt",
        default_value = "Write a short essay about the history of the printing press and its effect on European society.\n\n"
    )]
    pub spec_prompt: String,
}

fn parse_spec(s: &str) -> Result<SpecMode, String> {
    SpecMode::from_name(s).map_err(|e| e.to_string())
}

fn parse_compute(s: &str) -> Result<Compute, String> {
    Compute::from_name(s)
        .ok_or_else(|| format!("unknown compute mode {s:?} (expected exact, quant or auto)"))
}

fn compute_name(c: Compute) -> &'static str {
    match c {
        Compute::Exact => "exact",
        Compute::Quantized => "quant",
        Compute::Auto => "auto",
    }
}

/// Summary statistics of per-repetition tokens/s.
#[derive(Debug, Clone, PartialEq)]
struct Stats {
    mean: f64,
    stddev: f64,
    min: f64,
    max: f64,
    median: f64,
}

fn stats(samples: &[f64]) -> Stats {
    let n = samples.len();
    if n == 0 {
        return Stats {
            mean: f64::NAN,
            stddev: f64::NAN,
            min: f64::NAN,
            max: f64::NAN,
            median: f64::NAN,
        };
    }
    let mean = samples.iter().sum::<f64>() / n as f64;
    let stddev = if n > 1 {
        (samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    let mut s = samples.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let median = if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    };
    Stats {
        mean,
        stddev,
        min: s[0],
        max: s[n - 1],
        median,
    }
}

/// The process's peak resident set size (VmHWM), in bytes; `None` off Linux.
pub fn peak_rss_bytes() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let s = std::fs::read_to_string("/proc/self/status").ok()?;
        for line in s.lines() {
            if let Some(rest) = line.strip_prefix("VmHWM:") {
                let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
                return Some(kb * 1024);
            }
        }
        None
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

fn check_list(name: &str, v: &[usize]) -> Result<()> {
    if v.is_empty() {
        bail!("{name} needs at least one value");
    }
    Ok(())
}

/// The context size the tests need: max depth + max(prompt, gen).
fn needed_ctx(a: &Args) -> usize {
    let d = a.n_depth.iter().copied().max().unwrap_or(0);
    let p = a.n_prompt.iter().copied().max().unwrap_or(0);
    let g = a.n_gen.iter().copied().max().unwrap_or(0);
    // A `--spec` test's prompt comes before its tokens (a free-text prompt: 64 is ample).
    let sp = if a.spec.is_empty() { 0 } else { 64 };
    d + p.max(g + sp)
}

/// Without `--ctx`, a depth that leaves no room for the longest test within the trained
/// context (`-d 32768` on a 32768-token model) is lowered to the deepest that fits; the
/// notes say so.
fn fit_depths(a: &mut Args, n_ctx_train: usize) -> Vec<String> {
    let p = a.n_prompt.iter().copied().max().unwrap_or(0);
    let g = a.n_gen.iter().copied().max().unwrap_or(0);
    let room = n_ctx_train.saturating_sub(p.max(g));
    let mut notes = Vec::new();
    if a.ctx.is_some() {
        return notes;
    }
    for d in a.n_depth.iter_mut() {
        if *d > room && *d <= n_ctx_train {
            notes.push(format!(
                "depth {d} leaves no room for {} tokens in the trained context of {n_ctx_train}: using depth {room}",
                p.max(g)
            ));
            *d = room;
        }
    }
    notes
}

fn choose_ctx(a: &Args, n_ctx_train: usize) -> Result<usize> {
    let need = needed_ctx(a);
    match a.ctx {
        Some(0) => bail!("--ctx must be at least 1"),
        Some(c) if c > n_ctx_train => {
            bail!("--ctx {c} is larger than the model's trained context ({n_ctx_train} tokens)")
        }
        Some(c) if c < need => bail!(
            "--ctx {c} is too small: the tests need {need} tokens (max depth + max(prompt, gen))"
        ),
        Some(c) => Ok(c),
        None => {
            if need > n_ctx_train {
                bail!(
                    "the tests need {need} tokens of context (max depth + max(prompt, gen)) but \
                     the model's trained context is {n_ctx_train}"
                );
            }
            Ok(need.div_ceil(256).saturating_mul(256).clamp(1, n_ctx_train))
        }
    }
}

fn validate(a: &Args) -> Result<()> {
    check_list("-p/--n-prompt", &a.n_prompt)?;
    check_list("-n/--n-gen", &a.n_gen)?;
    check_list("-d/--n-depth", &a.n_depth)?;
    check_list("-s/--sequences", &a.sequences)?;
    if a.sequences.contains(&0) {
        bail!("-s/--sequences: sequence counts must be at least 1");
    }
    if a.threads.contains(&0) {
        bail!("-t/--threads: thread counts must be at least 1");
    }
    if a.reps == 0 {
        bail!("-r/--repetitions must be at least 1");
    }
    if a.n_prompt.iter().chain(&a.n_gen).all(|&n| n == 0) {
        bail!("nothing to run: every -p and -n value is 0");
    }
    Ok(())
}

fn fmt_bytes(b: u64) -> String {
    let b = b as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2} GiB", b / (1024.0 * 1024.0 * 1024.0))
    } else {
        format!("{:.2} MiB", b / (1024.0 * 1024.0))
    }
}

fn fmt_params(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.2} B", n / 1e9)
    } else {
        format!("{:.2} M", n / 1e6)
    }
}

pub fn main(mut a: Args) -> Result<()> {
    validate(&a)?;
    if a.threads.is_empty() {
        a.threads = vec![std::thread::available_parallelism().map_or(1, |n| n.get())];
    }
    // Every model is resolved (and fetched) before any test runs, so a bad name fails
    // fast and the table's model column fits every name.
    let models: Vec<Option<PathBuf>> = if a.model.is_empty() {
        vec![None]
    } else {
        a.model.iter().cloned().map(Some).collect()
    };
    let refs = models
        .iter()
        .map(|m| crate::resolve::resolve(m.as_deref(), &wren_core::paths::DEFAULT_MODEL))
        .collect::<Result<Vec<_>>>()?;
    let name_width = refs
        .iter()
        .map(|r| file_name(&r.path).chars().count())
        .max()
        .unwrap_or(0);
    let fmt = if a.json { Format::Json } else { a.output };
    let mut out = std::io::stdout().lock();
    let mut table = None;
    let mut footer = Vec::new();
    for r in &refs {
        let mut a = a.clone();
        a.model = vec![r.path.clone()];
        footer.push(bench_model(a, fmt, name_width, &mut table, &mut out)?);
    }
    if let Some(t) = table.as_mut() {
        t.finish(&mut out)?;
    }
    if fmt == Format::Md {
        writeln!(out)?;
        for line in footer {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |f| f.to_string_lossy().into_owned(),
    )
}

/// Runs every test on `a.model[0]`, writing rows into `table` (made at the first model);
/// returns the model's markdown footer line (context, KV, repetitions, peak RSS).
fn bench_model(
    mut a: Args,
    fmt: Format,
    name_width: usize,
    table: &mut Option<Table>,
    out: &mut impl Write,
) -> Result<String> {
    // Peak RSS per model: reset the process's high-water mark (Linux; ignored elsewhere).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let opts = ModelOpts {
        model: a.model.first().cloned(),
        threads: a.threads[0],
        ctx: None,
        compute: a.compute,
        kv: a.kv.clone(),
    };
    let l = opts.load(&wren_core::paths::DEFAULT_MODEL)?;
    let path = l.source.path.clone();
    let info = l.model.info().clone();
    for note in fit_depths(&mut a, info.n_ctx_train) {
        eprintln!("[wren] {note}");
    }
    let ctx = choose_ctx(&a, info.n_ctx_train)?;
    let sopts = a.kv.session_options(ctx, a.compute);
    let model_name = file_name(&path);
    let size: u64 = l.file.tensors().iter().map(|t| t.n_bytes).sum();
    let params: u64 = l.file.tensors().iter().map(|t| t.n_elements()).sum();
    let isa = wren_kernels::isa::isa().name();
    let compute = compute_name(a.compute);
    let bos = if l.tok.add_bos_default() {
        l.tok.bos_id()
    } else {
        None
    };

    let mut tests = Vec::new();
    for &depth in &a.n_depth {
        for &n in &a.n_prompt {
            if n > 0 {
                tests.push(Test {
                    kind: Kind::Prompt,
                    n,
                    depth,
                    seqs: 1,
                    spec: None,
                });
            }
        }
        for &n in &a.n_gen {
            for &seqs in &a.sequences {
                if n > 0 && a.spec.is_empty() {
                    tests.push(Test {
                        kind: Kind::Gen,
                        n,
                        depth,
                        seqs,
                        spec: None,
                    });
                }
            }
        }
    }

    for &depth in &a.n_depth {
        for &n in a.n_gen.iter().filter(|&&n| n > 0) {
            for &m in &a.spec {
                tests.push(Test {
                    kind: Kind::Gen,
                    n,
                    depth,
                    seqs: 1,
                    spec: Some(m),
                });
            }
        }
    }
    let fr = if a.spec.iter().any(|m| m.fr()) {
        let table = FrTable::path_for(&path);
        let d = FrDraft::load(l.model.as_ref(), &l.tok, Some(&table), a.draft_vocab)?;
        eprintln!(
            "[wren] fr draft head: {} tokens, ranked by {}; confidence threshold {:.2}",
            d.len(),
            d.source,
            d.threshold
        );
        Some(std::sync::Arc::new(d))
    } else {
        None
    };
    let mut sp = SpecTest {
        prompt: &a.spec_prompt,
        draft_max: a.draft_max,
        stats: SpecStats::default(),
    };
    let mut spec_stats = vec![SpecStats::default(); tests.len()];

    // Settings are checked (and the KV cache reported) before any output.
    let probe = Session::with_options(l.model.clone(), l.pool.clone(), &sopts)?;
    eprintln!("[wren] {}", describe_kv(&probe));
    drop(probe);

    let max_threads = a.threads.iter().max().copied().unwrap_or(1);
    let widest = [
        name_width.max(model_name.chars().count()),
        fmt_bytes(size).len(),
        fmt_params(params).len(),
        compute.len(),
        isa.len(),
        max_threads.to_string().len(),
        tests.iter().map(|t| t.name().len()).max().unwrap_or(4),
        20,
        9,
        9,
    ];
    let table = match table {
        Some(t) => t,
        None => {
            let t = table.insert(Table::new(fmt, widest));
            t.header(out)?;
            out.flush()?;
            t
        }
    };

    for (ti, &threads) in a.threads.iter().enumerate() {
        let pool = if ti == 0 && l.pool.current_num_threads() == threads {
            l.pool.clone()
        } else {
            thread_pool(threads)?
        };
        let mut session = Session::with_options(l.model.clone(), pool.clone(), &sopts)?;
        session.set_fr_draft(fr.clone());
        let mut others: Vec<Session> = Vec::new();
        // Warm-ups first, then the repetitions round-robin over the tests: a noisy
        // machine's slow drift then hits every test alike, and ratios between tests (one
        // stream vs 8) compare runs taken at the same time.
        let seed_of = |t: &Test| ((t.n as u64) << 32) ^ ((t.depth as u64) << 8) ^ (t.kind as u64);
        for t in &tests {
            while others.len() + 1 < t.seqs {
                others.push(Session::with_options(
                    l.model.clone(),
                    pool.clone(),
                    &sopts,
                )?);
            }
            if !a.no_warmup {
                // Same token sequences for every thread count and repetition of a test.
                let mut gen = TokenGen::new(info.vocab_size, seed_of(t));
                run_once(
                    &mut session,
                    &mut others,
                    &l.tok,
                    &mut gen,
                    *t,
                    bos,
                    &mut sp,
                )?;
            }
        }
        let mut all_samples = vec![Vec::with_capacity(a.reps); tests.len()];
        for _ in 0..a.reps {
            for (ti, (t, samples)) in tests.iter().zip(&mut all_samples).enumerate() {
                let mut gen = TokenGen::new(info.vocab_size, seed_of(t));
                samples.push(run_once(
                    &mut session,
                    &mut others,
                    &l.tok,
                    &mut gen,
                    *t,
                    bos,
                    &mut sp,
                )?);
                spec_stats[ti] = sp.stats;
            }
        }
        for (ti, (&t, samples)) in tests.iter().zip(&all_samples).enumerate() {
            let st = stats(samples);
            let sst = spec_stats[ti];
            if let Some(m) = t.spec {
                eprintln!(
                    "[wren] {} ({} threads): {}: accepted {}/{} drafted ({:.1}%), {} passes for {} tokens",
                    t.name(),
                    threads,
                    m.name(),
                    sst.accepted,
                    sst.drafted,
                    sst.acceptance(),
                    sst.passes,
                    t.n
                );
            }
            let rss = peak_rss_bytes();
            let v = json!({
                "test": t.name(),
                "kind": match t.kind { Kind::Prompt => "pp", Kind::Gen => "tg" },
                "n_tokens": t.n,
                "n_depth": t.depth,
                "n_sequences": t.seqs,
                "threads": threads,
                "reps": a.reps,
                "tokens_per_s": st.mean,
                "stddev": st.stddev,
                "min": st.min,
                "max": st.max,
                "median": st.median,
                "samples": samples,
                "peak_rss_bytes": rss,
                "compute": compute,
                "isa": isa,
                "model": model_name,
                "model_size_bytes": size,
                "model_params": params,
                "ctx": ctx,
                "kv_type": a.kv.kv_type.name(),
                "sparse": session.sparse().is_some(),
                "spec": t.spec.map(|m| m.name()),
                "spec_drafted": t.spec.map(|_| sst.drafted),
                "spec_accepted": t.spec.map(|_| sst.accepted),
                "spec_passes": t.spec.map(|_| sst.passes),
                "wren_version": env!("CARGO_PKG_VERSION"),
            });
            let cells = [
                model_name.clone(),
                fmt_bytes(size),
                fmt_params(params),
                compute.to_string(),
                isa.to_string(),
                threads.to_string(),
                t.name(),
                format!("{:.2} ± {:.2}", st.mean, st.stddev),
                format!("{:.2}", st.min),
                format!("{:.2}", st.median),
            ];
            table.row(out, cells, v)?;
        }
    }
    let rss = peak_rss_bytes().map_or_else(|| "n/a".to_string(), fmt_bytes);
    Ok(format!(
        "{model_name}: ctx {ctx}, KV {}{}, {} repetitions{}, peak RSS {rss}",
        a.kv.kv_type,
        if sopts.sparse.enabled == Some(true) {
            ", sparse"
        } else {
            ""
        },
        a.reps,
        if a.no_warmup { ", no warm-up" } else { "" }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(p: &[usize], n: &[usize], d: &[usize], ctx: Option<usize>) -> Args {
        Args {
            model: Vec::new(),
            n_prompt: p.to_vec(),
            n_gen: n.to_vec(),
            n_depth: d.to_vec(),
            sequences: vec![1],
            threads: vec![1],
            reps: 1,
            ctx,
            compute: Compute::Auto,
            kv: KvOpts::default(),
            no_warmup: false,
            output: Format::Md,
            json: false,
            spec: Vec::new(),
            draft_max: 8,
            draft_vocab: 0,
            spec_prompt: String::new(),
        }
    }

    #[test]
    fn stats_of_samples() {
        let s = stats(&[1.0, 3.0, 2.0, 4.0]);
        assert_eq!(s.mean, 2.5);
        assert_eq!(s.median, 2.5);
        assert_eq!(s.min, 1.0);
        assert_eq!(s.max, 4.0);
        assert!((s.stddev - 1.290_994_448_7).abs() < 1e-9);
        let one = stats(&[5.0]);
        assert_eq!((one.mean, one.stddev, one.median), (5.0, 0.0, 5.0));
    }

    #[test]
    fn test_names() {
        let t = Test {
            kind: Kind::Gen,
            n: 128,
            depth: 4096,
            seqs: 1,
            spec: None,
        };
        assert_eq!(t.name(), "tg128@d4096");
        let b = Test { seqs: 8, ..t };
        assert_eq!(b.name(), "tg128x8@d4096");
        let f = Test {
            spec: Some(SpecMode::Fr),
            ..t
        };
        assert_eq!(f.name(), "tg128+fr@d4096");
        let p = Test {
            kind: Kind::Prompt,
            n: 512,
            depth: 0,
            seqs: 1,
            spec: None,
        };
        assert_eq!(p.name(), "pp512");
    }

    #[test]
    fn context_choice() {
        assert_eq!(
            choose_ctx(&args(&[512], &[128], &[0], None), 32768).unwrap(),
            512
        );
        assert_eq!(
            choose_ctx(&args(&[512], &[128], &[0, 4096], None), 32768).unwrap(),
            4608
        );
        assert_eq!(
            choose_ctx(&args(&[64], &[16], &[0], None), 32768).unwrap(),
            256
        );
        assert!(choose_ctx(&args(&[512], &[128], &[0], None), 300).is_err());
        assert!(choose_ctx(&args(&[512], &[128], &[0], Some(511)), 32768).is_err());
        assert_eq!(
            choose_ctx(&args(&[512], &[128], &[0], Some(600)), 32768).unwrap(),
            600
        );
        assert!(choose_ctx(&args(&[512], &[128], &[0], Some(0)), 32768).is_err());
    }

    #[test]
    fn depth_32k_fits_the_trained_context() {
        let mut a = args(&[0], &[8], &[0, 4096, 16384, 32768], None);
        let notes = fit_depths(&mut a, 32768);
        assert_eq!(a.n_depth, vec![0, 4096, 16384, 32760]);
        assert_eq!(notes.len(), 1);
        assert_eq!(choose_ctx(&a, 32768).unwrap(), 32768);
        // With --ctx given, nothing is adjusted and the mismatch is an error.
        let mut a = args(&[0], &[8], &[32768], Some(32768));
        assert!(fit_depths(&mut a, 32768).is_empty());
        assert!(choose_ctx(&a, 32768).is_err());
        // A depth past the trained context is not silently shrunk.
        let mut a = args(&[0], &[8], &[40000], None);
        assert!(fit_depths(&mut a, 32768).is_empty());
        assert!(choose_ctx(&a, 32768).is_err());
    }

    #[test]
    fn validation() {
        assert!(validate(&args(&[512], &[128], &[0], None)).is_ok());
        assert!(validate(&args(&[], &[128], &[0], None)).is_err());
        assert!(validate(&args(&[0], &[0], &[0], None)).is_err());
        let mut a = args(&[512], &[128], &[0], None);
        a.threads = vec![1, 0];
        assert!(validate(&a).is_err());
        a.threads = vec![1];
        a.reps = 0;
        assert!(validate(&a).is_err());
    }
}
