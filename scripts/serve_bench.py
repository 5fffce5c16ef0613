#!/usr/bin/env python3
"""Server benchmarks for `wren serve` (Python 3 standard library only).

(a) batching: `wren serve --parallel 8 -t THREADS`; after a warm-up, aggregate decode
    throughput of 1 stream vs 8 concurrent streams. Each stream is a greedy
    (temperature 0) streaming /v1/completions request with its own prompt and
    max_tokens 128. Aggregate tok/s = generated tokens of all streams / wall time from
    the first token to the last token across the streams; per-stream tok/s = a stream's
    tokens / its own first-to-last-token time. --reps runs each, medians reported, and the
    ratio 8-stream / 1-stream. Greedy texts of the same prompt are compared across runs
    (a batched decode should not change them).
(b) prefix reuse: a deterministic ~1,500-token prefix (counted with POST /tokenize).
    Request A = prefix + question 1 (max_tokens 1, streaming): time to first token. Then
    request B = A's prompt + A's output + question 2, which extends the history cached in
    A's slot: time to first token. Reported: TTFT(B)/TTFT(A) (target <= 0.25), a cold
    control (B's text behind a different first line, so nothing is reused) and the
    /metrics prompt-reuse counter. Raw-text /v1/completions is used because the server
    reuses a slot only when the new prompt token-extends that slot's whole history (a chat
    template adds tokens after the reply).
(c) optional: the batching load against llama-cpp-python's server
    (`python -m llama_cpp.server`, from the virtualenv at ~/.cache/wren/bench-venv) when it
    runs there. That server handles one request at a time (a global lock), so its
    "8 streams" are served one after another.

Servers started here are stopped with SIGINT (and waited for).
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from load_test import (  # noqa: E402  (sibling script, stdlib only)
    DEFAULT_MODEL, DEFAULT_WREN, SSEReader, Server, free_port, parse_metrics,
)

VENV = os.path.expanduser("~/.cache/wren/bench-venv")
SERVER_MODULES = ["uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings"]
PIP_NAMES = ["uvicorn", "fastapi", "sse-starlette", "starlette-context", "pydantic-settings"]

BATCH_PROMPTS = [
    "The history of the printing press begins in",
    "In a small village at the edge of the forest, there lived",
    "The three laws of thermodynamics can be summarised as follows:",
    "Dear diary, today was the strangest day of my life because",
    "To bake a loaf of sourdough bread, you first need to",
    "The city of Venice is famous for its canals, and",
    "A computer program is a sequence of instructions that",
    "During the long winter of 1888, the northern railway",
]


# ------------------------------------------------------------------ one stream


def stream_completion(srv, body, timeout=300.0, start_evt=None):
    """POSTs a streaming /v1/completions request. Returns send time, the arrival time of
    every event carrying text, the first event's time, the text, finish_reason, usage."""
    if start_evt is not None:
        start_evt.wait()
    r = {"times": [], "text": "", "finish": None, "usage": None, "error": None}
    conn = srv.conn(timeout)
    try:
        r["t_send"] = time.perf_counter()
        conn.request("POST", "/v1/completions", body=json.dumps(body).encode(),
                     headers={"content-type": "application/json"})
        resp = conn.getresponse()
        if resp.status != 200:
            r["error"] = f"status {resp.status}: {resp.read()[:200]!r}"
            return r
        parts = []
        for data in SSEReader(resp).events():
            now = time.perf_counter()
            if data == "[DONE]":
                break
            o = json.loads(data)
            if "error" in o:
                r["error"] = f"error event: {o['error']}"
                break
            r.setdefault("t_first_event", now)
            if o.get("usage"):
                r["usage"] = o["usage"]
            for c in o.get("choices") or []:
                if c.get("text"):
                    parts.append(c["text"])
                    r["times"].append(now)
                if c.get("finish_reason"):
                    r["finish"] = c["finish_reason"]
        r["t_end"] = time.perf_counter()
        r["text"] = "".join(parts)
        return r
    except (OSError, ValueError) as e:
        r["error"] = f"{type(e).__name__}: {e}"
        return r
    finally:
        conn.close()


def n_tokens(r):
    """Generated tokens of a stream: usage when the server sent it, else text chunks."""
    if r.get("usage") and r["usage"].get("completion_tokens") is not None:
        return r["usage"]["completion_tokens"]
    return len(r["times"])


