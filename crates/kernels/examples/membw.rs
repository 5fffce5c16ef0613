//! Memory read bandwidth: sum a large f32 array with 1, 2, … threads.
//!
//! `cargo run --release -p wren-kernels --example membw -- --threads 1,2 --size-mib 1024 --reps 10 [--json] [--method dot|loop]`
//!
//! Each thread sums its own contiguous slice of one shared array. `--method dot` (the
//! default) uses the dispatched SIMD kernel `wren_kernels::ops::dot` against a small vector
//! of ones that stays in L1 (so the only memory traffic is the array itself); `--method
//! loop` uses a plain 32-accumulator loop that the compiler vectorizes for the baseline
//! target. Prints the best and median GB/s (10^9 bytes/s) per thread count.
//!
//! The decode-speed ceiling of a model is roughly bandwidth ÷ bytes of weights read per
//! token, which is what this figure is for.

use std::time::Instant;

use wren_kernels::ops::dot;

/// Elements per `dot` call: 16 KiB of array against 16 KiB of ones (both fit in L1).
const CHUNK: usize = 4096;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Method {
    Dot,
    Loop,
}

fn sum_dot(x: &[f32], ones: &[f32]) -> f64 {
    // f32 partial sums per chunk, f64 across chunks (exact for the test data).
    x.chunks(CHUNK)
        .map(|c| f64::from(dot(c, &ones[..c.len()])))
        .sum()
}

fn sum_loop(x: &[f32]) -> f64 {
    x.chunks(CHUNK)
        .map(|c| {
            let mut acc = [0f32; 32];
            let mut lanes = c.chunks_exact(32);
            for l in &mut lanes {
                for (a, v) in acc.iter_mut().zip(l) {
                    *a += *v;
                }
            }
            f64::from(acc.iter().sum::<f32>() + lanes.remainder().iter().sum::<f32>())
        })
        .sum()
}

/// One timed pass over `data` with `threads` threads; returns (seconds, checksum).
fn pass(data: &[f32], threads: usize, method: Method, ones: &[f32]) -> (f64, f64) {
    let per = data.len().div_ceil(threads);
    let start = Instant::now();
    let total = std::thread::scope(|sc| {
        let handles: Vec<_> = data
            .chunks(per)
            .map(|part| {
                sc.spawn(move || match method {
                    Method::Dot => sum_dot(part, ones),
                    Method::Loop => sum_loop(part),
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker panicked"))
            .sum::<f64>()
    });
    (start.elapsed().as_secs_f64(), total)
}

fn parse_list(s: &str) -> Result<Vec<usize>, String> {
    let v: Result<Vec<usize>, _> = s.split(',').map(|x| x.trim().parse::<usize>()).collect();
    let v = v.map_err(|e| format!("bad --threads list {s:?}: {e}"))?;
    if v.is_empty() || v.contains(&0) {
        return Err(format!("--threads needs counts of at least 1, got {s:?}"));
    }
    Ok(v)
}

fn usage() -> ! {
    eprintln!(
        "usage: membw [--threads 1,2] [--size-mib 1024] [--reps 10] [--method dot|loop] [--json]"
    );
    std::process::exit(2)
}

fn main() {
    let mut threads = vec![1, 2];
    let mut size_mib = 1024usize;
    let mut reps = 10usize;
    let mut json = false;
    let mut method = Method::Dot;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        let r: Result<(), String> = match a.as_str() {
            "--threads" | "-t" => parse_list(&val()).map(|v| threads = v),
            "--size-mib" => val()
                .parse()
                .map(|v| size_mib = v)
                .map_err(|e| format!("bad --size-mib: {e}")),
            "--reps" | "-r" => val()
                .parse()
                .map(|v| reps = v)
                .map_err(|e| format!("bad --reps: {e}")),
            "--method" => match val().as_str() {
                "dot" => {
                    method = Method::Dot;
                    Ok(())
                }
                "loop" => {
                    method = Method::Loop;
                    Ok(())
                }
                m => Err(format!("unknown --method {m:?} (dot or loop)")),
            },
            "--json" => {
                json = true;
                Ok(())
            }
            "-h" | "--help" => usage(),
            other => Err(format!("unknown argument {other:?}")),
        };
        if let Err(e) = r {
            eprintln!("membw: {e}");
            usage();
        }
    }
    if size_mib == 0 || reps == 0 {
        eprintln!("membw: --size-mib and --reps must be at least 1");
        usage();
    }

    let n = size_mib * 1024 * 1024 / 4;
    let bytes = (n * 4) as f64;
    // Written once so every page is really backed (and not the shared zero page).
    let data: Vec<f32> = (0..n).map(|i| (i % 7) as f32).collect();
    let ones = vec![1f32; CHUNK];
    let want: f64 = (0..7u64)
        .map(|v| v as f64 * ((n as u64 + 6 - v) / 7) as f64)
        .sum();
    let isa = wren_kernels::isa::isa().name();
    let method_name = match method {
        Method::Dot => "dot",
        Method::Loop => "loop",
    };
    if !json {
        println!("array {size_mib} MiB, {reps} reps, method {method_name} (isa {isa})");
        println!("| threads | best GB/s | median GB/s | min GB/s |\n| ---: | ---: | ---: | ---: |");
    }
    for &t in &threads {
        // Warm-up pass (also checks the sum).
        let (_, got) = pass(&data, t, method, &ones);
        if ((got - want) / want).abs() > 1e-3 {
            eprintln!("membw: checksum {got} differs from {want}");
        }
        let mut gbs: Vec<f64> = (0..reps)
            .map(|_| bytes / pass(&data, t, method, &ones).0 / 1e9)
            .collect();
        let samples = gbs.clone();
        gbs.sort_by(|a, b| a.total_cmp(b));
        let best = gbs[gbs.len() - 1];
        let min = gbs[0];
        let k = gbs.len();
        let median = if k % 2 == 1 {
            gbs[k / 2]
        } else {
            (gbs[k / 2 - 1] + gbs[k / 2]) / 2.0
        };
        if json {
            let s: Vec<String> = samples.iter().map(|v| format!("{v:.3}")).collect();
            println!(
                "{{\"threads\":{t},\"best_gb_s\":{best:.3},\"median_gb_s\":{median:.3},\"min_gb_s\":{min:.3},\"samples_gb_s\":[{}],\"size_mib\":{size_mib},\"reps\":{reps},\"method\":\"{method_name}\",\"isa\":\"{isa}\"}}",
                s.join(",")
            );
        } else {
            println!("| {t} | {best:.1} | {median:.1} | {min:.1} |");
        }
    }
}
