//! Tokenizer throughput: `cargo run --release -p wren-core --example tokbench --
//! MODEL.gguf TEXT_FILE [REPEAT_TO_BYTES] [RUNS]`.
//!
//! Loads only the tokenizer from the model's metadata, repeats the text until it is at
//! least `REPEAT_TO_BYTES` long (default 1 MiB), encodes it `RUNS` times (default 5)
//! without special-token parsing and prints the best and median MB/s (1 MB = 10^6
//! bytes), plus a decode check.

use std::path::PathBuf;
use std::time::Instant;

use wren_core::tokenizer::Tokenizer;
use wren_gguf::GgufFile;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: tokbench MODEL.gguf TEXT_FILE [REPEAT_TO_BYTES] [RUNS]");
        std::process::exit(2);
    }
    let model = PathBuf::from(&args[0]);
    let base = std::fs::read_to_string(&args[1]).expect("read text file");
    let target: usize = args.get(2).map_or(1 << 20, |s| s.parse().expect("bytes"));
    let runs: usize = args.get(3).map_or(5, |s| s.parse().expect("runs"));
    assert!(!base.is_empty(), "empty text file");

    let mut text = String::with_capacity(target + base.len());
    while text.len() < target {
        text.push_str(&base);
    }

    let f = GgufFile::open(&model).expect("open model");
    let t0 = Instant::now();
    let tok = Tokenizer::from_gguf(&f).expect("tokenizer");
    println!(
        "{}: tokenizer built in {:.1} ms ({:?})",
        model.display(),
        t0.elapsed().as_secs_f64() * 1e3,
        tok
    );

    let mut times = Vec::with_capacity(runs);
    let mut n_tokens = 0;
    for _ in 0..runs {
        let t0 = Instant::now();
        let ids = tok.encode(&text, false, false);
        times.push(t0.elapsed().as_secs_f64());
        n_tokens = ids.len();
    }
    times.sort_by(f64::total_cmp);
    let mb = text.len() as f64 / 1e6;
    let ids = tok.encode(&text, false, false);
    assert_eq!(tok.decode(&ids), text, "decode round trip");
    println!(
        "{} bytes -> {n_tokens} tokens ({:.2} bytes/token); encode best {:.1} MB/s, median {:.1} MB/s over {runs} runs",
        text.len(),
        text.len() as f64 / n_tokens as f64,
        mb / times[0],
        mb / times[times.len() / 2],
    );
}
