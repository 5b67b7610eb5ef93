#!/usr/bin/env python3
"""realserver.py: an OpenAI-compatible test server that behaves like the real
ones mlxbench meets (vLLM, Ollama, mlx_lm.server, LM Studio, llama.cpp, the
OpenAI API) rather than like mlxbench's own emulator: its own model names,
answers that stop at a natural length with finish_reason "stop", several
tokens per chunk, usage present / absent / only on request, a cold start,
404 for unknown models, 401 without the key. Python 3 standard library only.

    python3 tests/e2e/realserver.py --flavor vllm [options]

Prints its base URL (http://127.0.0.1:PORT) on the first stdout line; stops
on SIGTERM/SIGINT or when stdin closes (--watch-stdin).

Options (a flavor sets the defaults; every option overrides it):
  --flavor F            vllm | ollama | mlx | lmstudio | llamacpp | openai
  --models A,B          served model names (llamacpp: any name is served)
  --natural N[,N...]    natural output lengths in tokens; a request gets
                        lengths[h % len], h a hash of its messages and seed
  --tokens-per-chunk K  tokens per content event
  --chunk-chars N       instead: split the answer into N-character chunks
                        (npm @dwmkerr/mock-llm streams 50-character chunks)
  --usage MODE          include (only with stream_options.include_usage;
                        non-streamed bodies always) | always | never
  --ttft S, --itl S     seconds to the first content chunk / between chunks
  --cold-start S        the first generation request waits S s (a model load)
  --api-key KEY         require "Authorization: Bearer KEY" (401 otherwise)
  --honour LIST         ignore_eos,min_tokens (what vLLM/SGLang honour) or none
  --reject-unknown      400 for fields it does not know (the OpenAI API does
                        it for ignore_eos, min_tokens)
  --reject-stream-options  400 when stream_options is sent
  --require-max-completion-tokens  400 when max_tokens is sent (OpenAI's
                        newer models)
  --fail-every K        every K-th generation request (K, 2K, ...) is a 503
                        in the flavor's error shape (an overloaded server)
  --reasoning N         the first N tokens of an answer stream as
                        delta.reasoning (mlx_lm.server's field for a thinking
                        model's reasoning), the rest as delta.content

mlx flavor: like mlx_lm.server, a request that sends `seed` is not batched
with the others -- it is served alone, one seeded request at a time, while
unseeded ones run together; the log says "batched": false for it.

A token is one word plus a space ("w17 "), so 4-6 characters: tokens,
characters and chunks are all known. Prompt tokens are the words of every
message plus 4 per message (a chat template's overhead): not the chars/4
rule, so an estimate and the server's count differ visibly.

GET /_log returns one record per request (JSON list), times on
CLOCK_MONOTONIC (the clock mlxbench stamps bytes with):
  {"i", "path", "model", "status", "headers" (lower-case), "body" (parsed),
   "t_arrival", "t_headers", "chunks": [[t_sent, tokens, chars]...],
   "finish_reason", "completion_tokens", "prompt_tokens", "usage_sent",
   "natural", "cold_start_s"}
POST /_reset clears it (and re-arms the cold start with ?cold=1).
"""
import argparse
import hashlib
import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FLAVORS = {
    # vLLM: compact JSON, role chunk first, usage only on request, honours
    # ignore_eos and min_tokens, its own 404 text
    "vllm": dict(models=["Qwen/Qwen2.5-7B-Instruct"], usage="include", honour="ignore_eos,min_tokens",
                 fingerprint=None, role_every=False, spaced=False),
    # Ollama's OpenAI layer: name:tag models, usage on request, ignores
    # ignore_eos/min_tokens silently
    "ollama": dict(models=["llama3.2:3b", "qwen2.5:7b"], usage="include", honour="none",
                   fingerprint="fp_ollama", role_every=False, spaced=False),
    # mlx_lm.server: json.dumps spacing, "role" in every delta, several
    # tokens per chunk while it matches stop sequences
    "mlx": dict(models=["mlx-community/Qwen2.5-7B-Instruct-4bit"], usage="include", honour="none",
                fingerprint="0.28.0-0.29.1-macOS-15.6.1-arm64", role_every=True, spaced=True),
    "lmstudio": dict(models=["qwen2.5-7b-instruct", "llama-3.2-3b-instruct"], usage="always",
                     honour="none", fingerprint="qwen2.5-7b-instruct", role_every=False, spaced=False),
    "llamacpp": dict(models=["llama-3.2-3b-instruct-q4_k_m.gguf"], usage="include",
                     honour="ignore_eos", fingerprint="b6500-1a2b3c4d", role_every=False,
                     spaced=False, any_model=True),
    "openai": dict(models=["gpt-4o-mini"], usage="include", honour="none", fingerprint="fp_44709d6fcb",
                   role_every=False, spaced=False, reject_unknown=True),
}

