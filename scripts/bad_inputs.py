#!/usr/bin/env python3
"""Bad inputs for `wren serve` (Python 3 standard library only).

    python3 scripts/bad_inputs.py [--wren target/release/wren] [-m MODEL] [--url URL --key KEY]

Starts `wren serve --api-key KEY --ctx 256 --parallel 1` on a free port (or uses --url, a
server started with --api-key KEY and --ctx 256), sends each malformed or out-of-range
request in the table below, and prints a markdown table
`| input | status | error.type `param`: message |`.

Fails (exit status 1) when any answer
  * has another status than the one OpenAI would give (400 for validation errors, 401,
    404, 405, 413, 415), or another `param` than expected where one is named,
  * is not JSON, or not OpenAI's error shape
    `{"error": {"message": str, "type": str, "param": str|null, "code": str|null}}`,
or when the server is dead or cannot generate afterwards.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_common import DEFAULT_WREN, Server, request  # noqa: E402

KEY = "bad-inputs-key"
CTX = 256
CHAT = "/v1/chat/completions"
CMPL = "/v1/completions"
HI = [{"role": "user", "content": "Hi"}]


def chat(**kw):
    return {"model": "x", "messages": HI, "max_tokens": 4, **kw}


def cmpl(**kw):
    return {"model": "x", "prompt": "Hi", "max_tokens": 4, **kw}


JSON = {"Content-Type": "application/json"}

# (input, method, path, body, extra headers, expected status, expected param or None)
CASES = [
    ("malformed JSON", "POST", CHAT, '{"messages": [', JSON, 400, None),
    ("empty body", "POST", CHAT, b"", JSON, 400, None),
    ("body is a JSON array", "POST", CHAT, "[1, 2]", JSON, 400, None),
    ("body is not UTF-8", "POST", CHAT, b'{"messages": "\xff\xfe"}', JSON, 400, None),
    ("stop nested 10,000 deep", "POST", CHAT, '{"messages": [], "stop": ' + "[" * 10000 + "]" * 10000 + "}",
     JSON, 400, None),
    ("max_tokens is a string", "POST", CHAT, chat(max_tokens="ten"), {}, 400, "max_tokens"),
    ("temperature is a string", "POST", CHAT, chat(temperature="hot"), {}, 400, "temperature"),
    ("messages is a string", "POST", CHAT, {"messages": "Hi"}, {}, 400, "messages"),
    ("stream is a string", "POST", CHAT, chat(stream="yes"), {}, 400, "stream"),
    ("stream_options is a string", "POST", CHAT, chat(stream=True, stream_options="usage"), {}, 400, "stream_options"),
    ("model is a number", "POST", CHAT, chat(model=7), {}, 400, "model"),
    ("missing messages", "POST", CHAT, {"model": "x"}, {}, 400, "messages"),
    ("empty messages", "POST", CHAT, chat(messages=[]), {}, 400, "messages"),
    ("message without role", "POST", CHAT, chat(messages=[{"content": "Hi"}]), {}, 400, "messages[0].role"),
    ("unknown role", "POST", CHAT, chat(messages=[{"role": "wizard", "content": "Hi"}]), {}, 400, "messages[0].role"),
    ("content is a number", "POST", CHAT, chat(messages=[{"role": "user", "content": 42}]), {}, 400, "messages[0].content"),
    ("content part is an image", "POST", CHAT,
     chat(messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x/y.png"}}]}]),
     {}, 400, "messages[0].content[0]"),
    ("text part without text", "POST", CHAT, chat(messages=[{"role": "user", "content": [{"type": "text"}]}]),
     {}, 400, "messages[0].content[0]"),
    ("n = 2", "POST", CHAT, chat(n=2), {}, 400, "n"),
    ("max_tokens = -5", "POST", CHAT, chat(max_tokens=-5), {}, 400, "max_tokens"),
    ("max_tokens = 0", "POST", CMPL, cmpl(max_tokens=0), {}, 400, "max_tokens"),
    ("max_tokens = 10^12", "POST", CMPL, cmpl(max_tokens=10**12), {}, 400, "max_tokens"),
    ("temperature = -1", "POST", CHAT, chat(temperature=-1), {}, 400, "temperature"),
    ("temperature = 5", "POST", CHAT, chat(temperature=5), {}, 400, "temperature"),
    ("temperature = 1e400", "POST", CHAT, '{"messages": [{"role": "user", "content": "Hi"}], "temperature": 1e400}',
     JSON, 400, None),
    ("top_p = 1.5", "POST", CHAT, chat(top_p=1.5), {}, 400, "top_p"),
    ("top_p = -0.1", "POST", CMPL, cmpl(top_p=-0.1), {}, 400, "top_p"),
    ("presence_penalty = 3", "POST", CHAT, chat(presence_penalty=3), {}, 400, "presence_penalty"),
    ("frequency_penalty = -3", "POST", CMPL, cmpl(frequency_penalty=-3), {}, 400, "frequency_penalty"),
    ("top_k = -1", "POST", CMPL, cmpl(top_k=-1), {}, 400, "top_k"),
    ("chat logprobs = 5", "POST", CHAT, chat(logprobs=5), {}, 400, "logprobs"),
    ("top_logprobs = 21", "POST", CHAT, chat(logprobs=True, top_logprobs=21), {}, 400, "top_logprobs"),
    ("top_logprobs without logprobs", "POST", CHAT, chat(top_logprobs=2), {}, 400, "top_logprobs"),
    ("completions logprobs = 21", "POST", CMPL, cmpl(logprobs=21), {}, 400, "logprobs"),
    ("17 stop strings", "POST", CHAT, chat(stop=[f"s{i}" for i in range(17)]), {}, 400, "stop"),
    ("stop is a number", "POST", CHAT, chat(stop=5), {}, 400, "stop"),
    ("missing prompt", "POST", CMPL, {"model": "x"}, {}, 400, "prompt"),
    ("prompt list of 2 strings", "POST", CMPL, cmpl(prompt=["a", "b"]), {}, 400, "prompt"),
    ("prompt token id out of vocab", "POST", CMPL, cmpl(prompt=[2, 999999999]), {}, 400, "prompt"),
    ("prompt = [] (no tokens)", "POST", CMPL, cmpl(prompt=[]), {}, 400, "prompt"),
    ("prompt past the context (completions)", "POST", CMPL, cmpl(prompt="hello " * 400), {}, 400, "prompt"),
    ("prompt past the context (chat)", "POST", CHAT,
     chat(messages=[{"role": "user", "content": "hello " * 400}]), {}, 400, "messages"),
    ("body over the 4 MiB limit", "POST", CMPL, cmpl(prompt="a" * (5 << 20)), {}, 413, None),
    ("Content-Type: text/plain", "POST", CHAT, json.dumps(chat()), {"Content-Type": "text/plain"}, 415, None),
    ("Content-Type: form-urlencoded (curl -d)", "POST", CHAT, json.dumps(chat()),
     {"Content-Type": "application/x-www-form-urlencoded"}, 415, None),
    ("unknown route", "POST", "/v1/nope", chat(), {}, 404, None),
    ("unknown route (GET)", "GET", "/v2/models", None, {}, 404, None),
    ("wrong method: GET chat", "GET", CHAT, None, {}, 405, None),
    ("wrong method: DELETE /v1/models", "DELETE", "/v1/models", None, {}, 405, None),
    ("missing API key", "POST", CHAT, chat(), {"Authorization": None}, 401, None),
    ("wrong API key", "POST", CHAT, chat(), {"Authorization": "Bearer nope"}, 401, None),
    ("API key with the Basic scheme", "POST", CHAT, chat(), {"Authorization": "Basic " + KEY}, 401, None),
    ("unknown field", "POST", CHAT, chat(frobnicate=1), {}, 400, "frobnicate"),
    ("unknown message field", "POST", CHAT, chat(messages=[{"role": "user", "content": "Hi", "mood": "x"}]),
     {}, 400, "messages[0].mood"),
    ("deprecated functions", "POST", CHAT, chat(functions=[{"name": "f"}]), {}, 400, "functions"),
    ("audio output", "POST", CHAT, chat(audio={"voice": "alloy", "format": "wav"}), {}, 400, "audio"),
    ("modalities audio", "POST", CHAT, chat(modalities=["text", "audio"]), {}, 400, "modalities"),
    ("reasoning_effort", "POST", CHAT, chat(reasoning_effort="low"), {}, 400, "reasoning_effort"),
    ("store = true", "POST", CHAT, chat(store=True), {}, 400, "store"),
    ("echo on chat", "POST", CHAT, chat(echo=True), {}, 400, "echo"),
    ("suffix (completions)", "POST", CMPL, cmpl(suffix="end"), {}, 400, "suffix"),
    ("best_of = 2", "POST", CMPL, cmpl(best_of=2), {}, 400, "best_of"),
    ("tools on completions", "POST", CMPL, cmpl(tools=[]), {}, 400, "tools"),
    ("echo with logprobs", "POST", CMPL, cmpl(echo=True, logprobs=2), {}, 400, "echo"),
    ("logit_bias id out of vocab", "POST", CHAT, chat(logit_bias={"99999999": 5}), {}, 400, "logit_bias.99999999"),
    ("logit_bias key not an id", "POST", CHAT, chat(logit_bias={"hello": 5}), {}, 400, "logit_bias.hello"),
    ("logit_bias = 150", "POST", CMPL, cmpl(logit_bias={"5": 150}), {}, 400, "logit_bias.5"),
    ("response_format type xml", "POST", CHAT, chat(response_format={"type": "xml"}), {}, 400, "response_format.type"),
    ("json_schema without name", "POST", CHAT,
     chat(response_format={"type": "json_schema", "json_schema": {"schema": {}}}), {}, 400, "response_format.json_schema.name"),
    ("invalid JSON schema", "POST", CHAT,
     chat(response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "nonsense"}}}),
     {}, 400, "response_format"),
    ("tool_choice names an unknown tool", "POST", CHAT,
     chat(tools=[{"type": "function", "function": {"name": "f"}}],
          tool_choice={"type": "function", "function": {"name": "g"}}), {}, 400, "tool_choice.function.name"),
    ("tool_choice required without tools", "POST", CHAT, chat(tool_choice="required"), {}, 400, "tool_choice"),
    ("tool parameters not a schema", "POST", CHAT,
     chat(tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "nonsense"}}}],
          tool_choice="required"), {}, 400, "tools[0].function.parameters"),
    ("tool message with an unknown id", "POST", CHAT,
     chat(messages=[{"role": "user", "content": "Hi"}, {"role": "tool", "tool_call_id": "x", "content": "1"}]),
     {}, 400, "messages[1].tool_call_id"),
    ("/tokenize: invalid JSON", "POST", "/tokenize", '{"content": ', JSON, 400, None),
    ("/tokenize: missing content", "POST", "/tokenize", {}, {}, 400, "content"),
    ("/tokenize: a field wren does not implement", "POST", "/tokenize",
     {"content": "Hi", "with_pieces": True}, {}, 400, "with_pieces"),
    ("/tokenize: content is a list", "POST", "/tokenize", {"content": [1, 2]}, {}, 400, "content"),
    ("/detokenize: out-of-vocab id", "POST", "/detokenize", {"tokens": [2, 4000000]}, {}, 400, "tokens"),
    ("/detokenize: negative id", "POST", "/detokenize", {"tokens": [-1]}, {}, 400, "tokens[0]"),
    ("/detokenize: tokens is a string", "POST", "/detokenize", {"tokens": "1 2"}, {}, 400, "tokens"),
]


def shape_problem(body):
    """None when `body` is OpenAI's error JSON, else what is wrong with it."""
    try:
        v = json.loads(body)
    except ValueError:
        return f"not JSON: {body[:80]!r}"
    if not isinstance(v, dict) or set(v) != {"error"} or not isinstance(v["error"], dict):
        return f"not {{'error': {{...}}}}: {v}"
    e = v["error"]
    if set(e) != {"message", "type", "param", "code"}:
        return f"error keys {sorted(e)}"
    if not isinstance(e["message"], str) or not e["message"] or not isinstance(e["type"], str):
        return f"message/type: {e}"
    if not all(e[k] is None or isinstance(e[k], str) for k in ("param", "code")):
        return f"param/code: {e}"
    return None


