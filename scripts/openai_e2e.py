#!/usr/bin/env python3
"""End-to-end test of `wren serve` on the real model with the official `openai` client.

    python3 scripts/openai_e2e.py [--wren target/release/wren] [-m MODEL] [--refs DIR] [--url URL]

Installs the pinned `openai` package on first use with `pip install --target` into wren's
cache (`~/.cache/wren/pylib-openai-<version>-py<major><minor>`): that needs only
`python3 -m pip`, not python3-venv, and is allowed on PEP 668 "externally managed" system
Pythons. Starts `wren serve --ctx 1024 --parallel 2` on a free port (or uses --url), runs
the checks below, stops the server with SIGTERM and expects exit status 0.

Greedy results are compared with `wren run` on the same prompt (for chat: the prompt the
template renders, tokenized the same way; and a prompt long enough to be prefilled in
several chunks). Prints one line per check; exit status 1 if
any failed.
"""

import argparse
import importlib
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_common import DEFAULT_WREN, Checks, Server, cache_dir, request, require  # noqa: E402

OPENAI_VERSION = "3.54.0"
CTX = 1024
PROMPT = "The capital of France is"
USER = "Write one sentence about the sea."
N = 32


def load_openai():
    """Imports the pinned `openai`, installing it into the cache first if needed."""
    tag = f"py{sys.version_info.major}{sys.version_info.minor}"
    target = os.path.join(cache_dir(), f"pylib-openai-{OPENAI_VERSION}-{tag}")
    if not os.path.isdir(target):
        tmp = f"{target}.tmp{os.getpid()}"
        print(f"installing openai=={OPENAI_VERSION} into {target}", flush=True)
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "--target", tmp, f"openai=={OPENAI_VERSION}"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"cannot install openai ({' '.join(cmd)}):\n{r.stdout}{r.stderr}")
        try:
            os.rename(tmp, target)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)  # another run installed it meanwhile
    sys.path.insert(0, target)
    openai = importlib.import_module("openai")
    require(openai.__version__ == OPENAI_VERSION, f"imported openai {openai.__version__} from {openai.__file__}")
    return openai


