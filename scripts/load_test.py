#!/usr/bin/env python3
"""Load test for `wren serve` (Python 3 standard library only).

Starts `wren serve` on a free loopback port (or uses a running server: --url, with --pid
for its memory figures), waits for /health, then sends --requests requests from
--concurrency client threads. The mix is drawn from a fixed seed:

  chat            non-streaming /v1/chat/completions
  completion      non-streaming /v1/completions
  chat_stream     streaming chat (SSE; half of them ask for stream_options.include_usage)
  cancel          a streaming request (chat or completions) whose client reads 2-3 chunks
                  and then resets the connection (SO_LINGER 0: an abrupt RST)

with varying prompts, max_tokens in 8..48, temperatures and seeds, and a stop string on
some. Bounded: a global deadline (--deadline) and a per-request timeout (--timeout).

Checks (any failure: exit status 1):
  * no 5xx, no transport error, no error event inside a stream
  * every completed response is well formed: JSON shape, non-empty choices, finish_reason
    in {stop, length}, usage consistent (completion_tokens <= max_tokens, total = prompt +
    completion, length => completion_tokens == max_tokens)
  * streams: every `data:` line is JSON until `data: [DONE]`, nothing after it, exactly
    one finish_reason, in the last chunk with choices
  * 503 / 429 are allowed (counted apart) but must carry Retry-After
  * after the load the server is healthy and /metrics shows no active sequence and an
    empty queue (cancelled streams must free their slots)
  * every request ran before the deadline

Soak mode (--soak MINUTES): the same mix, in rounds of --requests, until MINUTES have
passed, with bad inputs between them from one more thread (malformed JSON, missing fields,
a prompt longer than the context, a non-JSON content type, out-of-range token ids, an
unknown route, a half-sent request left to the header timeout: each must get a 4xx or a
closed connection, never a 5xx), and the server's VmRSS sampled every 10 s. Reports
requests, errors, and RSS at the start, the end and its maximum (--json OUT keeps the
samples): growth beyond the caches means a leak.

Reports counts by kind and status, latency p50/p95 (and, for streams, time to the first chunk carrying text),
the server's VmRSS before and after the load and its VmHWM, and /metrics at the end, as a
short markdown summary (and --json OUT).
"""

import argparse
import concurrent.futures as cf
import http.client
import json
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_WREN = os.path.join(ROOT, "target", "release", "wren")
DEFAULT_MODEL = os.path.expanduser("~/.cache/wren/gemma-3-270m-q4_k_m.gguf")