def run_streams(srv, prompts, max_tokens, include_usage=True):
    """Runs one greedy stream per prompt, all at once. Returns per-stream results and the
    aggregate figures."""
    go = threading.Event()
    results = [None] * len(prompts)

    def worker(i, p):
        body = {"prompt": p, "max_tokens": max_tokens, "temperature": 0, "seed": 1,
                "stream": True}
        if include_usage:
            body["stream_options"] = {"include_usage": True}
        results[i] = stream_completion(srv, body, start_evt=go)

    ths = [threading.Thread(target=worker, args=(i, p)) for i, p in enumerate(prompts)]
    for t in ths:
        t.start()
    go.set()
    for t in ths:
        t.join()
    errors = [r["error"] for r in results if r["error"]]
    firsts = [r["times"][0] for r in results if r["times"]]
    lasts = [r["times"][-1] for r in results if r["times"]]
    total = sum(n_tokens(r) for r in results)
    span = (max(lasts) - min(firsts)) if firsts else 0.0
    per = []
    for r in results:
        if len(r["times"]) >= 2:
            per.append(n_tokens(r) / (r["times"][-1] - r["times"][0]))
    ttft = [r["times"][0] - r["t_send"] for r in results if r["times"]]
    # Steady state: the window in which every stream had started and none had ended
    # (no prefill of a late arrival inside it), tokens arriving in it / its length.
    steady = None
    if len(firsts) == len(results) and len(results) > 1:
        lo, hi = max(firsts), min(lasts)
        if hi > lo:
            k = sum(1 for r in results for t in r["times"] if lo < t <= hi)
            steady = k / (hi - lo)
    return {
        "streams": len(prompts),
        "tokens": total,
        "tokens_each": [n_tokens(r) for r in results],
        "finish": [r["finish"] for r in results],
        "span_s": span,
        "agg_tps": total / span if span > 0 else None,
        "steady_tps": steady,
        "per_stream_tps": per,
        "per_stream_tps_median": statistics.median(per) if per else None,
        "ttft_s": ttft,
        "texts": [r["text"] for r in results],
        "errors": errors,
    }


def batching(srv, reps, max_tokens, label, include_usage=True, log=print):
    out = {"label": label, "runs": {1: [], 8: []}}
    texts = {}  # prompt index -> list of greedy texts seen
    for rep in range(reps):
        for n in (1, 8):
            prompts = [BATCH_PROMPTS[rep % len(BATCH_PROMPTS)]] if n == 1 else BATCH_PROMPTS[:8]
            idx = [rep % len(BATCH_PROMPTS)] if n == 1 else list(range(8))
            res = run_streams(srv, prompts, max_tokens, include_usage)
            for i, t in zip(idx, res["texts"]):
                texts.setdefault(i, []).append((f"rep{rep + 1}/{n}-stream", t))
            res.pop("texts")
            out["runs"][n].append(res)
            log(f"  [{label}] rep {rep + 1}, {n} stream(s): {res['tokens']} tokens in "
                f"{res['span_s']:.2f}s = {res['agg_tps'] or 0:.1f} tok/s aggregate, per-stream "
                f"median {res['per_stream_tps_median'] or 0:.1f} tok/s"
                + (f", steady (all running) {res['steady_tps']:.1f} tok/s" if res["steady_tps"] else "")
                + f", TTFT max {max(res['ttft_s'] or [0]) * 1e3:.0f} ms"
                + (f"; ERRORS {res['errors']}" if res["errors"] else ""))
    for n in (1, 8):
        runs = out["runs"][n]
        agg = [r["agg_tps"] for r in runs if r["agg_tps"]]
        per = [r["per_stream_tps_median"] for r in runs if r["per_stream_tps_median"]]
        out[f"agg_tps_{n}"] = statistics.median(agg) if agg else None
        out[f"per_stream_tps_{n}"] = statistics.median(per) if per else None
        out[f"tokens_{n}"] = [r["tokens"] for r in runs]
        st = [r["steady_tps"] for r in runs if r["steady_tps"]]
        out[f"steady_tps_{n}"] = statistics.median(st) if st else None
    if out["agg_tps_1"] and out["agg_tps_8"]:
        out["ratio_8_over_1"] = out["agg_tps_8"] / out["agg_tps_1"]
    # Greedy determinism: the same prompt should give the same text in every run.
    diverged = []
    for i, seen in sorted(texts.items()):
        base_label, base = seen[0]
        for lab, t in seen[1:]:
            if t != base:
                k = next((j for j, (x, y) in enumerate(zip(base, t)) if x != y),
                         min(len(base), len(t)))
                diverged.append({"prompt": i, "a": base_label, "b": lab, "first_diff_char": k,
                                 "a_text": base[max(0, k - 40):k + 40],
                                 "b_text": t[max(0, k - 40):k + 40]})
    out["greedy_divergences"] = diverged
    out["greedy_compared"] = sum(len(s) - 1 for s in texts.values())
    out["errors"] = [e for n in (1, 8) for r in out["runs"][n] for e in r["errors"]]
    return out