KNOWN_FIELDS = {"model", "messages", "max_tokens", "max_completion_tokens", "stream", "stream_options",
                "temperature", "top_p", "n", "stop", "seed", "tools", "tool_choice", "logprobs",
                "presence_penalty", "frequency_penalty", "user", "response_format"}


def words(text):
    return len(str(text).split())


def prompt_tokens(msgs):
    n = 0
    for m in msgs:
        c = m.get("content") if isinstance(m, dict) else None
        if isinstance(c, list):
            c = " ".join(p.get("text", "") for p in c if isinstance(p, dict))
        n += words(c or "") + 4
    return n


def token_text(h, i):
    return "w%d " % ((h + i) % 97)


class State:
    def __init__(self, opt):
        self.opt = opt
        self.lock = threading.Lock()
        self.log = []
        self.cold_pending = opt.cold_start > 0
        self.solo = threading.Lock()   # mlx: seeded requests, one at a time
        self.generations = 0


def handler_for(state):
    opt = state.opt

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def setup(self):
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def dumps(self, obj):
            if opt.spaced:
                return json.dumps(obj)
            return json.dumps(obj, separators=(",", ":"))

        def send_json(self, status, obj, rec=None):
            body = (obj if isinstance(obj, str) else self.dumps(obj)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            if rec is not None:
                rec["status"] = status
                rec["t_headers"] = time.monotonic()

        def error(self, status, message, rec, typ=None, code=None):
            if opt.flavor == "vllm" and status == 401:
                return self.send_json(status, {"error": "Unauthorized"}, rec)
            if opt.flavor == "mlx":
                return self.send_json(status, {"error": message}, rec)
            return self.send_json(status, {"error": {"message": message, "type": typ or "invalid_request_error",
                                                     "param": None, "code": code}}, rec)

        def do_GET(self):
            if self.path.startswith("/_log"):
                with state.lock:
                    data = json.dumps(state.log)
                return self.send_json(200, data)
            if self.path.rstrip("/") in ("/v1/models", "/models"):
                if opt.api_key and not self.authorized():
                    return self.error(401, "Incorrect API key provided.", None, code="invalid_api_key")
                return self.send_json(200, {"object": "list", "data": [
                    {"id": m, "object": "model", "created": 1700000000, "owned_by": opt.flavor}
                    for m in opt.models]})
            if self.path in ("/health", "/"):
                return self.send_json(200, {"status": "ok"})
            self.send_json(404, {"detail": "Not Found"})

        def authorized(self):
            return self.headers.get("Authorization", "") == "Bearer " + opt.api_key

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            if self.path.startswith("/_reset"):
                with state.lock:
                    state.log.clear()
                    if "cold=1" in self.path:
                        state.cold_pending = opt.cold_start > 0
                return self.send_json(200, {"ok": True})
            t_arrival = time.monotonic()
            rec = {"path": self.path, "t_arrival": t_arrival,
                   "headers": {k.lower(): v for k, v in self.headers.items()}, "chunks": []}
            with state.lock:
                rec["i"] = len(state.log)
                state.log.append(rec)
            if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                return self.send_json(404, {"detail": "Not Found"}, rec)
            try:
                body = json.loads(raw)
                assert isinstance(body, dict)
            except (ValueError, AssertionError):
                rec["body"] = None
                return self.error(400, "Invalid JSON body", rec)
            rec["body"] = body
            rec["model"] = body.get("model")
            if opt.api_key and not self.authorized():
                return self.error(401, "Incorrect API key provided.", rec, code="invalid_api_key")
            model = body.get("model")
            if model not in opt.models and not opt.any_model:
                if opt.flavor == "ollama":
                    msg = 'model "%s" not found, try pulling it first' % model
                    return self.error(404, msg, rec, typ="not_found_error")
                if opt.flavor == "openai":
                    msg = "The model `%s` does not exist or you do not have access to it." % model
                    return self.error(404, msg, rec, code="model_not_found")
                return self.error(404, "The model `%s` does not exist." % model, rec, typ="NotFoundError",
                                  code=404)
            if opt.reject_unknown:
                for k in body:
                    if k not in KNOWN_FIELDS:
                        return self.error(400, "Unrecognized request argument supplied: %s" % k, rec)
            if opt.reject_stream_options and "stream_options" in body:
                return self.error(400, "stream_options is not supported", rec)
            if opt.require_max_completion_tokens and "max_tokens" in body:
                return self.error(400, "Unsupported parameter: 'max_tokens' is not supported with this "
                                  "model. Use 'max_completion_tokens' instead.", rec,
                                  code="unsupported_parameter")
            if opt.fail_every:
                with state.lock:
                    state.generations += 1
                    fail = state.generations % opt.fail_every == 0
                if fail:
                    return self.error(503, "The server is overloaded, try again later.", rec,
                                      typ="ServiceUnavailableError", code=503)
            msgs = body.get("messages")
            if not isinstance(msgs, list) or not msgs:
                return self.error(400, "messages: field required", rec)
            limit = body.get("max_completion_tokens", body.get("max_tokens"))
            if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
                return self.error(400, "max_tokens must be a positive integer", rec)
            key = json.dumps([msgs, body.get("seed")], sort_keys=True).encode()
            h = int.from_bytes(hashlib.sha256(key).digest()[:8], "big")
            natural = opt.natural[h % len(opt.natural)]
            total = natural
            honour = set(opt.honour)
            if body.get("ignore_eos") is True and "ignore_eos" in honour and limit:
                total = limit
            mt = body.get("min_tokens")
            if isinstance(mt, int) and "min_tokens" in honour:
                total = max(total, mt)
            finish = "stop"
            if limit is not None and total >= limit:
                total, finish = limit, "length"
            ptoks = prompt_tokens(msgs)
            rec.update(natural=natural, prompt_tokens=ptoks, completion_tokens=total, finish_reason=finish)
            solo = opt.flavor == "mlx" and "seed" in body   # batching off for it
            rec["batched"] = not solo
            if solo:
                state.solo.acquire()
            try:
                self.generate(body, rec, model, h, total, finish, ptoks)
            finally:
                if solo:
                    state.solo.release()

        def generate(self, body, rec, model, h, total, finish, ptoks):
            cold = 0.0
            with state.lock:
                if state.cold_pending:
                    state.cold_pending = False
                    cold = opt.cold_start
            rec["cold_start_s"] = cold
            if cold:
                time.sleep(cold)
            text = "".join(token_text(h, i) for i in range(total))
            usage = {"prompt_tokens": ptoks, "total_tokens": ptoks + total, "completion_tokens": total}
            cid = "chatcmpl-%016x" % (h & 0xFFFFFFFFFFFFFFFF)
            if not body.get("stream"):
                deadline = rec["t_arrival"] + cold + opt.ttft + max(0, total - 1) * opt.itl / max(1, opt.tpc)
                sleep_until(deadline)
                out = {"id": cid, "object": "chat.completion", "created": int(time.time()), "model": model,
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                    "logprobs": None, "finish_reason": finish}]}
                if opt.usage != "never":
                    out["usage"] = usage
                    rec["usage_sent"] = True
                self.send_json(200, out, rec)
                rec["chunks"].append([time.monotonic(), total, len(text)])
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            rec["status"] = 200
            rec["t_headers"] = time.monotonic()

            def chunk(delta, fin=None):
                c = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()),
                     "model": model, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                                  "finish_reason": fin}]}
                if opt.fingerprint:
                    c["system_fingerprint"] = opt.fingerprint
                return c

            def send(obj):
                data = b"data: " + (obj if isinstance(obj, bytes) else self.dumps(obj).encode()) + b"\n\n"
                self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")
                self.wfile.flush()

            try:
                send(chunk({"role": "assistant", "content": ""}))
                # the pieces: k tokens each, or N characters each
                if opt.chunk_chars:
                    pieces = [(text[j:j + opt.chunk_chars], None)
                              for j in range(0, len(text), opt.chunk_chars)]
                else:
                    toks = [token_text(h, i) for i in range(total)]
                    pieces = [("".join(toks[j:j + opt.tpc]), len(toks[j:j + opt.tpc]))
                              for j in range(0, total, opt.tpc)]
                t0 = rec["t_arrival"] + cold + opt.ttft
                for j, (piece, ntok) in enumerate(pieces):
                    sleep_until(t0 + j * opt.itl)
                    d = {"reasoning" if ntok is not None and j * opt.tpc < opt.reasoning
                         else "content": piece}
                    if opt.role_every:
                        d["role"] = "assistant"
                    t = time.monotonic()
                    send(chunk(d))
                    rec["chunks"].append([t, ntok, len(piece)])
                send(chunk({}, finish))
                want = (body.get("stream_options") or {}).get("include_usage") is True
                if opt.usage == "always" or (opt.usage == "include" and want):
                    u = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()),
                         "model": model, "choices": [], "usage": usage}
                    send(u)
                    rec["usage_sent"] = True
                send(b"[DONE]")
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                rec["client_closed"] = True
            rec["t_end"] = time.monotonic()

    return H


