//! Everyday commands: models by name (`list`, `show`, `rm`, `pull`), `info` never
//! downloading, `run`'s llama.cpp habits (`-p`, `--system`, `-n 0`, `--json`),
//! `detokenize`, `bench -o`, piped `chat`, and a description for every flag. Tests that
//! need the real models are ignored by default (scripts/test.sh runs them).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use wren_core::catalog::{GEMMA3_270M, SMOLLM2_135M_INSTRUCT};

/// `wren ARGS` with the cache directory set to `cache`.
fn wren_in(cache: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wren"))
        .args(args)
        .env("WREN_CACHE_DIR", cache)
        .env_remove("WREN_MODEL")
        .output()
        .expect("run wren")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A scratch cache directory, removed when dropped.
struct Cache(PathBuf);

impl Cache {
    fn new(tag: &str) -> Cache {
        let d = std::env::temp_dir().join(format!("wren-everyday-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Cache(d)
    }

    /// The real model file of the user's cache, linked into this one.
    fn link(&self, m: &wren_core::catalog::CatalogModel) {
        let real = m.path();
        assert!(
            real.is_file(),
            "{} missing: run `wren pull {}`",
            real.display(),
            m.name
        );
        std::os::unix::fs::symlink(&real, self.0.join(m.file)).unwrap();
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn empty_cache_lists_the_catalogue_and_never_downloads_to_inspect() {
    let c = Cache::new("empty");
    let o = wren_in(&c.0, &["list"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    for name in ["gemma3-270m", "smollm2-135m-instruct"] {
        let line = out
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{out}"));
        assert!(line.contains("not downloaded"), "{line}");
    }
    assert!(
        out.contains("Q4_K_M") && out.contains("Q4_1") && out.contains("llama"),
        "{out}"
    );
    // info / show without the model: a clear error saying how to fetch, no download.
    for args in [&["info"][..], &["show"], &["show", "smollm2-135m-instruct"]] {
        let o = wren_in(&c.0, args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("not downloaded") && err.contains("wren pull"),
            "{err}"
        );
        assert!(!err.contains("downloading"), "{err}");
    }
    assert_eq!(
        std::fs::read_dir(&c.0).unwrap().count(),
        0,
        "something was written"
    );
}

#[test]
fn bad_names_name_the_cause() {
    let c = Cache::new("names");
    // Hub names (`owner/repo/file.gguf`) are tested against a local stand-in in hub.rs;
    // nothing here may reach out to a real hub.
    let cases: [(&[&str], &str); 4] = [
        (&["rm", "nope"], "unknown model name \"nope\""),
        (&["rm", "gemma3-270m"], "not downloaded"),
        (&["pull", "nope"], "unknown model name"),
        (&["show", "/"], "is a directory"),
    ];
    for (args, want) in cases {
        let o = wren_in(&c.0, args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    let o = wren_in(&c.0, &["detokenize", "1,x"]);
    assert!(
        text(&o.stderr).contains("\"x\" is not a token id"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn every_flag_has_a_description() {
    let c = Cache::new("help");
    let cmds = [
        "run",
        "chat",
        "info",
        "show",
        "list",
        "rm",
        "pull",
        "tokenize",
        "detokenize",
        "logits",
        "perplexity",
        "bench",
        "serve",
    ];
    for cmd in cmds {
        let o = wren_in(&c.0, &[cmd, "--help"]);
        assert!(o.status.success(), "{cmd}: {}", text(&o.stderr));
        let help = text(&o.stdout);
        // Long help puts each option on a line (`  -x, --flag <V>`) with its description
        // either after it on the same line or on the more indented line below.
        let lines: Vec<&str> = help.lines().collect();
        let indent = |l: &str| l.len() - l.trim_start().len();
        for (i, line) in lines.iter().enumerate() {
            let t = line.trim();
            let option = t.starts_with("--")
                || (t.starts_with('-') && t[1..].starts_with(|c: char| c.is_ascii_alphabetic()));
            if !option {
                continue;
            }
            let same_line = t.split("  ").filter(|p| !p.trim().is_empty()).count() >= 2;
            let next_line = lines.get(i + 1).is_some_and(|n| {
                !n.trim().is_empty() && indent(n) > indent(line) && !n.trim().starts_with('-')
            });
            assert!(
                same_line || next_line,
                "wren {cmd}: no description for `{t}`"
            );
        }
    }
}

#[test]
#[ignore = "needs both real models (scripts/test.sh fetches them)"]
fn cached_models_list_show_and_rm() {
    let c = Cache::new("cached");
    c.link(&GEMMA3_270M);
    c.link(&SMOLLM2_135M_INSTRUCT);
    let out = text(&wren_in(&c.0, &["list"]).stdout);
    assert_eq!(out.matches(" cached ").count(), 2, "{out}");
    let o = wren_in(&c.0, &["show", "smollm2-135m-instruct"]);
    let out = text(&o.stdout);
    assert!(o.status.success(), "{}", text(&o.stderr));
    for want in [
        "architecture     llama",
        "parameters       134.5 M (134515008)",
        "quantization     Q4_1",
        "context length   8192",
        "chat template    yes",
    ] {
        assert!(out.contains(want), "missing {want:?}: {out}");
    }
    assert!(!out.contains("token_embd.weight"), "{out}");
    let out = text(&wren_in(&c.0, &["show", "--verbose", "gemma3-270m"]).stdout);
    assert!(out.contains("quantization     Q4_K_M"), "{out}");
    assert!(
        out.contains("token_embd.weight") && out.contains("gemma3.block_count"),
        "{out}"
    );
    // A path works too.
    let p = c.0.join(GEMMA3_270M.file);
    let out = text(&wren_in(&c.0, &["show", p.to_str().unwrap()]).stdout);
    assert!(out.contains("architecture     gemma3"), "{out}");
    // rm deletes the cached file (here the link), and list says so.
    let o = wren_in(&c.0, &["rm", "gemma3-270m"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(!p.exists());
    let out = text(&wren_in(&c.0, &["list"]).stdout);
    let line = out.lines().find(|l| l.starts_with("gemma3-270m")).unwrap();
    assert!(line.contains("not downloaded"), "{out}");
}

#[test]
#[ignore = "needs both real models (scripts/test.sh fetches them)"]
fn run_habits_from_llama_cpp() {
    let c = Cache::new("run");
    c.link(&GEMMA3_270M);
    c.link(&SMOLLM2_135M_INSTRUCT);
    // -p is the positional prompt; run names its model on stderr.
    let a = wren_in(
        &c.0,
        &[
            "run",
            "--greedy",
            "-n",
            "8",
            "-p",
            "The capital of France is",
        ],
    );
    let b = wren_in(
        &c.0,
        &["run", "--greedy", "-n", "8", "The capital of France is"],
    );
    assert!(a.status.success(), "{}", text(&a.stderr));
    assert_eq!(text(&a.stdout), text(&b.stdout));
    let err = text(&a.stderr);
    assert!(err.contains("[wren] model: gemma3-270m ("), "{err}");
    // -n 0: nothing generated, exit 0.
    let o = wren_in(&c.0, &["run", "-n", "0", "--no-echo", "Hello"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout).trim(), "");
    assert!(
        text(&o.stderr).contains("generated 0 tokens"),
        "{}",
        text(&o.stderr)
    );
    // --json: one object with the text and the statistics.
    let o = wren_in(
        &c.0,
        &[
            "run",
            "--json",
            "--greedy",
            "-n",
            "8",
            "The capital of France is",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(text(&o.stdout).trim()).unwrap();
    assert_eq!(v["model"], "gemma3-270m");
    assert_eq!(v["prompt"], "The capital of France is");
    assert_eq!(v["generated_tokens"], 8);
    assert_eq!(v["finish"], "length");
    assert!(v["prompt_tokens"].as_u64().unwrap() > 1);
    assert!(v["decode_tps"].as_f64().unwrap() > 0.0);
    let streamed = text(&b.stdout);
    assert_eq!(
        format!("The capital of France is{}", v["text"].as_str().unwrap()),
        streamed.trim_end_matches('\n')
    );
    // --system: the instruct model answers through its template.
    let o = wren_in(
        &c.0,
        &[
            "run",
            "-m",
            "smollm2-135m-instruct",
            "--greedy",
            "-n",
            "24",
            "--system",
            "You are a helpful assistant.",
            "What is the capital of France?",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("Paris"), "{}", text(&o.stdout));
    // --chat-template-file replaces the model's template (it once collided with -f, the
    // prompt file, and could not be used with a prompt).
    let tpl = c.0.join("tpl.jinja");
    std::fs::write(
        &tpl,
        "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}\
         {% if add_generation_prompt %}[assistant]{% endif %}",
    )
    .unwrap();
    let smol = ["-m", "smollm2-135m-instruct"];
    let o = wren_in(
        &c.0,
        &[
            &["run", "-n", "0", "--json"][..],
            &smol,
            &["--chat-template-file"],
        ]
        .concat()
        .into_iter()
        .chain([tpl.to_str().unwrap(), "--system", "Be brief.", "Hi"])
        .collect::<Vec<_>>(),
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(text(&o.stdout).trim()).unwrap();
    let rendered = "[system]Be brief.[user]Hi[assistant]";
    let ids = wren_in(&c.0, &[&["tokenize"][..], &smol, &[rendered]].concat());
    let ids: Vec<u32> = serde_json::from_str(text(&ids.stdout).trim()).unwrap();
    assert_eq!(v["prompt_tokens"], ids.len(), "{}", text(&o.stderr));
    // logits takes ids as detokenize does; --no-bos does not apply to given ids.
    let a = wren_in(&c.0, &["logits", "--top", "1", "--tokens", "2,818"]);
    let b = wren_in(&c.0, &["logits", "--top", "1", "--tokens", "[2, 818]"]);
    assert!(a.status.success(), "{}", text(&a.stderr));
    assert_eq!(text(&a.stdout), text(&b.stdout), "{}", text(&b.stderr));
    let o = wren_in(&c.0, &["logits", "--no-bos", "--tokens", "2,818"]);
    assert!(
        text(&o.stderr).contains("cannot be used with"),
        "{}",
        text(&o.stderr)
    );
    // detokenize inverts tokenize.
    let ids = text(&wren_in(&c.0, &["tokenize", "--no-bos", "Hello world"]).stdout);
    let o = wren_in(&c.0, &["detokenize", ids.trim()]);
    assert_eq!(text(&o.stdout), "Hello world\n", "{}", text(&o.stderr));
    let o = wren_in(&c.0, &["detokenize", "9259,1902"]);
    assert_eq!(text(&o.stdout), "Hello world\n", "{}", text(&o.stderr));
}

#[test]
#[ignore = "needs the real model (scripts/test.sh fetches it)"]
fn bench_output_formats() {
    let c = Cache::new("bench");
    c.link(&GEMMA3_270M);
    let base = [
        "bench",
        "-p",
        "8",
        "-n",
        "2",
        "-r",
        "1",
        "-t",
        "1",
        "--no-warmup",
    ];
    let run = |extra: &[&str]| {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        let o = wren_in(&c.0, &args);
        assert!(o.status.success(), "{extra:?}: {}", text(&o.stderr));
        text(&o.stdout)
    };
    let md = run(&[]);
    let rows: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
    assert_eq!(rows.len(), 4, "{md}");
    let bars = |l: &str| -> Vec<usize> {
        l.chars()
            .enumerate()
            .filter(|(_, c)| *c == '|')
            .map(|(i, _)| i)
            .collect()
    };
    assert!(
        rows.iter().all(|r| bars(r) == bars(rows[0])),
        "columns not aligned:\n{md}"
    );
    let csv = run(&["-o", "csv"]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("model,model_size_bytes,"), "{csv}");
    let json = run(&["-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[0]["test"], "pp8");
    // --json is -o json.
    let v: serde_json::Value = serde_json::from_str(&run(&["--json"])).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    let jsonl = run(&["-o", "jsonl"]);
    assert_eq!(jsonl.lines().count(), 2);
    for l in jsonl.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(v["tokens_per_s"].as_f64().unwrap() > 0.0);
    }
    // Several models in one table: each model's rows, in order, one footer line each.
    let moe = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../core/tests/data/families/qwen3moe/qwen3moe.Q8_0.gguf"
    );
    let two = format!("gemma3-270m,{moe}");
    let md = run(&["-m", &two]);
    let rows: Vec<&str> = md
        .lines()
        .filter(|l| l.starts_with('|') && !l.contains(":--"))
        .collect();
    assert_eq!(rows.len(), 5, "{md}");
    assert!(
        rows[1].contains("gemma-3-270m") && rows[2].contains("gemma-3-270m"),
        "{md}"
    );
    assert!(
        rows[3].contains("qwen3moe.Q8_0.gguf") && rows[4].contains("qwen3moe"),
        "{md}"
    );
    assert!(
        rows.iter().all(|r| bars(r) == bars(rows[0])),
        "columns not aligned:\n{md}"
    );
    assert_eq!(
        md.lines().filter(|l| l.contains("peak RSS")).count(),
        2,
        "{md}"
    );
    let v: serde_json::Value = serde_json::from_str(&run(&["-m", &two, "-o", "json"])).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["model"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "gemma-3-270m-q4_k_m.gguf",
            "gemma-3-270m-q4_k_m.gguf",
            "qwen3moe.Q8_0.gguf",
            "qwen3moe.Q8_0.gguf"
        ]
    );
    // A bad name fails before any test runs.
    let o = wren_in(
        &c.0,
        &[
            "bench",
            "-m",
            "gemma3-270m,no-such-model",
            "-p",
            "8",
            "-n",
            "0",
        ],
    );
    assert!(!o.status.success());
    assert!(text(&o.stdout).is_empty(), "{}", text(&o.stdout));
}

/// `run --json-schema / --regex / --grammar` (Lark and GBNF): the output alone on stdout,
/// and it matches; bad grammars are errors that say what is wrong.
#[test]
#[ignore = "needs SmolLM2 (scripts/test.sh fetches it)"]
fn run_constrained_output() {
    let c = Cache::new("constrained");
    c.link(&SMOLLM2_135M_INSTRUCT);
    let schema = c.0.join("person.json");
    std::fs::write(
        &schema,
        r#"{"type": "object", "properties": {"name": {"type": "string", "maxLength": 20},
            "age": {"type": "integer", "minimum": 0, "maximum": 150}},
            "required": ["name", "age"], "additionalProperties": false}"#,
    )
    .unwrap();
    let lark = c.0.join("yn.lark");
    std::fs::write(&lark, "start: \"yes\" | \"no\"\n").unwrap();
    let gbnf = c.0.join("yn.gbnf");
    std::fs::write(
        &gbnf,
        "# yes or no\nroot ::= answer \".\"\nanswer ::= \"yes\" | \"no\"\n",
    )
    .unwrap();
    let m = [
        "run",
        "-m",
        "smollm2-135m-instruct",
        "--system",
        "Answer briefly.",
    ];
    let run = |extra: &[&str], prompt: &str| {
        let mut args: Vec<&str> = m.to_vec();
        args.extend_from_slice(extra);
        args.push(prompt);
        let o = wren_in(&c.0, &args);
        assert!(o.status.success(), "{}", text(&o.stderr));
        (text(&o.stdout), text(&o.stderr))
    };
    for seed in ["1", "2", "3"] {
        let (out, err) = run(
            &["--json-schema", schema.to_str().unwrap(), "--seed", seed],
            "Describe Ada Lovelace as JSON.",
        );
        let v: serde_json::Value =
            serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{out:?}: {e}"));
        assert!(v["name"].is_string() && v["age"].is_u64(), "{out}");
        assert!(
            err.contains("[wren] grammar: ") && err.contains("ms/token"),
            "{err}"
        );
    }
    let (out, _) = run(&["--regex", "[0-9]{3}-[0-9]{4}"], "A phone number?");
    let out = out.trim_end();
    assert!(out.len() == 8 && out.as_bytes()[3] == b'-', "{out:?}");
    let (out, _) = run(&["--grammar", lark.to_str().unwrap()], "Is water wet?");
    assert!(["yes", "no"].contains(&out.trim_end()), "{out:?}");
    let (out, _) = run(&["--grammar", gbnf.to_str().unwrap()], "Is water wet?");
    assert!(["yes.", "no."].contains(&out.trim_end()), "{out:?}");
    // Errors: a bad regex, a GBNF without root, two constraints at once.
    for (extra, want) in [
        (vec!["--regex", "(unclosed"], "invalid regex"),
        (
            vec!["--regex", "a", "--grammar", lark.to_str().unwrap()],
            "cannot be used with",
        ),
    ] {
        let mut args: Vec<&str> = m.to_vec();
        args.extend_from_slice(&extra);
        args.push("x");
        let o = wren_in(&c.0, &args);
        assert!(!o.status.success());
        assert!(text(&o.stderr).contains(want), "{}", text(&o.stderr));
    }
    std::fs::write(&gbnf, "answer ::= \"yes\"\n").unwrap();
    let mut args: Vec<&str> = m.to_vec();
    args.extend(["--grammar", gbnf.to_str().unwrap(), "x"]);
    let o = wren_in(&c.0, &args);
    assert!(
        text(&o.stderr).contains("no `root` rule"),
        "{}",
        text(&o.stderr)
    );
}

/// `--spec ngram`: the same text as without it, the acceptance on the stats line and in
/// `--json`; bad values are clear errors.
#[test]
#[ignore = "needs the real model (scripts/test.sh fetches it)"]
fn speculative_run_gives_the_same_text() {
    let c = Cache::new("spec");
    c.link(&GEMMA3_270M);
    let prompt = "Copy the list exactly.\nList: red, green, blue, yellow, purple, orange.\nCopy: red, green,";
    let run = |spec: &str| {
        let o = wren_in(
            &c.0,
            &[
                "run", "--greedy", "-n", "24", "--spec", spec, "--json", prompt,
            ],
        );
        assert!(o.status.success(), "{}", text(&o.stderr));
        let v: serde_json::Value = serde_json::from_str(text(&o.stdout).trim()).unwrap();
        v
    };
    let (off, on) = (run("off"), run("ngram"));
    assert_eq!(off["text"], on["text"]);
    assert_eq!(on["spec"], "ngram");
    assert!(on["accepted_tokens"].as_u64().unwrap() > 0, "{on}");
    assert_eq!(off["drafted_tokens"], 0);
    let o = wren_in(
        &c.0,
        &["run", "--greedy", "-n", "8", "--spec", "ngram", prompt],
    );
    let err = text(&o.stderr);
    assert!(
        err.contains("decode ") && err.contains("spec ngram: accepted "),
        "{err}"
    );
    let o = wren_in(&c.0, &["run", "--spec", "medusa", "hi"]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("off, ngram"),
        "{}",
        text(&o.stderr)
    );
    let o = wren_in(&c.0, &["run", "--spec", "ngram", "--draft-max", "0", "hi"]);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("1..=32"), "{}", text(&o.stderr));
    // A bad draft length is refused by the server too, before it listens.
    let o = wren_in(
        &c.0,
        &["serve", "--spec", "fr", "--draft-max", "40", "--port", "1"],
    );
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("1..=32"), "{}", text(&o.stderr));
}

#[test]
#[ignore = "needs the real SmolLM2 model (scripts/test.sh fetches it)"]
fn piped_chat_keeps_the_conversation_a_message_too_long_for_the_context_would_lose() {
    use std::io::Write;
    let c = Cache::new("chat");
    c.link(&SMOLLM2_135M_INSTRUCT);
    let saved = c.0.join("conv.json");
    let chat = |args: &[&str], input: &str| {
        let mut p = Command::new(env!("CARGO_BIN_EXE_wren"))
            .args(args)
            .env("WREN_CACHE_DIR", &c.0)
            .env_remove("WREN_MODEL")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        p.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        p.wait_with_output().unwrap()
    };
    let long = "word ".repeat(600);
    let input = format!("My name is Bob.\n{long}\n/save {}\n", saved.display());
    let o = chat(&["chat", "--greedy", "-n", "8", "--ctx", "512"], &input);
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("not sent, the conversation is unchanged"),
        "{err}"
    );
    assert!(err.contains("reply cut at -n 8 tokens"), "{err}");
    // The first exchange survives the refused message (it was once trimmed away).
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&saved).unwrap()).unwrap();
    let msgs = v["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2, "{v}");
    assert_eq!(msgs[0]["content"], "My name is Bob.");
    // -n 0 would leave no room for a reply: refused, not a hidden one-token reply.
    let o = chat(&["chat", "-n", "0"], "hi\n");
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("chat needs -n of at least 1"));
}

#[test]
fn wren_model_names_the_model_without_m_and_never_a_catalogue_entry() {
    let c = Cache::new("envmodel");
    let with = |model: &Path, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_wren"))
            .args(args)
            .env("WREN_CACHE_DIR", &c.0)
            .env("WREN_MODEL", model)
            .output()
            .unwrap()
    };
    // A missing file is named, not reported as the default model missing.
    let missing = c.0.join("nowhere.gguf");
    let o = with(&missing, &["show"]);
    let err = text(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("$WREN_MODEL") && err.contains("nowhere.gguf"),
        "{err}"
    );
    // `rm` of the default catalogue model removes its cache copy only: the file that
    // $WREN_MODEL names is the user's own (it was once taken as the default model's path).
    let mine = c.0.join("mine.gguf");
    std::fs::write(&mine, b"not a model").unwrap();
    let o = with(&mine, &["rm", GEMMA3_270M.name]);
    assert!(mine.is_file(), "{}", text(&o.stderr));
}