# ------------------------------------------------------------------ prefix reuse

WORDS = ("river mountain lantern harbor engine garden window market signal forest "
         "compass ledger orchard bridge meadow archive furnace canyon beacon quarry "
         "glacier workshop village tunnel island festival library orbit anchor valley").split()
VERBS = ("carried watched measured built crossed repaired described counted painted "
         "followed guarded planted opened recorded").split()


def make_prefix(srv, target, seed):
    """Deterministic prose of about `target` tokens (BOS included), counted by /tokenize."""
    rng = random.Random(seed)
    sections, text = 0, f"Field notes, volume {seed}.\n"
    while True:
        sections += 1
        sent = []
        for _ in range(6):
            a, b = rng.sample(WORDS, 2)
            sent.append(f"The {a} keeper {rng.choice(VERBS)} the old {b} "
                        f"{rng.randint(2, 99)} times before dawn.")
        cand = text + f"\nSection {sections}. " + " ".join(sent)
        n = len(tokenize(srv, cand))
        if n > target:
            return text, len(tokenize(srv, text))
        text = cand


def tokenize(srv, text):
    return srv.post_json("/tokenize", {"content": text, "add_special": True})["tokens"]


def ttft_one(srv, prompt):
    body = {"prompt": prompt, "max_tokens": 1, "temperature": 0, "stream": True}
    r = stream_completion(srv, body)
    if r["error"]:
        raise RuntimeError(r["error"])
    return r["t_first_event"] - r["t_send"], r["text"]


def reused(srv):
    return parse_metrics(srv.metrics()).get("wren_prompt_tokens_reused_total")


def prefix_reuse(srv, reps, target, log=print):
    runs = []
    for rep in range(reps):
        prefix, n_prefix = make_prefix(srv, target, seed=100 + rep)
        a = prefix + "\n\nQuestion 1: Which keeper crossed the old bridge?\nAnswer:"
        ta, out_a = ttft_one(srv, a)
        b = a + out_a + "\n\nQuestion 2: How many sections are there in these notes?\nAnswer:"
        toks_a, toks_b = tokenize(srv, a), tokenize(srv, b)
        extends = toks_b[:len(toks_a)] == toks_a and len(toks_b) > len(toks_a)
        r0 = reused(srv)
        tb, _ = ttft_one(srv, b)
        r1 = reused(srv)
        cold = "Unrelated preface line.\n" + b  # shares no cached history
        tc, _ = ttft_one(srv, cold)
        run = {"prefix_tokens": n_prefix, "a_tokens": len(toks_a), "b_tokens": len(toks_b),
               "b_token_extends_a": extends, "a_output": out_a,
               "ttft_a_s": ta, "ttft_b_s": tb, "ttft_b_cold_s": tc,
               "ratio_b_over_a": tb / ta, "reused_tokens_for_b":
               (r1 - r0) if r0 is not None and r1 is not None else None}
        runs.append(run)
        log(f"  [prefix] rep {rep + 1}: A {len(toks_a)} tok TTFT {ta * 1e3:.0f} ms; B "
            f"{len(toks_b)} tok TTFT {tb * 1e3:.0f} ms (reused {run['reused_tokens_for_b']}, "
            f"extends A: {extends}); B cold {tc * 1e3:.0f} ms; B/A {tb / ta:.3f}")
    med = lambda k: statistics.median(r[k] for r in runs)  # noqa: E731
    return {"runs": runs, "ttft_a_s": med("ttft_a_s"), "ttft_b_s": med("ttft_b_s"),
            "ttft_b_cold_s": med("ttft_b_cold_s"), "ratio_b_over_a": med("ratio_b_over_a"),
            "target": 0.25, "pass": med("ratio_b_over_a") <= 0.25}


# ------------------------------------------------------------------ llama-cpp-python


class LlamaServer(Server):
    def wait_healthy(self, timeout):
        end = time.monotonic() + timeout
        last = None
        while time.monotonic() < end:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with status "
                                   f"{self.proc.returncode} (log: {self.log_path})")
            try:
                st, _, _ = self.request("GET", "/v1/models", timeout=2)
                if st == 200:
                    return
                last = f"status {st}"
            except OSError as e:
                last = repr(e)
            time.sleep(0.3)
        raise RuntimeError(f"llama_cpp.server not ready after {timeout:.0f}s ({last})")