def cell(s, n=110):
    s = " ".join(str(s).split()).replace("|", "\\|")
    return s if len(s) <= n else s[: n - 1] + "…"


def run_case(base, key, case):
    label, method, path, body, extra, want, want_param = case
    headers = {"Authorization": f"Bearer {key}"}
    for k, v in extra.items():
        if v is None:
            headers.pop(k, None)
        else:
            headers[k] = v
    status, hdrs, raw = request(base, method, path, body, headers, timeout=60)
    text = raw.decode("utf-8", "replace")
    problems = []
    if status != want:
        problems.append(f"status {status}, want {want}")
    if status >= 500:
        problems.append("5xx")
    if not hdrs.get("content-type", "").startswith("application/json"):
        problems.append(f"content-type {hdrs.get('content-type')!r}")
    shape = shape_problem(text)
    if shape:
        problems.append(shape)
        err = {}
    else:
        err = json.loads(text)["error"]
        if want_param is not None and err["param"] != want_param:
            problems.append(f"param {err['param']!r}, want {want_param!r}")
    return status, err, problems


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wren", default=DEFAULT_WREN)
    ap.add_argument("-m", "--model")
    ap.add_argument("--url", help=f"use a running server (started with --api-key KEY --ctx {CTX})")
    ap.add_argument("--key", default=KEY, help="its API key")
    a = ap.parse_args()
    t0 = time.time()
    server = None
    base = a.url
    if not base:
        args = ["--api-key", a.key, "--ctx", str(CTX), "--parallel", "1"] + (["-m", a.model] if a.model else [])
        log = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"wren-bad-inputs-{os.getpid()}.log")
        server = Server(a.wren, args, log_path=log)
        base = server.base
    failures = []
    print(f"{len(CASES)} bad inputs against {base}\n")
    print("| input | status | error.type `param`: message |")
    print("| --- | ---: | --- |")
    for case in CASES:
        try:
            status, err, problems = run_case(base, a.key, case)
        except OSError as e:
            status, err, problems = "—", {}, [f"no answer: {e}"]
        desc = ""
        if err:
            param = f" `{err['param']}`" if err.get("param") else ""
            desc = f"`{err['type']}`{param}: {cell(err['message'])}"
        mark = "" if not problems else " **FAIL: " + cell("; ".join(problems), 300) + "**"
        print(f"| {cell(case[0], 60)} | {status} | {desc}{mark} |", flush=True)
        if problems:
            failures.append(case[0])
    # The server must still be alive and able to generate.
    auth = {"Authorization": f"Bearer {a.key}"}
    try:
        st, _, _ = request(base, "GET", "/health", timeout=10)
        st2, _, body = request(base, "POST", CMPL, cmpl(max_tokens=2, temperature=0), auth, timeout=60)
        ok = st == 200 and st2 == 200 and json.loads(body)["usage"]["completion_tokens"] >= 1
    except (OSError, ValueError, KeyError) as e:
        ok, st, st2 = False, str(e), ""
    print(f"\nafterwards: /health {st}, a 2-token completion {st2}" + ("" if ok else " **FAIL**"))
    if not ok:
        failures.append("server alive afterwards")
    if server:
        code = server.stop()
        print(f"server exit status after SIGTERM: {code}")
        if code != 0:
            failures.append("clean exit")
            print(server.tail())
    print(f"total {time.time() - t0:.1f}s")
    if failures:
        print(f"\n{len(failures)} FAILED: {', '.join(failures)}")
        return 1
    print(f"\nall {len(CASES)} bad inputs answered correctly")
    return 0


if __name__ == "__main__":
    sys.exit(main())