# ------------------------------------------------------------------ server handling


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A `wren serve` child process (or a running server when `proc` is None)."""

    def __init__(self, host, port, proc=None, pid=None, log_path=None):
        self.host, self.port, self.proc = host, port, proc
        self.pid = proc.pid if proc else pid
        self.log_path = log_path

    @classmethod
    def start(cls, wren, model, threads, extra=(), log_path=None, timeout=120.0):
        port = free_port()
        cmd = [wren, "serve", "--host", "127.0.0.1", "--port", str(port)]
        if model:
            cmd += ["-m", model]
        if threads:
            cmd += ["-t", str(threads)]
        cmd += list(extra)
        log = open(log_path, "w") if log_path else subprocess.DEVNULL
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        srv = cls("127.0.0.1", port, proc, log_path=log_path)
        srv.cmd = cmd
        try:
            srv.wait_healthy(timeout)
        except Exception:
            srv.stop()
            raise
        return srv

    @classmethod
    def attach(cls, url, pid=None, timeout=30.0):
        u = urllib.parse.urlparse(url)
        srv = cls(u.hostname or "127.0.0.1", u.port or 80, None, pid)
        srv.wait_healthy(timeout)
        return srv

    def wait_healthy(self, timeout):
        end = time.monotonic() + timeout
        last = None
        while time.monotonic() < end:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with status {self.proc.returncode} before it was healthy"
                    + (f" (log: {self.log_path})" if self.log_path else "")
                )
            try:
                st, _, body = self.request("GET", "/health", timeout=2)
                if st == 200 and json.loads(body).get("status") == "ok":
                    return
                last = f"status {st}"
            except (OSError, http.client.HTTPException, ValueError) as e:
                last = repr(e)
            time.sleep(0.1)
        raise RuntimeError(f"server not healthy after {timeout:.0f}s ({last})")

    def conn(self, timeout):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, timeout=60):
        """(status, headers dict with lower-case names, body bytes)."""
        c = self.conn(timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            hdrs = {"content-type": "application/json"} if data is not None else {}
            c.request(method, path, body=data, headers=hdrs)
            r = c.getresponse()
            raw = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, raw
        finally:
            c.close()

    def post_json(self, path, body, timeout=60):
        st, _, raw = self.request("POST", path, body, timeout)
        if st != 200:
            raise RuntimeError(f"POST {path}: status {st}: {raw[:300]!r}")
        return json.loads(raw)

    def metrics(self):
        st, _, raw = self.request("GET", "/metrics", timeout=10)
        return raw.decode("utf-8", "replace") if st == 200 else f"(status {st})"

    def status_kb(self):
        """{'VmRSS': kB, 'VmHWM': kB} of the server process (empty when unknown)."""
        if not self.pid:
            return {}
        out = {}
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    k, _, v = line.partition(":")
                    if k in ("VmRSS", "VmHWM"):
                        out[k] = int(v.split()[0])
        except OSError:
            pass
        return out

    def stop(self, timeout=60):
        """SIGINT, then wait (SIGKILL if it does not exit). Returns the exit status."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def parse_metrics(text):
    """Prometheus text -> {name{labels}: value}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, val = line.rpartition(" ")
        try:
            out[name] = float(val)
        except ValueError:
            pass
    return out


def percentile(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


# ------------------------------------------------------------------ SSE reading


class SSEReader:
    """Yields the `data:` payloads of an SSE response, one per event."""

    def __init__(self, resp):
        self.resp = resp

    def events(self):
        data = []
        while True:
            line = self.resp.readline()
            if not line:
                if data:
                    yield "\n".join(data)
                return
            line = line.decode("utf-8").rstrip("\r\n")
            if line == "":
                if data:
                    yield "\n".join(data)
                    data = []
                continue
            if line.startswith(":"):
                continue  # comment (keep-alive)
            field, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if field == "data":
                data.append(value)


def reset_connection(conn, resp):
    """Closes the socket abruptly: SO_LINGER 0 makes close() send RST."""
    sock = conn.sock
    try:
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        resp.close()
    finally:
        conn.close()


# ------------------------------------------------------------------ the request mix

TOPICS = [
    "the ocean", "a lighthouse keeper", "prime numbers", "the history of bread",
    "a robot learning to paint", "volcanoes", "the moon landing", "honeybees",
    "a rainy day in a city", "chess openings", "the water cycle", "an old bicycle",
    "mountain trains", "how compilers work", "a fox in winter", "paper airplanes",
]
FORMS = [
    "Write a short poem about {t}.", "Explain {t} to a child.",
    "Give three facts about {t}.", "Tell a very short story about {t}.",
    "Describe {t} in one paragraph.", "What is interesting about {t}?",
]
OPENINGS = [
    "Once upon a time, {t} was", "The most important thing about {t} is",
    "Here is a list of facts about {t}:\n1.", "Q: What do you know about {t}?\nA:",
    "In the year 2050, {t} will",
]
KINDS = ["chat", "completion", "chat_stream", "cancel"]
KIND_WEIGHTS = [3, 3, 3, 2]


def make_plan(n, seed):
    rng = random.Random(seed)
    plan = []
    for i in range(n):
        kind = rng.choices(KINDS, KIND_WEIGHTS)[0]
        t = rng.choice(TOPICS)
        p = {
            "i": i,
            "kind": kind,
            "max_tokens": rng.randint(8, 48),
            "temperature": rng.choice([0.0, 0.7, 1.0]),
            "seed": rng.randrange(1 << 31),
        }
        chat_like = kind in ("chat", "chat_stream") or (kind == "cancel" and rng.random() < 0.5)
        if chat_like:
            msgs = []
            if rng.random() < 0.3:
                msgs.append({"role": "system", "content": "You are a concise assistant."})
            msgs.append({"role": "user", "content": rng.choice(FORMS).format(t=t)})
            p["path"] = "/v1/chat/completions"
            p["body_extra"] = {"messages": msgs}
        else:
            p["path"] = "/v1/completions"
            p["body_extra"] = {"prompt": rng.choice(OPENINGS).format(t=t)}
        if kind in ("chat", "completion") and rng.random() < 0.25:
            p["stop"] = rng.choice(["\n", ".", ["\n\n", "!"]])
        if kind == "chat_stream":
            p["include_usage"] = rng.random() < 0.5
        if kind == "cancel":
            p["cancel_after"] = rng.choice([2, 3])
        plan.append(p)
    return plan


def body_of(p, stream):
    b = {
        "model": "wren-load-test",
        "max_tokens": p["max_tokens"],
        "temperature": p["temperature"],
        "seed": p["seed"],
    }
    b.update(p["body_extra"])
    if "stop" in p:
        b["stop"] = p["stop"]
    if stream:
        b["stream"] = True
        if p.get("include_usage"):
            b["stream_options"] = {"include_usage": True}
    return b


# ------------------------------------------------------------------ validation


def check_usage(u, max_tokens, finish, errs, where="usage"):
    if not isinstance(u, dict):
        errs.append(f"{where} missing or not an object")
        return
    pt, ct, tt = u.get("prompt_tokens"), u.get("completion_tokens"), u.get("total_tokens")
    if not all(isinstance(x, int) for x in (pt, ct, tt)):
        errs.append(f"{where} fields not integers: {u}")
        return
    if pt <= 0:
        errs.append(f"{where}.prompt_tokens = {pt}")
    if ct < 0 or ct > max_tokens:
        errs.append(f"{where}.completion_tokens = {ct} not in 0..{max_tokens}")
    if tt != pt + ct:
        errs.append(f"{where}.total_tokens {tt} != {pt} + {ct}")
    if finish == "length" and ct != max_tokens:
        errs.append(f"finish_reason length but completion_tokens {ct} != max_tokens {max_tokens}")


def check_common(obj, obj_type, errs):
    if not isinstance(obj, dict):
        errs.append("response is not a JSON object")
        return False
    if obj.get("object") != obj_type:
        errs.append(f"object = {obj.get('object')!r}, want {obj_type!r}")
    if not isinstance(obj.get("id"), str) or not obj.get("id"):
        errs.append("id missing")
    if not isinstance(obj.get("created"), int):
        errs.append("created missing")
    if not isinstance(obj.get("model"), str):
        errs.append("model missing")
    if not isinstance(obj.get("choices"), list):
        errs.append("choices is not a list")
        return False
    return True


def check_nonstream(p, obj):
    errs = []
    chat = p["path"].endswith("chat/completions")
    if not check_common(obj, "chat.completion" if chat else "text_completion", errs):
        return errs, None
    ch = obj["choices"]
    if len(ch) != 1:
        errs.append(f"{len(ch)} choices, want 1")
        return errs, None
    c = ch[0]
    if chat:
        m = c.get("message") or {}
        if m.get("role") != "assistant" or not isinstance(m.get("content"), str):
            errs.append(f"bad message {m!r}"[:200])
        text = m.get("content")
    else:
        text = c.get("text")
        if not isinstance(text, str):
            errs.append("text missing")
    fin = c.get("finish_reason")
    if fin not in ("stop", "length"):
        errs.append(f"finish_reason {fin!r}")
    check_usage(obj.get("usage"), p["max_tokens"], fin, errs)
    return errs, text


def check_stream_chunks(p, chunks):
    """chunks: parsed JSON objects before [DONE]. Returns (errors, text, usage)."""
    errs = []
    chat = p["path"].endswith("chat/completions")
    want = "chat.completion.chunk" if chat else "text_completion"
    text, finishes, usage, ids = [], [], None, set()
    last_choice_idx = None
    for k, o in enumerate(chunks):
        if "error" in o:
            errs.append(f"error event in stream: {o['error']}"[:300])
            continue
        if not check_common(o, want, errs):
            continue
        ids.add(o["id"])
        if not o["choices"]:
            if "usage" not in o:
                errs.append("chunk without choices and without usage")
            else:
                if usage is not None:
                    errs.append("two usage chunks")
                usage = o["usage"]
                if k != len(chunks) - 1:
                    errs.append("usage chunk is not the last one")
            continue
        if usage is not None:
            errs.append("chunk with choices after the usage chunk")
        if len(o["choices"]) != 1:
            errs.append(f"{len(o['choices'])} choices in a chunk")
        c = o["choices"][0]
        last_choice_idx = k
        if chat:
            d = c.get("delta")
            if not isinstance(d, dict):
                errs.append("delta missing")
                d = {}
            if k == 0 and d.get("role") != "assistant":
                errs.append("first chat chunk has no role: assistant")
            if d.get("content") is not None:
                text.append(d["content"])
        else:
            if not isinstance(c.get("text"), str):
                errs.append("chunk text missing")
            else:
                text.append(c["text"])
        if c.get("finish_reason") is not None:
            finishes.append((k, c["finish_reason"]))
    if len(ids) > 1:
        errs.append(f"{len(ids)} different ids in one stream")
    if len(finishes) != 1:
        errs.append(f"{len(finishes)} chunks with finish_reason, want 1")
    else:
        k, fin = finishes[0]
        if fin not in ("stop", "length"):
            errs.append(f"finish_reason {fin!r}")
        if k != last_choice_idx:
            errs.append("finish_reason is not in the last chunk")
    if p.get("include_usage"):
        if usage is None:
            errs.append("include_usage asked but no usage chunk")
        else:
            check_usage(usage, p["max_tokens"], finishes[0][1] if finishes else None, errs)
    elif usage is not None:
        errs.append("usage chunk without include_usage")
    return errs, "".join(text), usage


# ------------------------------------------------------------------ one request


def has_text(o):
    for c in o.get("choices") or []:
        if (c.get("delta") or {}).get("content") or c.get("text"):
            return True
    return False


def run_one(srv, p, timeout, deadline):
    """Returns a result dict: kind, status, outcome, latency, ttfc, errors, ..."""
    r = {"i": p["i"], "kind": p["kind"], "status": None, "outcome": None, "errors": []}
    if time.monotonic() > deadline:
        r["outcome"] = "skipped"
        return r
    stream = p["kind"] in ("chat_stream", "cancel")
    body = json.dumps(body_of(p, stream)).encode()
    t0 = time.monotonic()
    conn = srv.conn(timeout)
    resp = None
    try:
        conn.request("POST", p["path"], body=body, headers={"content-type": "application/json"})
        resp = conn.getresponse()
        r["status"] = resp.status
        if resp.status != 200:
            raw = resp.read()
            r["latency"] = time.monotonic() - t0
            if resp.status in (429, 503):
                r["outcome"] = "overloaded"
                if not resp.getheader("retry-after"):
                    r["errors"].append(f"{resp.status} without Retry-After")
            elif resp.status >= 500:
                r["outcome"] = "server_error"
                r["errors"].append(f"status {resp.status}: {raw[:200]!r}")
            else:
                r["outcome"] = "client_error"
                r["errors"].append(f"unexpected status {resp.status}: {raw[:200]!r}")
            try:
                e = json.loads(raw)
                if not isinstance(e.get("error"), dict):
                    r["errors"].append("error body without an `error` object")
            except ValueError:
                r["errors"].append("error body is not JSON")
            return r
        if not stream:
            raw = resp.read()
            r["latency"] = time.monotonic() - t0
            try:
                obj = json.loads(raw)
            except ValueError:
                r["outcome"] = "bad_response"
                r["errors"].append(f"body is not JSON: {raw[:200]!r}")
                return r
            errs, text = check_nonstream(p, obj)
            r["errors"] += errs
            r["outcome"] = "ok" if not errs else "bad_response"
            if obj.get("usage"):
                r["completion_tokens"] = obj["usage"].get("completion_tokens")
            return r
        ctype = resp.getheader("content-type", "")
        if not ctype.startswith("text/event-stream"):
            r["errors"].append(f"stream content-type {ctype!r}")
        chunks, done, after_done = [], False, 0
        for data in SSEReader(resp).events():
            if time.monotonic() - t0 > timeout:
                r["errors"].append(f"stream still going after {timeout}s")
                break
            if done:
                after_done += 1
                continue
            if data == "[DONE]":
                done = True
                continue
            try:
                chunks.append(json.loads(data))
            except ValueError:
                r["errors"].append(f"data line is not JSON: {data[:120]!r}")
                continue
            if "ttfc" not in r and has_text(chunks[-1]):
                r["ttfc"] = time.monotonic() - t0  # first chunk carrying text
            if p["kind"] == "cancel" and len(chunks) >= p["cancel_after"]:
                reset_connection(conn, resp)
                r["latency"] = time.monotonic() - t0
                r["chunks_read"] = len(chunks)
                for o in chunks:
                    if "error" in o:
                        r["errors"].append(f"error event in stream: {o['error']}"[:300])
                r["outcome"] = "cancelled" if not r["errors"] else "bad_response"
                return r
        r["latency"] = time.monotonic() - t0
        if after_done:
            r["errors"].append(f"{after_done} events after [DONE]")
        if not done:
            r["errors"].append("stream ended without data: [DONE]")
        errs, text, usage = check_stream_chunks(p, chunks)
        r["errors"] += errs
        if usage:
            r["completion_tokens"] = usage.get("completion_tokens")
        if p["kind"] == "cancel":
            # The whole reply fit in fewer chunks than we meant to read.
            r["outcome"] = "completed_before_cancel" if not r["errors"] else "bad_response"
        else:
            r["outcome"] = "ok" if not r["errors"] else "bad_response"
        if any(e.startswith("error event") for e in r["errors"]):
            r["outcome"] = "stream_error"
        return r
    except (OSError, http.client.HTTPException) as e:
        r["latency"] = time.monotonic() - t0
        r["outcome"] = "transport_error"
        r["errors"].append(f"{type(e).__name__}: {e}")
        return r
    finally:
        try:
            conn.close()
        except OSError:
            pass


# ------------------------------------------------------------------ main


def bad_inputs(srv, ctx):
    """(name, callable returning a status or 'closed') for each kind of bad input."""
    def raw(data, timeout=30):
        with socket.create_connection((srv.host, srv.port), timeout=timeout) as c:
            c.sendall(data)
            buf = b""
            try:
                while True:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
            except (ConnectionResetError, socket.timeout):
                pass
        if not buf:
            return "closed"
        return int(buf.split(b" ", 2)[1])

    def post(path, payload, ctype="application/json"):
        head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n").encode()
        return raw(head + payload)

    long_prompt = json.dumps({"prompt": "lorem ipsum " * (ctx * 8), "max_tokens": 4}).encode()
    return [
        ("malformed JSON", lambda: post("/v1/chat/completions", b'{"messages": [')),
        ("missing messages", lambda: post("/v1/chat/completions", b'{"max_tokens": 3}')),
        ("prompt over the context", lambda: post("/v1/completions", long_prompt)),
        ("not JSON", lambda: post("/v1/completions", b"prompt=hi", "text/plain")),
        ("bad token ids", lambda: post("/detokenize", b'{"tokens": [-1, 99999999999]}')),
        ("unknown route", lambda: post("/v2/nothing", b"{}")),
        ("half-sent head", lambda: raw(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n", 60)),
    ]


def run_soak(srv, a, results, failures):
    """Runs rounds of the plan plus bad inputs until --soak minutes pass; samples RSS."""
    end = time.monotonic() + a.soak * 60
    stop = threading.Event()
    rss, bad = [], {"sent": 0, "5xx": 0, "other": 0}

    def sampler():
        t0 = time.monotonic()
        while not stop.is_set():
            kb = srv.status_kb().get("VmRSS")
            if kb:
                rss.append((round(time.monotonic() - t0, 1), kb))
            stop.wait(10)

    def bad_loop():
        rng = random.Random(a.seed + 1)
        cases = bad_inputs(srv, a.ctx)
        while not stop.is_set():
            name, fn = rng.choice(cases)
            try:
                st = fn()
            except OSError as e:
                st = f"error {e}"
            bad["sent"] += 1
            if isinstance(st, int) and st >= 500:
                bad["5xx"] += 1
                failures.append(f"bad input {name!r}: status {st}")
            elif not (st == "closed" or (isinstance(st, int) and 400 <= st < 500)):
                bad["other"] += 1
                failures.append(f"bad input {name!r}: {st}")
            stop.wait(0.2)

    threads = [threading.Thread(target=sampler, daemon=True),
               threading.Thread(target=bad_loop, daemon=True)]
    for t in threads:
        t.start()
    round_no = 0
    while time.monotonic() < end:
        plan = make_plan(a.requests, a.seed + round_no)
        base = len(results)
        for p in plan:
            p["i"] += base
        with cf.ThreadPoolExecutor(max_workers=a.concurrency) as ex:
            futs = [ex.submit(run_one, srv, p, a.timeout, end + a.timeout) for p in plan]
            for f in cf.as_completed(futs):
                results.append(f.result())
        round_no += 1
    stop.set()
    for t in threads:
        t.join(timeout=70)
    kb = srv.status_kb().get("VmRSS")
    if kb:
        rss.append((round(a.soak * 60, 1), kb))
    return {"rss_kb": rss, "bad_sent": bad["sent"], "bad_5xx": bad["5xx"],
            "bad_other": bad["other"], "rounds": round_no}


def fmt_s(x):
    return "-" if x is None else f"{x:.3f}"


def fmt_mb(kb):
    return "-" if kb is None else f"{kb / 1024:.1f} MiB"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wren", default=DEFAULT_WREN)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--threads", type=int, default=0, help="-t for wren serve (0: its default)")
    ap.add_argument("--parallel", type=int, default=4)
    ap.add_argument("--queue", type=int, default=64)
    ap.add_argument("--ctx", type=int, default=2048)
    ap.add_argument("--url", help="use this running server instead of starting one")
    ap.add_argument("--pid", type=int, help="pid of the --url server (for VmRSS/VmHWM)")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--timeout", type=float, default=120.0, help="per-request seconds")
    ap.add_argument("--deadline", type=float, default=600.0, help="global seconds")
    ap.add_argument("--server-log", default=None, help="file for the server's stderr")
    ap.add_argument("--json", metavar="OUT")
    ap.add_argument("--soak", type=float, metavar="MINUTES",
                    help="soak: mixed traffic with bad inputs for MINUTES, RSS sampled")
    a = ap.parse_args()

    t_start = time.monotonic()
    deadline = t_start + a.deadline
    if a.url:
        srv = Server.attach(a.url, a.pid)
    else:
        log = a.server_log or os.path.join(
            os.environ.get("TMPDIR", "/tmp"), f"wren-load-test-{os.getpid()}.log")
        extra = ["--parallel", str(a.parallel), "--queue", str(a.queue), "--ctx", str(a.ctx)]
        srv = Server.start(a.wren, a.model, a.threads, extra, log_path=log)
    failures = []
    results = []
    try:
        # Sanity: /v1/models.
        st, _, raw = srv.request("GET", "/v1/models", timeout=10)
        try:
            models = json.loads(raw)
            assert st == 200 and models["object"] == "list" and models["data"]
        except Exception:
            failures.append(f"/v1/models: status {st}, body {raw[:200]!r}")
        mem_before = srv.status_kb()
        metrics_before = parse_metrics(srv.metrics())

        t_load = time.monotonic()
        soak = None
        if a.soak:
            soak = run_soak(srv, a, results, failures)
        else:
            plan = make_plan(a.requests, a.seed)
            with cf.ThreadPoolExecutor(max_workers=a.concurrency) as ex:
                futs = [ex.submit(run_one, srv, p, a.timeout, deadline) for p in plan]
                for f in cf.as_completed(futs):
                    results.append(f.result())
        load_wall = time.monotonic() - t_load
        results.sort(key=lambda r: r["i"])

        # Cancelled sequences must be gone shortly after their clients.
        settle_deadline = time.monotonic() + 15
        while True:
            m_end = parse_metrics(srv.metrics())
            active = m_end.get("wren_active_sequences")
            queued = m_end.get("wren_queue_depth")
            if (active == 0 and queued == 0) or time.monotonic() > settle_deadline:
                break
            time.sleep(0.2)
        if active != 0 or queued != 0:
            failures.append(f"after the load: wren_active_sequences={active}, "
                            f"wren_queue_depth={queued} (want 0, 0)")
        st, _, _ = srv.request("GET", "/health", timeout=10)
        if st != 200:
            failures.append(f"/health after the load: status {st}")
        mem_after = srv.status_kb()
        metrics_text = srv.metrics()
    finally:
        exit_status = srv.stop()
    if srv.proc is not None and exit_status != 0:
        failures.append(f"server exit status after SIGINT: {exit_status}")

    # ---------------------------------------------------------------- tallies
    by_kind, by_status, by_outcome = {}, {}, {}
    for r in results:
        by_kind.setdefault(r["kind"], {}).setdefault(r["outcome"], 0)
        by_kind[r["kind"]][r["outcome"]] += 1
        key = str(r["status"]) if r["status"] is not None else "none"
        by_status[key] = by_status.get(key, 0) + 1
        by_outcome[r["outcome"]] = by_outcome.get(r["outcome"], 0) + 1
    bad = [r for r in results if r["errors"]]
    n5xx = sum(1 for r in results if r["status"] and r["status"] >= 500 and r["status"] != 503)
    skipped = by_outcome.get("skipped", 0)
    if n5xx:
        failures.append(f"{n5xx} responses with 5xx (other than 503)")
    if bad:
        failures.append(f"{len(bad)} requests failed checks")
    if skipped:
        failures.append(f"{skipped} requests not sent before the {a.deadline:.0f}s deadline")

    lat = {}
    for kind in KINDS + ["all"]:
        xs = [r["latency"] for r in results if r.get("latency") is not None
              and r["outcome"] in ("ok", "cancelled", "completed_before_cancel")
              and (kind == "all" or r["kind"] == kind)]
        ttfc = [r["ttfc"] for r in results if r.get("ttfc") is not None
                and (kind == "all" or r["kind"] == kind)]
        lat[kind] = {"n": len(xs), "p50": percentile(xs, 50), "p95": percentile(xs, 95),
                     "max": max(xs) if xs else None,
                     "ttfc_p50": percentile(ttfc, 50), "ttfc_p95": percentile(ttfc, 95)}
    m = parse_metrics(metrics_text)
    gen_tokens = sum(r.get("completion_tokens") or 0 for r in results)

    # ---------------------------------------------------------------- report
    ok = not failures
    out = []
    out.append(f"## wren load test: {'PASS' if ok else 'FAIL'}")
    out.append("")
    out.append(f"{len(results)} requests, concurrency {a.concurrency}, seed {a.seed}, "
               f"wall {load_wall:.1f}s ({len(results) / load_wall:.2f} req/s)"
               + (f"; server: {' '.join(os.path.basename(x) if i == 0 else x for i, x in enumerate(srv.cmd))}"
                  if srv.proc else f"; server {a.url}"))
    out.append("")
    out.append("| kind | count | outcomes | latency p50 s | p95 s | max s | first text p50 s | p95 s |")
    out.append("|---|---|---|---|---|---|---|---|")
    for kind in KINDS:
        oc = by_kind.get(kind, {})
        L = lat[kind]
        out.append(f"| {kind} | {sum(oc.values())} | "
                   + ", ".join(f"{k}: {v}" for k, v in sorted(oc.items()))
                   + f" | {fmt_s(L['p50'])} | {fmt_s(L['p95'])} | {fmt_s(L['max'])}"
                   f" | {fmt_s(L['ttfc_p50'])} | {fmt_s(L['ttfc_p95'])} |")
    L = lat["all"]
    out.append(f"| all | {len(results)} | " + ", ".join(f"{k}: {v}" for k, v in sorted(by_outcome.items()))
               + f" | {fmt_s(L['p50'])} | {fmt_s(L['p95'])} | {fmt_s(L['max'])}"
               f" | {fmt_s(L['ttfc_p50'])} | {fmt_s(L['ttfc_p95'])} |")
    out.append("")
    out.append("HTTP status: " + ", ".join(f"{k}: {v}" for k, v in sorted(by_status.items()))
               + f"; 5xx (not 503): {n5xx}; 503/429 (with Retry-After): "
               + str(by_outcome.get("overloaded", 0)))
    out.append("")
    if soak:
        rss = [kb for _, kb in soak["rss_kb"]]
        out.append(f"Soak: {a.soak:g} min, {len(results)} requests, {soak['bad_sent']} bad inputs "
                   f"({soak['bad_5xx']} answered 5xx, {soak['bad_other']} unexpected); "
                   f"VmRSS start {fmt_mb(rss[0] if rss else None)}, end {fmt_mb(rss[-1] if rss else None)}, "
                   f"max {fmt_mb(max(rss) if rss else None)} over {len(rss)} samples")
        out.append("")
    out.append(f"Server memory: VmRSS before {fmt_mb(mem_before.get('VmRSS'))}, "
               f"after {fmt_mb(mem_after.get('VmRSS'))}, VmHWM {fmt_mb(mem_after.get('VmHWM'))}")
    out.append("")
    keys = ["wren_http_requests_total",
            'wren_requests_total{endpoint="chat_completions"}',
            'wren_requests_total{endpoint="completions"}',
            "wren_requests_rejected_total", "wren_prompt_tokens_total",
            "wren_completion_tokens_total", "wren_prompt_tokens_reused_total",
            "wren_decode_tokens_total", "wren_queue_depth", "wren_active_sequences",
            "wren_decode_tokens_per_second"]
    out.append("/metrics at the end: " + ", ".join(
        f"`{k}` {m[k]:g}" for k in keys if k in m))
    out.append(f"(completion tokens seen in usage objects by the client: {gen_tokens})")
    out.append("")
    if failures:
        out.append("Failures:")
        for f in failures:
            out.append(f"- {f}")
        for r in bad[:15]:
            out.append(f"  - #{r['i']} {r['kind']} status {r['status']}: {'; '.join(r['errors'])[:300]}")
    else:
        out.append("All checks passed.")
    print("\n".join(out))

    if a.json:
        with open(a.json, "w") as f:
            json.dump({
                "pass": ok, "failures": failures, "requests": len(results),
                "concurrency": a.concurrency, "seed": a.seed, "wall_s": load_wall,
                "by_kind": by_kind, "by_status": by_status, "by_outcome": by_outcome,
                "latency": lat, "memory_kb": {"before": mem_before, "after": mem_after},
                "metrics": m, "metrics_text": metrics_text, "soak": soak,
                "server_cmd": getattr(srv, "cmd", None), "results": results,
            }, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