def llama_available(py, install, log):
    """(ok, note). Optionally pip-installs the server's pure-Python extras (no rebuild)."""
    if not os.path.exists(py):
        return False, f"no virtualenv python at {py}"
    probe = "import llama_cpp, " + ", ".join(SERVER_MODULES)
    if subprocess.run([py, "-c", probe], capture_output=True).returncode == 0:
        return True, "llama_cpp.server and its extras import"
    if not install:
        return False, "llama_cpp.server extras missing (use --install-llama-extras)"
    log(f"  installing {' '.join(PIP_NAMES)} into {VENV} (no llama.cpp rebuild)")
    p = subprocess.run([os.path.join(VENV, "bin", "pip"), "install", "-q"] + PIP_NAMES,
                       capture_output=True, text=True)
    if p.returncode != 0:
        return False, f"pip install failed: {p.stderr.strip()[-300:]}"
    if subprocess.run([py, "-c", probe], capture_output=True).returncode != 0:
        return False, "extras installed but llama_cpp.server still does not import"
    return True, "installed the server extras with pip"


# ------------------------------------------------------------------ main


def f1(x, nd=1):
    return "-" if x is None else f"{x:.{nd}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wren", default=DEFAULT_WREN)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--parallel", type=int, default=8)
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--prefix-tokens", type=int, default=1500)
    ap.add_argument("--skip-batching", action="store_true")
    ap.add_argument("--skip-prefix", action="store_true")
    ap.add_argument("--llama", choices=["auto", "skip"], default="auto",
                    help="(c): run against llama_cpp.server when it is available")
    ap.add_argument("--install-llama-extras", action=argparse.BooleanOptionalAction,
                    default=True, help="pip-install the llama_cpp.server extras if missing")
    ap.add_argument("--json", metavar="OUT")
    ap.add_argument("--server-args", default="--spec off",
                    help="`wren serve` flags (default '--spec off': plain decoding; e.g. "
                         "'--spec auto --draft-max 8')")
    a = ap.parse_args()
    log = lambda *x: print(*x, file=sys.stderr, flush=True)  # noqa: E731
    tmp = os.environ.get("TMPDIR", "/tmp")
    res = {"threads": a.threads, "parallel": a.parallel, "max_tokens": a.max_tokens,
           "reps": a.reps}

    log(f"starting wren serve --parallel {a.parallel} -t {a.threads} --ctx {a.ctx}")
    srv = Server.start(a.wren, a.model, a.threads,
                       ["--parallel", str(a.parallel), "--ctx", str(a.ctx)]
                       + a.server_args.split(),
                       log_path=os.path.join(tmp, f"wren-serve-bench-{os.getpid()}.log"))
    try:
        mem0 = srv.status_kb()
        log("warm-up")
        run_streams(srv, BATCH_PROMPTS[:8], 16)
        run_streams(srv, BATCH_PROMPTS[:1], 16)
        if not a.skip_batching:
            log("(a) batching")
            res["batching"] = batching(srv, a.reps, a.max_tokens, "wren", log=log)
        if not a.skip_prefix:
            log("(b) prefix reuse")
            res["prefix"] = prefix_reuse(srv, a.reps, a.prefix_tokens, log=log)
        res["wren_memory_kb"] = {"start": mem0, "end": srv.status_kb()}
        res["wren_metrics"] = parse_metrics(srv.metrics())
    finally:
        res["wren_exit_status"] = srv.stop()

    if a.llama != "skip" and not a.skip_batching:
        py = os.path.join(VENV, "bin", "python")
        ok, note = llama_available(py, a.install_llama_extras, log)
        res["llama"] = {"available": ok, "note": note}
        if ok:
            port = free_port()
            logp = os.path.join(tmp, f"llama-server-bench-{os.getpid()}.log")
            cmd = [py, "-m", "llama_cpp.server", "--model", a.model, "--host", "127.0.0.1",
                   "--port", str(port), "--n_threads", str(a.threads),
                   "--n_threads_batch", str(a.threads), "--n_ctx", str(a.ctx),
                   "--interrupt_requests", "False"]
            log("(c) " + " ".join(cmd))
            lf = open(logp, "w")
            proc = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT)
            ls = LlamaServer("127.0.0.1", port, proc, log_path=logp)
            try:
                ls.wait_healthy(180)
                run_streams(ls, BATCH_PROMPTS[:1], 16, include_usage=False)
                res["llama"]["batching"] = batching(ls, a.reps, a.max_tokens, "llama.cpp",
                                                    include_usage=False, log=log)
                res["llama"]["cmd"] = cmd
            except Exception as e:  # report, do not fail the wren results
                res["llama"]["error"] = f"{type(e).__name__}: {e}"
            finally:
                res["llama"]["exit_status"] = ls.stop()

    # ---------------------------------------------------------------- summary
    out = [f"## wren serve benchmarks (-t {a.threads}, --parallel {a.parallel})", ""]
    b = res.get("batching")
    if b:
        out.append(f"### (a) batching: greedy streaming /v1/completions, max_tokens "
                   f"{a.max_tokens}, {a.reps} reps (median)")
        out.append("")
        out.append("| server | 1 stream agg tok/s | 8 streams agg tok/s | 8/1 | 8 streams, all running, tok/s | per-stream tok/s (1) | per-stream tok/s (8) | tokens per run (1; 8) |")
        out.append("|---|---|---|---|---|---|---|---|")
        rows = [("wren", b)]
        lb = res.get("llama", {}).get("batching")
        if lb:
            rows.append(("llama-cpp-python server", lb))
        for name, x in rows:
            out.append(f"| {name} | {f1(x['agg_tps_1'])} | {f1(x['agg_tps_8'])} | "
                       f"{f1(x.get('ratio_8_over_1'), 2)} | {f1(x['steady_tps_8'])} | "
                       f"{f1(x['per_stream_tps_1'])} | "
                       f"{f1(x['per_stream_tps_8'])} | {x['tokens_1']}; {x['tokens_8']} |")
        out.append("")
        out.append("agg = all streams' tokens / (last token - first token across streams), which "
                   "includes the prefill of streams admitted after the first one; 'all running' = "
                   "tokens in the window where every stream had its first token and none had "
                   "ended / that window.")
        out.append("")
        for name, x in rows:
            d = x["greedy_divergences"]
            out.append(f"{name}: greedy texts compared across runs: {x['greedy_compared']}, "
                       f"divergent: {len(d)}" + (f" (e.g. prompt {d[0]['prompt']}, "
                       f"{d[0]['a']} vs {d[0]['b']} at char {d[0]['first_diff_char']})" if d else "")
                       + (f"; errors: {x['errors'][:3]}" if x["errors"] else ""))
        out.append("")
    p = res.get("prefix")
    if p:
        r0 = p["runs"][0]
        out.append(f"### (b) prefix reuse: {r0['prefix_tokens']}-token prefix, A = "
                   f"{r0['a_tokens']} tokens, B = {r0['b_tokens']} tokens, {a.reps} reps (median)")
        out.append("")
        out.append(f"- TTFT(A) {p['ttft_a_s'] * 1e3:.0f} ms, TTFT(B, reused) "
                   f"{p['ttft_b_s'] * 1e3:.0f} ms, TTFT(B, cold control) "
                   f"{p['ttft_b_cold_s'] * 1e3:.0f} ms")
        out.append(f"- TTFT(B)/TTFT(A) = {p['ratio_b_over_a']:.3f} (target <= 0.25: "
                   f"{'PASS' if p['pass'] else 'FAIL'})")
        out.append("- B's tokens extend A's: " + ", ".join(str(r["b_token_extends_a"]) for r in p["runs"])
                   + "; `wren_prompt_tokens_reused_total` increase for B: "
                   + ", ".join(str(int(r["reused_tokens_for_b"])) if r["reused_tokens_for_b"] is not None
                               else "-" for r in p["runs"]))
        out.append("")
    m = res.get("wren_metrics", {})
    mem = res.get("wren_memory_kb", {}).get("end", {})
    out.append(f"wren /metrics at the end: prompt tokens {m.get('wren_prompt_tokens_total', 0):g}, "
               f"reused {m.get('wren_prompt_tokens_reused_total', 0):g}, decode tokens "
               f"{m.get('wren_decode_tokens_total', 0):g}; VmRSS {mem.get('VmRSS', 0) / 1024:.0f} MiB, "
               f"VmHWM {mem.get('VmHWM', 0) / 1024:.0f} MiB; exit status after SIGINT "
               f"{res.get('wren_exit_status')}")
    if "llama" in res:
        L = res["llama"]
        out.append("")
        out.append(f"(c) llama-cpp-python server: {L['note']}"
                   + (f"; error: {L['error']}" if L.get("error") else "")
                   + ("; it serves one request at a time (a global lock in llama_cpp.server.app; "
                      "no --n_parallel), so 8 streams run one after another"
                      if L.get("available") else ""))
    print("\n".join(out))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