class E2E:
    def __init__(self, openai, base, wren, model):
        self.openai = openai
        self.base = base
        self.wren = wren
        self.model = model
        self.client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=300)
        self.greedy = {}  # filled by the first checks, reused by later ones

    # ------------------------------------------------------------- helpers

    def tokenize(self, text, bos, special):
        status, _, body = request(self.base, "POST", "/tokenize",
                                  {"content": text, "add_special": bos, "parse_special": special})
        require(status == 200, f"/tokenize: {status} {body!r}")
        return json.loads(body)["tokens"]

    def wren_run(self, prompt, *flags):
        cmd = [self.wren, "run", "--no-echo", "--ctx", str(CTX), *flags]
        if self.model:
            cmd += ["-m", self.model]
        r = subprocess.run(cmd + ["--", prompt], capture_output=True, text=True, timeout=300)
        require(r.returncode == 0, f"{' '.join(cmd)} failed: {r.stderr[-2000:]}")
        return r.stdout[:-1] if r.stdout.endswith("\n") else r.stdout

    def complete(self, **kw):
        return self.client.completions.create(model="wren", prompt=PROMPT, **kw)

    def chat(self, **kw):
        msgs = [{"role": "user", "content": USER}]
        return self.client.chat.completions.create(model="wren", messages=msgs, **kw)

    # ------------------------------------------------------------- checks

    def models(self):
        m = self.client.models.list().data
        require(len(m) == 1 and m[0].object == "model" and m[0].id, f"{m}")
        return m[0].id

    def completion_greedy_matches_run(self):
        r = self.complete(max_tokens=N, temperature=0)
        c = r.choices[0]
        want = self.wren_run(PROMPT, "--temp", "0", "-n", str(N))
        require(c.text == want, f"server {c.text!r} != wren run {want!r}")
        require(r.object == "text_completion" and r.id.startswith("cmpl-"), f"{r}")
        u = r.usage
        require(u.prompt_tokens == len(self.tokenize(PROMPT, True, False)), f"usage {u}")
        require(u.total_tokens == u.prompt_tokens + u.completion_tokens, f"usage {u}")
        require(1 <= u.completion_tokens <= N, f"usage {u}")
        require(c.finish_reason == ("length" if u.completion_tokens == N else "stop"), f"{c}")
        self.greedy["completion"] = (c.text, c.finish_reason, u)
        return f"{c.text!r}, usage {u.prompt_tokens}+{u.completion_tokens}"

    def completion_stream(self, include_usage):
        text, finish, usage = self.greedy["completion"]
        opts = {"stream_options": {"include_usage": True}} if include_usage else {}
        chunks = list(self.complete(max_tokens=N, temperature=0, stream=True, **opts))
        got = "".join(ch.choices[0].text for ch in chunks if ch.choices)
        require(got == text, f"stream {got!r} != non-stream {text!r}")
        finishes = [ch.choices[0].finish_reason for ch in chunks if ch.choices and ch.choices[0].finish_reason]
        require(finishes == [finish], f"finish_reasons {finishes}")
        usages = [ch.usage for ch in chunks if ch.usage is not None]
        if include_usage:
            last = chunks[-1]
            require(last.choices == [] and last.usage is not None, f"last chunk {last}")
            require(usages == [last.usage] and last.usage.total_tokens == usage.total_tokens, f"{usages} vs {usage}")
        else:
            require(usages == [], f"usage without include_usage: {usages}")
        return f"{len(chunks)} chunks"

    def render(self, messages):
        status, _, body = request(self.base, "POST", "/apply-template", {"messages": messages})
        require(status == 200, f"/apply-template: {status} {body!r}")
        return json.loads(body)["prompt"]

    def chat_greedy_matches_run(self):
        # The server renders with the model's template and tokenizes template text with
        # control tokens and message content as plain text; `wren run --special` on the
        # rendered text must see the same tokens (USER holds no control-token text).
        # `/apply-template` leaves out a BOS the tokenizer adds itself (as llama-server),
        # so the rendered text is tokenized with BOS added, as a client would.
        rendered = self.render([{"role": "user", "content": USER}])
        require(USER in rendered, f"rendered prompt {rendered!r} lacks the message")
        ids = self.tokenize(rendered, True, True)
        r = self.chat(max_tokens=N, temperature=0)
        c = r.choices[0]
        require(r.usage.prompt_tokens == len(ids), f"prompt_tokens {r.usage.prompt_tokens} != {len(ids)}")
        want = self.wren_run(rendered, "--special", "--temp", "0", "-n", str(N))
        require(c.message.content == want, f"server {c.message.content!r} != wren run {want!r}")
        require(c.message.role == "assistant" and r.object == "chat.completion", f"{r}")
        u = r.usage
        require(u.total_tokens == u.prompt_tokens + u.completion_tokens, f"usage {u}")
        require(c.finish_reason == ("length" if u.completion_tokens == N else "stop"), f"{c.finish_reason} {u}")
        self.greedy["chat"] = (c.message.content, c.finish_reason, u)
        return f"{c.message.content!r}, {c.finish_reason}"

    def reference_chats(self, refs):
        """llama.cpp's greedy replies (refs/generate.json) to its rendered ChatML prompts:
        the conversation is parsed back into messages, the server must render the same
        prompt, and its greedy reply must equal llama.cpp's up to the first position whose
        top-1/top-2 margin is under 0.5 (a near-tie: either branch is right)."""
        with open(os.path.join(refs, "generate.json")) as f:
            entries = [e for e in json.load(f) if e["text"].startswith("<|im_start|>")]
        require(entries, f"no ChatML prompts in {refs}")
        compared = 0
        for e in entries:
            text = e["text"]
            turns = text.split("<|im_start|>")[1:]
            require(turns[-1] == "assistant\n", f"not a generation prompt: {text!r}")
            msgs = []
            for t in turns[:-1]:
                role, _, rest = t.partition("\n")
                require(rest.endswith("<|im_end|>\n"), f"turn {t!r}")
                msgs.append({"role": role, "content": rest[: -len("<|im_end|>\n")]})
            got = self.render(msgs)
            require(got == text, f"rendered {got!r} != reference {text!r}")
            greedy, top, n_prompt = e["greedy"], e["top"], len(e["prompt_tokens"])
            k = 0
            while k < len(greedy):
                t = top[n_prompt + k - 1]
                if t[0][0] != greedy[k] or t[0][1] - t[1][1] < 0.5:
                    break
                k += 1
            if k == 0:
                continue
            r = self.client.chat.completions.create(model="wren", messages=msgs, temperature=0, max_tokens=k)
            reply = r.choices[0].message.content
            ids = self.tokenize(reply, False, False)
            require(ids[:k] == greedy[:k],
                    f"reply {reply!r} ({ids[:k]}) != llama.cpp {e['greedy_text']!r} ({greedy[:k]})")
            compared += k
        # SmolLM2's three reference conversations have 8 leading untied tokens between them
        # (two open on a near-tie): require most of what the references allow.
        require(compared >= 5, f"only {compared} untied tokens compared")
        return f"{len(entries)} conversations, {compared} tokens equal to llama.cpp's"

    def chat_stream(self):
        text, finish, usage = self.greedy["chat"]
        chunks = list(self.chat(max_tokens=N, temperature=0, stream=True, stream_options={"include_usage": True}))
        require(chunks[0].choices[0].delta.role == "assistant", f"first chunk {chunks[0]}")
        require(all(ch.object == "chat.completion.chunk" for ch in chunks), "chunk object")
        got = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
        require(got == text, f"stream {got!r} != non-stream {text!r}")
        finishes = [ch.choices[0].finish_reason for ch in chunks if ch.choices and ch.choices[0].finish_reason]
        require(finishes == [finish], f"finish_reasons {finishes}")
        last = chunks[-1]
        require(last.choices == [] and last.usage is not None, f"last chunk {last}")
        require((last.usage.prompt_tokens, last.usage.completion_tokens) == (usage.prompt_tokens, usage.completion_tokens),
                f"{last.usage} vs {usage}")
        require(all(ch.usage is None for ch in chunks[:-1]), "usage before the last chunk")
        return f"{len(chunks)} chunks"

    def max_tokens_length(self):
        r = self.complete(max_tokens=5, temperature=0)
        require(r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 5, f"{r}")
        require(self.greedy["completion"][0].startswith(r.choices[0].text), f"{r.choices[0].text!r}")
        c = self.chat(max_completion_tokens=3, temperature=0)
        require(c.choices[0].finish_reason == "length" and c.usage.completion_tokens == 3, f"{c}")
        return f"completions {r.choices[0].text!r}, chat {c.choices[0].message.content!r}"

    def stop_sequences(self):
        text = self.greedy["completion"][0]
        words = text.split()
        require(len(words) >= 3, f"greedy text too short for a stop test: {text!r}")
        one, two = words[1], words[2]
        cut1 = text[: text.index(one)]
        r = self.complete(max_tokens=N, temperature=0, stop=one)
        require((r.choices[0].text, r.choices[0].finish_reason) == (cut1, "stop"), f"stop={one!r}: {r.choices[0]}")
        # A list: the earliest match wins; a string that never appears changes nothing.
        stops = ["@@never@@", two, one]
        r = self.complete(max_tokens=N, temperature=0, stop=stops)
        require((r.choices[0].text, r.choices[0].finish_reason) == (cut1, "stop"), f"stop={stops}: {r.choices[0]}")
        cut2 = text[: text.index(two)]
        chunks = list(self.complete(max_tokens=N, temperature=0, stop=[two], stream=True))
        got = "".join(ch.choices[0].text for ch in chunks if ch.choices)
        fin = [ch.choices[0].finish_reason for ch in chunks if ch.choices and ch.choices[0].finish_reason]
        require((got, fin) == (cut2, ["stop"]), f"streamed stop={two!r}: {got!r} {fin}")
        chat_text = self.greedy["chat"][0]
        cw = chat_text.split()
        require(len(cw) >= 2, f"chat text too short: {chat_text!r}")
        r = self.chat(max_tokens=N, temperature=0, stop=[cw[1]])
        want = chat_text[: chat_text.index(cw[1])]
        require((r.choices[0].message.content, r.choices[0].finish_reason) == (want, "stop"), f"chat stop: {r.choices[0]}")
        return f"stop {one!r} → {cut1!r}; list → same; stream {two!r} → {cut2!r}; chat {cw[1]!r}"

    def seeds(self):
        kw = dict(max_tokens=24, temperature=1.0)
        a = self.complete(seed=1234, **kw).choices[0].text
        b = self.complete(seed=1234, **kw).choices[0].text
        require(a == b, f"same seed, different text: {a!r} vs {b!r}")
        s = "".join(ch.choices[0].text for ch in self.complete(seed=1234, stream=True, **kw) if ch.choices)
        require(s == a, f"streamed with the same seed: {s!r} vs {a!r}")
        others = [self.complete(seed=seed, **kw).choices[0].text for seed in (1, 2, 3)]
        require(any(o != a for o in others), f"seeds 1, 2, 3 all gave {a!r}")
        want = self.wren_run(PROMPT, "--temp", "1.0", "--seed", "1234", "-n", "24")
        require(a == want, f"seed 1234: server {a!r} != wren run --seed 1234 {want!r}")
        c1 = self.chat(seed=99, **kw).choices[0].message.content
        c2 = self.chat(seed=99, **kw).choices[0].message.content
        require(c1 == c2, f"chat, same seed: {c1!r} vs {c2!r}")
        return f"seed 1234 → {a!r} (= wren run); {sum(o != a for o in others)}/3 other seeds differ"

    def chat_logprobs(self):
        r = self.chat(max_tokens=8, temperature=0, logprobs=True, top_logprobs=3)
        c = r.choices[0]
        content = c.logprobs.content
        require(len(content) == r.usage.completion_tokens, f"{len(content)} entries, usage {r.usage}")
        for t in content:
            require(t.logprob <= 0 and t.bytes == list(t.token.encode()), f"{t}")
            top = t.top_logprobs
            require(len(top) == 3 and all(x.logprob >= y.logprob for x, y in zip(top, top[1:])), f"{top}")
            require(top[0].token == t.token and abs(top[0].logprob - t.logprob) < 1e-4, f"greedy pick is not top-1: {t}")
        joined = "".join(t.token for t in content)
        require(c.finish_reason == "length" or joined.startswith(c.message.content), f"{joined!r}")
        require(c.message.content.startswith(joined) or joined.startswith(c.message.content), f"{joined!r} vs {c.message.content!r}")
        chunks = list(self.chat(max_tokens=8, temperature=0, logprobs=True, top_logprobs=2, stream=True))
        streamed = [t for ch in chunks if ch.choices and ch.choices[0].logprobs for t in ch.choices[0].logprobs.content]
        require([t.token for t in streamed] == [t.token for t in content], "streamed logprobs differ")
        require(all(len(t.top_logprobs) == 2 for t in streamed), "streamed top_logprobs count")
        return f"{len(content)} tokens, first {content[0].token!r} {content[0].logprob:.3f}"

    def completion_logprobs(self):
        r = self.complete(max_tokens=8, temperature=0, logprobs=2)
        lp = r.choices[0].logprobs
        n = r.usage.completion_tokens
        require(len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset) == n, f"{lp}")
        require(lp.text_offset[0] == 0 and all(b >= a for a, b in zip(lp.text_offset, lp.text_offset[1:])), f"{lp.text_offset}")
        for tok, l, top in zip(lp.tokens, lp.token_logprobs, lp.top_logprobs):
            require(l <= 0 and 1 <= len(top) <= 2, f"{tok!r} {l} {top}")
            require(abs(max(top.values()) - l) < 1e-4, f"greedy pick is not top-1: {tok!r} {l} {top}")
        require("".join(lp.tokens) == r.choices[0].text, f"{lp.tokens} vs {r.choices[0].text!r}")
        return f"{n} tokens, {lp.tokens[:3]}"

    def long_prompt_matches_run(self):
        # Several prefill chunks (the server's default is 256 tokens): same text as
        # `wren run`, which reads the prompt in one pass.
        colors = ["red", "green", "blue", "yellow", "black", "white", "purple"]
        things = ["house", "boat", "bird", "door", "lamp", "river", "stone", "cloud"]
        prompt = " ".join(f"Line {i}: the {things[i % 8]} is {colors[i % 7]}." for i in range(70))
        n = len(self.tokenize(prompt, True, False))
        require(600 <= n < CTX - 16, f"{n} prompt tokens")
        r = self.client.completions.create(model="wren", prompt=prompt, max_tokens=16, temperature=0)
        want = self.wren_run(prompt, "--temp", "0", "-n", "16")
        require(r.choices[0].text == want, f"server {r.choices[0].text!r} != wren run {want!r}")
        return f"{n} prompt tokens → {want!r}"

    def bad_requests(self):
        long_prompt = "hello " * (CTX + 10)
        try:
            self.client.completions.create(model="wren", prompt=long_prompt, max_tokens=4)
            raise AssertionError("a prompt longer than the context was accepted")
        except self.openai.BadRequestError as e:
            require(e.status_code == 400 and e.param == "prompt" and "context" in e.message, f"{e}")
            long_msg = e.message
        try:
            self.client.chat.completions.create(model="wren", messages=[{"role": "user", "content": long_prompt}])
            raise AssertionError("a conversation longer than the context was accepted")
        except self.openai.BadRequestError as e:
            require(e.param == "messages", f"{e}")
        try:
            self.chat(n=2, max_tokens=4)
            raise AssertionError("n=2 was accepted")
        except self.openai.BadRequestError as e:
            require(e.status_code == 400 and e.param == "n" and e.type == "invalid_request_error", f"{e}")
        return long_msg[:110] + "…"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wren", default=DEFAULT_WREN, help="the wren binary (also used for `wren run`)")
    ap.add_argument("-m", "--model", default="gemma3-270m",
                    help="GGUF file or catalogue name, for both the server and `wren run` "
                         "(default: gemma3-270m, `wren run`'s default)")
    ap.add_argument("--refs", help="a reference folder (e.g. ../shared/reference/smollm2): also check "
                    "llama.cpp's greedy replies to its ChatML prompts")
    ap.add_argument("--url", help="use a running server (started with --ctx %d) instead of starting one" % CTX)
    a = ap.parse_args()
    t0 = time.time()
    openai = load_openai()
    server = None
    base = a.url
    if not base:
        args = ["--ctx", str(CTX), "--parallel", "2"] + (["-m", a.model] if a.model else [])
        log = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"wren-openai-e2e-{os.getpid()}.log")
        server = Server(a.wren, args, log_path=log)
        base = server.base
    print(f"openai {openai.__version__}, server {base} (ready after {time.time() - t0:.1f}s)", flush=True)
    t = E2E(openai, base, a.wren, a.model)
    ck = Checks()
    ck.run("models.list", t.models)
    ck.run("completions: greedy = `wren run --temp 0`, usage", t.completion_greedy_matches_run)
    ck.run("completions: stream = non-stream", t.completion_stream, False)
    ck.run("completions: stream_options.include_usage", t.completion_stream, True)
    ck.run("chat: greedy = `wren run` on the rendered prompt, usage", t.chat_greedy_matches_run)
    ck.run("chat: stream = non-stream, role first, include_usage", t.chat_stream)
    if a.refs:
        ck.run("chat: llama.cpp's greedy replies on the reference ChatML prompts", t.reference_chats, a.refs)
    ck.run("max_tokens / max_completion_tokens → finish_reason length", t.max_tokens_length)
    ck.run("stop: string, list, streamed, chat", t.stop_sequences)
    ck.run("seed: reproducible at temperature 1, = `wren run --seed`", t.seeds)
    ck.run("chat logprobs + top_logprobs (and streamed)", t.chat_logprobs)
    ck.run("completions logprobs (legacy arrays)", t.completion_logprobs)
    ck.run("chunked prefill: a long prompt's greedy text = `wren run`", t.long_prompt_matches_run)
    ck.run("BadRequestError: prompt past the context, n=2", t.bad_requests)
    if server:
        def stops_cleanly():
            code = server.stop()
            require(code == 0, f"exit status {code} after SIGTERM: {server.tail()}")
        ck.run("SIGTERM → exit status 0", stops_cleanly)
    print(f"total {time.time() - t0:.1f}s")
    return ck.summary()


if __name__ == "__main__":
    sys.exit(main())