def sleep_until(t):
    while True:
        d = t - time.monotonic()
        if d <= 0:
            return
        time.sleep(min(d, 0.05))


def parse(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--flavor", default="vllm", choices=sorted(FLAVORS))
    ap.add_argument("--models")
    ap.add_argument("--natural", default="12,30,57,90")
    ap.add_argument("--tokens-per-chunk", dest="tpc", type=int, default=1)
    ap.add_argument("--chunk-chars", type=int, default=0)
    ap.add_argument("--usage", choices=["include", "always", "never"])
    ap.add_argument("--ttft", type=float, default=0.02)
    ap.add_argument("--itl", type=float, default=0.005)
    ap.add_argument("--cold-start", type=float, default=0.0)
    ap.add_argument("--api-key")
    ap.add_argument("--honour")
    ap.add_argument("--any-model", action="store_true", default=None)
    ap.add_argument("--reject-unknown", action="store_true", default=None)
    ap.add_argument("--reject-stream-options", action="store_true")
    ap.add_argument("--require-max-completion-tokens", action="store_true")
    ap.add_argument("--fail-every", type=int, default=0)
    ap.add_argument("--reasoning", type=int, default=0)
    ap.add_argument("--watch-stdin", action="store_true")
    opt = ap.parse_args(argv)
    fl = FLAVORS[opt.flavor]
    opt.models = opt.models.split(",") if opt.models else list(fl["models"])
    opt.usage = opt.usage or fl["usage"]
    honour = opt.honour if opt.honour is not None else fl["honour"]
    opt.honour = [] if honour == "none" else honour.split(",")
    opt.natural = [int(x) for x in opt.natural.split(",")]
    opt.fingerprint = fl["fingerprint"]
    opt.role_every = fl["role_every"]
    opt.spaced = fl["spaced"]
    if opt.any_model is None:
        opt.any_model = fl.get("any_model", False)
    if opt.reject_unknown is None:
        opt.reject_unknown = fl.get("reject_unknown", False)
    return opt


class Server:
    """A realserver.py process for a test:

        with Server("--flavor", "ollama", "--tokens-per-chunk", "3") as s:
            run mlxbench against s.url; s.log() -> the request records
    """

    def __init__(self, *args):
        import subprocess
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--watch-stdin", *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = self.proc.stdout.readline().decode().strip()
        if not line.startswith("http://"):
            self.proc.kill()
            raise RuntimeError("realserver did not start: %r" % line)
        self.url = line
        self.port = int(line.rsplit(":", 1)[1])

    def _req(self, method, path):
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request(method, path, body=b"" if method == "POST" else None)
        r = c.getresponse()
        data = r.read()
        c.close()
        return json.loads(data)

    def log(self):
        return self._req("GET", "/_log")

    def reset(self, cold=False):
        return self._req("POST", "/_reset" + ("?cold=1" if cold else ""))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except Exception:
                self.proc.kill()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def main():
    opt = parse(sys.argv[1:])
    state = State(opt)
    srv = ThreadingHTTPServer((opt.host, opt.port), handler_for(state))
    srv.daemon_threads = True
    print("http://%s:%d" % (opt.host, srv.server_address[1]), flush=True)
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    signal.signal(signal.SIGINT, lambda *a: os._exit(0))
    if opt.watch_stdin:
        def watch():
            try:
                sys.stdin.buffer.read()
            finally:
                os._exit(0)
        threading.Thread(target=watch, daemon=True).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
