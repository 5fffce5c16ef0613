"""What the end-to-end scripts share (standard library only): starting `wren serve` on a
free loopback port, waiting for /health, stopping it, raw HTTP, and a check list that
prints one line per check and remembers failures."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_WREN = os.path.join(ROOT, "target", "release", "wren")


def cache_dir():
    """wren's cache directory, resolved as the `wren` binary does."""
    if os.environ.get("WREN_CACHE_DIR"):
        return os.environ["WREN_CACHE_DIR"]
    if os.environ.get("XDG_CACHE_HOME"):
        return os.path.join(os.environ["XDG_CACHE_HOME"], "wren")
    return os.path.join(os.path.expanduser("~"), ".cache", "wren")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(base, method, path, body=None, headers=None, timeout=120):
    """One HTTP request. `body`: bytes, str, or a JSON-able object (sent as JSON with
    Content-Type: application/json unless `headers` names one). Returns (status, headers
    dict with lower-case names, body bytes)."""
    host, port = base.split("//", 1)[1].rstrip("/").split(":")
    hdrs = dict(headers or {})
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
        hdrs.setdefault("Content-Type", "application/json")
    if isinstance(body, str):
        body = body.encode()
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        try:
            conn.request(method, path, body=body, headers=hdrs)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer (413) before the whole body is sent
        res = conn.getresponse()
        return res.status, {k.lower(): v for k, v in res.getheaders()}, res.read()
    finally:
        conn.close()


class Server:
    """`wren serve` as a child process; `stop()` sends SIGTERM and returns the exit code."""

    def __init__(self, wren, args, log_path=None, timeout=120.0):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        cmd = [wren, "serve", "--host", "127.0.0.1", "--port", str(self.port)] + list(args)
        self.log_path = log_path
        self.log = open(log_path, "w") if log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log)
        deadline = time.time() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"wren serve exited early ({self.proc.returncode}): {self.tail()}")
            try:
                if request(self.base, "GET", "/health", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            if time.time() > deadline:
                self.proc.kill()
                raise RuntimeError(f"wren serve did not answer /health in {timeout:.0f}s")
            time.sleep(0.1)

    def alive(self):
        return self.proc.poll() is None

    def tail(self, n=2000):
        if not self.log_path:
            return "(no log)"
        with open(self.log_path, errors="replace") as f:
            return f.read()[-n:]

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


class Checks:
    """Runs named checks, prints `ok`/`FAIL` lines, counts failures."""

    def __init__(self):
        self.failed = []
        self.passed = 0

    def run(self, name, fn, *args):
        t = time.time()
        try:
            detail = fn(*args)
        except Exception as e:  # noqa: BLE001 - any failure is a failed check
            self.failed.append(name)
            msg = str(e) if isinstance(e, AssertionError) else traceback.format_exc()
            print(f"FAIL {name}: {msg}", flush=True)
            return None
        self.passed += 1
        extra = f" — {detail}" if detail else ""
        print(f"ok   {name} ({time.time() - t:.1f}s){extra}", flush=True)
        return detail

    def summary(self):
        total = self.passed + len(self.failed)
        if self.failed:
            print(f"\n{len(self.failed)} of {total} checks FAILED: {', '.join(self.failed)}")
            return 1
        print(f"\nall {total} checks passed")
        return 0


def require(cond, msg):
    if not cond:
        raise AssertionError(msg)


def log(*a):
    print(*a, file=sys.stderr, flush=True)
