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
  --max-running N       at most N generations at once; the others queue
  --batching MODE       yes (streams run side by side: the default) | no (one
                        generation at a time) | seed-off (one at a time when
                        the request carries `seed`, as mlx_lm.server does:
                        the mlx flavor's default)
  --reasoning N         a reasoning model: N reasoning tokens stream first, in
                        the flavor's field (vllm: reasoning_content; mlx,
                        ollama: reasoning; --reasoning-field F overrides),
                        then the answer, --think-gap S later than the last
                        reasoning chunk; the answer's natural length is its own
                        (--reasoning-tokens N is the same)
  --reasoning-usage     report usage.completion_tokens_details.reasoning_tokens
  --usage-position P    separate (a choices:[] chunk after the finish
                        chunk) | finish (on the finish chunk) | every (on
                        every chunk, vLLM continuous_usage_stats)
  --timings STYLE       the server's own timings, as spent: llamacpp
                        (`timings` on the finish chunk and in bodies) |
                        groq (`x_groq.usage` queue_time, prompt_time, ...)
  --cache-blocks B      a prefix cache as vLLM's: prompt tokens (words) that
                        match an earlier prompt's, in whole blocks of B, are
                        reported as usage.prompt_tokens_details.cached_tokens
                        and skip --prefill seconds per token of TTFT
  --prefix-cache MODE   on (--cache-blocks 16 unless given) | zero (report
                        cached_tokens 0 always) | off (default: no
                        prompt_tokens_details unless --cache-blocks)
  --prefill S           seconds of TTFT per prompt token not cached (default 0)
  --metrics             GET /metrics in vLLM's names (running, waiting, KV
                        usage, prompt/generation tokens, successes)
  --no-keepalive        every response closes its connection
  Ollama's flavor also answers /api/version and /api/chat (its native API,
  with *_duration fields); LM Studio's /api/v0/models and
  /api/v0/chat/completions (with `stats`).

mlx flavor: like mlx_lm.server, a request that sends `seed` is not batched
with the others -- it is served alone, one seeded request at a time, while
unseeded ones run together; the log says "batched": false for it.

A token is one word plus a space ("w17 "), so 4-6 characters: tokens,
characters and chunks are all known. Prompt tokens are the words of every
message plus 4 per message (a chat template's overhead): not the chars/4
rule, so an estimate and the server's count differ visibly.

GET /_proc returns the server's own CPU seconds (all threads), threads and
peak RSS. GET /_log returns one record per request (JSON list), times on
CLOCK_MONOTONIC (the clock mlxbench stamps bytes with):
  {"i", "path", "model", "status", "headers" (lower-case), "body" (parsed),
   "t_arrival", "t_headers", "chunks": [[t_sent, tokens, chars, kind, t_written]...]
   (kind "a" answer, "r" reasoning; a streamed chunk's write happened
   between t_sent and t_written), "text" (the answer), "reasoning_text",
   "finish_reason", "completion_tokens", "reasoning_tokens", "prompt_tokens",
   "cached_tokens", "usage_sent", "natural", "cold_start_s", "client_closed"
   (the client closed the connection mid-stream), "t_end"}
t_head is taken when the request line has been read, t_arrival once the
body has.
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
                 fingerprint=None, role_every=False, spaced=False, reasoning_field="reasoning_content"),
    # Ollama's OpenAI layer: name:tag models, usage on request, ignores
    # ignore_eos/min_tokens silently
    "ollama": dict(models=["llama3.2:3b", "qwen2.5:7b"], usage="include", honour="none",
                   fingerprint="fp_ollama", role_every=False, spaced=False, reasoning_field="reasoning"),
    # mlx_lm.server: json.dumps spacing, "role" in every delta, several
    # tokens per chunk while it matches stop sequences
    "mlx": dict(models=["mlx-community/Qwen2.5-7B-Instruct-4bit"], usage="include", honour="none",
                fingerprint="0.28.0-0.29.1-macOS-15.6.1-arm64", role_every=True, spaced=True,
                reasoning_field="reasoning"),
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


def reasoning_text(h, i):
    return "r%d " % ((h + i) % 89)


def prompt_words(msgs):
    """The prompt as the server's tokens: a role marker, then the words of
    each message (what a prefix cache compares)."""
    out = []
    for m in msgs:
        c = m.get("content") if isinstance(m, dict) else None
        if isinstance(c, list):
            c = " ".join(p.get("text", "") for p in c if isinstance(p, dict))
        out.append("<%s>" % (m.get("role") if isinstance(m, dict) else "?"))
        out.extend(str(c or "").split())
    return out


class PrefixCache:
    """Prompts seen so far, as a trie of word blocks: a new prompt's cached
    tokens are its leading whole blocks of B words that an earlier prompt
    had (vLLM's automatic prefix caching, block hashes chained)."""

    def __init__(self, block):
        self.block = block
        self.seen = set()

    def lookup_insert(self, words):
        b, hit, h, keys = self.block, 0, "", []
        usable = (len(words) - 1) // b     # the last token is always computed
        for k in range(len(words) // b):
            h = hashlib.sha256((h + "\0" + "\0".join(words[k * b:(k + 1) * b])).encode()).hexdigest()
            keys.append(h)
        for k, key in enumerate(keys):
            if k < usable and key in self.seen and hit == k:
                hit = k + 1
        self.seen.update(keys)
        return hit * b


class State:
    def __init__(self, opt):
        self.opt = opt
        self.lock = threading.Lock()
        self.log = []
        self.cold_pending = opt.cold_start > 0
        self.generations = 0
        self.cache = PrefixCache(opt.cache_blocks) if opt.cache_blocks else None
        self.slots = threading.Semaphore(opt.max_running) if opt.max_running else None
        self.serial = threading.Lock()       # --batching no / seed-off (mlx: seeded requests, one at a time)
        self.running = 0
        self.waiting = 0
        self.prompt_total = 0
        self.gen_total = 0
        self.success = {"stop": 0, "length": 0}


def handler_for(state):
    opt = state.opt

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def setup(self):
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def parse_request(self):
            # the request line has just been read: the arrival's stamp
            self.t_line = time.monotonic()
            return super().parse_request()

        def dumps(self, obj):
            if opt.spaced:
                return json.dumps(obj)
            return json.dumps(obj, separators=(",", ":"))

        def send_json(self, status, obj, rec=None, extra_headers=None):
            body = (obj if isinstance(obj, str) else self.dumps(obj)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if opt.no_keepalive:
                self.send_header("Connection", "close")
                self.close_connection = True
            for k, v in (extra_headers or {}).items():
                self.send_header(k, v)
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
            if self.path == "/_proc":
                # the process's own truth, for a client sampling it from outside:
                # CPU seconds of all its threads, its threads, its peak RSS
                import resource
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                return self.send_json(200, {"cpu_s": time.process_time(), "threads": threading.active_count(),
                                            "peak_rss": peak if sys.platform == "darwin" else peak * 1024})
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
            if self.path == "/metrics" and opt.metrics:
                return self.send_text(200, self.metrics_text())
            if self.path == "/api/version" and opt.flavor == "ollama":
                return self.send_json(200, {"version": "0.6.2"})
            if self.path == "/api/v0/models" and opt.flavor == "lmstudio":
                return self.send_json(200, {"object": "list", "data": [
                    {"id": m, "object": "model", "type": "llm", "state": "loaded"} for m in opt.models]})
            self.send_json(404, {"detail": "Not Found"})

        def send_text(self, status, text):
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def metrics_text(self):
            """vLLM's names and prometheus_client's formatting"""
            lab = '{engine="0",model_name="%s"}' % opt.models[0]
            with state.lock:
                run, wait, pt, gt = state.running, state.waiting, state.prompt_total, state.gen_total
                succ = dict(state.success)
            out = []
            for name, typ, helptext, v in [
                    ("vllm:num_requests_running", "gauge", "Number of requests in model execution batches.", run),
                    ("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.", wait),
                    ("vllm:gpu_cache_usage_perc", "gauge", "GPU KV-cache usage. 1 means 100 percent usage.",
                     min(1.0, run * 0.0625)),
                    ("vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.", pt),
                    ("vllm:generation_tokens_total", "counter", "Number of generation tokens processed.", gt)]:
                out.append("# HELP %s %s\n# TYPE %s %s\n%s%s %s" % (name, helptext, name, typ, name, lab,
                                                                    repr(float(v))))
            out.append("# HELP vllm:request_success_total Count of successfully processed requests.\n"
                       "# TYPE vllm:request_success_total counter")
            for reason, n in sorted(succ.items()):
                out.append('vllm:request_success_total{engine="0",finished_reason="%s",model_name="%s"} %s'
                           % (reason, opt.models[0], repr(float(n))))
            return "\n".join(out) + "\n"

        def authorized(self):
            return self.headers.get("Authorization", "") == "Bearer " + opt.api_key

        def do_POST(self):
            t_head = getattr(self, "t_line", None) or time.monotonic()
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            if self.path.startswith("/_reset"):
                with state.lock:
                    state.log.clear()
                    if "cold=1" in self.path:
                        state.cold_pending = opt.cold_start > 0
                return self.send_json(200, {"ok": True})
            t_arrival = time.monotonic()
            rec = {"path": self.path, "t_arrival": t_arrival, "t_head": t_head,
                   "headers": {k.lower(): v for k, v in self.headers.items()}, "chunks": []}
            with state.lock:
                rec["i"] = len(state.log)
                state.log.append(rec)
            native = (opt.flavor == "ollama" and self.path == "/api/chat") or \
                (opt.flavor == "lmstudio" and self.path == "/api/v0/chat/completions")
            if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions") and not native:
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
            if opt.flavor == "ollama" and self.path == "/api/chat":
                body["max_tokens"] = (body.get("options") or {}).get("num_predict")
                body["stream"] = False   # the native API is asked without streaming
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
            cached = 0
            if state.cache:
                with state.lock:
                    cached = state.cache.lookup_insert(prompt_words(msgs))
            nreason = opt.reasoning
            if limit is not None and nreason >= limit:
                nreason, total, finish = limit, 0, "length"
            elif limit is not None and nreason + total >= limit:
                total, finish = limit - nreason, "length"
            rec.update(natural=natural, prompt_tokens=ptoks, completion_tokens=total + nreason,
                       reasoning_tokens=nreason, cached_tokens=cached, finish_reason=finish)
            cold = 0.0
            with state.lock:
                if state.cold_pending:
                    state.cold_pending = False
                    cold = opt.cold_start
            rec["cold_start_s"] = cold
            if cold:
                time.sleep(cold)
            # a running slot (--max-running), then the generation lock of a
            # server that runs one at a time (--batching)
            with state.lock:
                state.waiting += 1
            if state.slots:
                state.slots.acquire()
            serial = opt.batching == "no" or (opt.batching == "seed-off" and "seed" in body)
            rec["batched"] = not serial
            if serial:
                state.serial.acquire()
            t_admit = time.monotonic()
            with state.lock:
                state.waiting -= 1
                state.running += 1
                state.prompt_total += ptoks
            rec["t_admit"] = t_admit
            try:
                return self.generate(body, model, h, total, finish, ptoks, nreason, cached, rec, t_admit,
                                     cold, native)
            finally:
                with state.lock:
                    state.running -= 1
                    state.gen_total += total + nreason
                    state.success[finish] = state.success.get(finish, 0) + 1
                if serial:
                    state.serial.release()
                if state.slots:
                    state.slots.release()

        def timings_obj(self, rec, ptoks, ntot, t_first, t_last):
            """llama.cpp's `timings`, from what was actually spent"""
            pms = (t_first - rec["t_admit"]) * 1e3
            gms = (t_last - t_first) * 1e3
            return {"cache_n": rec.get("cached_tokens", 0), "prompt_n": ptoks, "prompt_ms": pms,
                    "prompt_per_token_ms": pms / max(1, ptoks), "predicted_n": ntot, "predicted_ms": gms,
                    "predicted_per_token_ms": gms / max(1, ntot)}

        def groq_obj(self, rec, ptoks, ntot, t_first, t_last):
            return {"queue_time": rec["t_admit"] - rec["t_arrival"] - rec["cold_start_s"],
                    "prompt_tokens": ptoks, "prompt_time": t_first - rec["t_admit"],
                    "completion_tokens": ntot, "completion_time": t_last - t_first,
                    "total_time": t_last - rec["t_admit"]}

        def generate(self, body, model, h, total, finish, ptoks, nreason, cached, rec, t_admit, cold, native):
            text = "".join(token_text(h, i) for i in range(total))
            rtext = "".join(reasoning_text(h, i) for i in range(nreason))
            rec["text"], rec["reasoning_text"] = text, rtext
            ntot = total + nreason
            usage = {"prompt_tokens": ptoks, "total_tokens": ptoks + ntot, "completion_tokens": ntot}
            if state.cache or opt.prefix_cache == "zero":
                usage["prompt_tokens_details"] = {"cached_tokens": cached}
            if opt.reasoning_usage:
                usage["completion_tokens_details"] = {"reasoning_tokens": nreason}
            ttft = opt.ttft + opt.prefill * (ptoks - cached)
            cid = "chatcmpl-%016x" % (h & 0xFFFFFFFFFFFFFFFF)
            if not body.get("stream"):
                t_first = t_admit + ttft
                deadline = t_first + max(0, ntot - 1) * opt.itl / max(1, opt.tpc)
                sleep_until(deadline)
                t_last = time.monotonic()
                if native and opt.flavor == "ollama":
                    ns = lambda s: int(s * 1e9)   # noqa: E731
                    out = {"model": model, "created_at": "2025-08-02T22:05:24.2437572Z",
                           "message": {"role": "assistant", "content": text}, "done_reason": finish,
                           "done": True, "total_duration": ns(t_last - rec["t_arrival"]),
                           "load_duration": ns(cold), "prompt_eval_count": ptoks,
                           "prompt_eval_duration": ns(t_first - t_admit), "eval_count": ntot,
                           "eval_duration": ns(t_last - t_first)}
                    self.send_json(200, out, rec)
                    return
                msg = {"role": "assistant", "content": text}
                if nreason:
                    msg[opt.reasoning_field] = rtext
                out = {"id": cid, "object": "chat.completion", "created": int(time.time()), "model": model,
                       "choices": [{"index": 0, "message": msg, "logprobs": None, "finish_reason": finish}]}
                if opt.usage != "never":
                    out["usage"] = dict(usage)
                    rec["usage_sent"] = True
                if opt.timings == "llamacpp":
                    out["timings"] = self.timings_obj(rec, ptoks, ntot, t_first, t_last)
                elif opt.timings == "groq":
                    out.setdefault("usage", {}).update(self.groq_obj(rec, ptoks, ntot, t_first, t_last))
                if native and opt.flavor == "lmstudio":
                    out["stats"] = {"tokens_per_second": ntot / max(1e-9, t_last - t_first),
                                    "time_to_first_token": t_first - t_admit,
                                    "generation_time": t_last - t_first, "stop_reason": "eosFound"}
                self.send_json(200, out, rec)
                rec["chunks"].append([time.monotonic(), ntot, len(text), "a"])
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            if opt.no_keepalive:
                self.send_header("Connection", "close")
                self.close_connection = True
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

            want = (body.get("stream_options") or {}).get("include_usage") is True
            with_usage = opt.usage == "always" or (opt.usage == "include" and want)
            try:
                send(chunk({"role": "assistant", "content": ""}))
                # the pieces: k tokens each, or N characters each; reasoning
                # first (its own pieces), then the answer after --think-gap
                if opt.chunk_chars:
                    pieces = [(text[j:j + opt.chunk_chars], None, "a")
                              for j in range(0, len(text), opt.chunk_chars)]
                else:
                    toks = [token_text(h, i) for i in range(total)]
                    pieces = [("".join(toks[j:j + opt.tpc]), len(toks[j:j + opt.tpc]), "a")
                              for j in range(0, total, opt.tpc)]
                rtoks = [reasoning_text(h, i) for i in range(nreason)]
                pieces = [("".join(rtoks[j:j + opt.tpc]), len(rtoks[j:j + opt.tpc]), "r")
                          for j in range(0, nreason, opt.tpc)] + pieces
                t0 = t_admit + ttft
                t_first = None
                done = 0
                for j, (piece, ntok, kind) in enumerate(pieces):
                    gap = opt.think_gap if nreason and kind == "a" else 0.0
                    sleep_until(t0 + j * opt.itl + gap)
                    d = {"content": piece} if kind == "a" else {opt.reasoning_field: piece}
                    if opt.role_every:
                        d["role"] = "assistant"
                    t = time.monotonic()
                    t_first = t_first or t
                    c = chunk(d)
                    done += ntok or 0
                    if with_usage and opt.usage_position == "every":
                        c["usage"] = {"prompt_tokens": ptoks, "total_tokens": ptoks + done,
                                      "completion_tokens": done}
                    send(c)
                    rec["chunks"].append([t, ntok, len(piece), kind, time.monotonic()])
                t_last = time.monotonic()
                fin = chunk({}, finish)
                if opt.timings == "llamacpp":
                    fin["timings"] = self.timings_obj(rec, ptoks, ntot, t_first or t_last, t_last)
                elif opt.timings == "groq":
                    fin["x_groq"] = {"id": "req_01", "usage": self.groq_obj(rec, ptoks, ntot, t_first or t_last,
                                                                             t_last)}
                if with_usage and opt.usage_position in ("finish", "every"):
                    fin["usage"] = usage
                    rec["usage_sent"] = True
                send(fin)
                if with_usage and opt.usage_position == "separate":
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


class QuietServer(ThreadingHTTPServer):
    """A client that closes its connection (a cancelled stream, a
    keep-alive connection dropped) is routine here, not a traceback. A
    burst of new connections (an open loop, a replay) must not overflow the
    listen backlog (socketserver's default is 5: a dropped SYN costs 1 s)."""
    request_queue_size = 256

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


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
    ap.add_argument("--max-running", type=int, default=0)
    ap.add_argument("--batching", choices=["yes", "no", "seed-off"])
    ap.add_argument("--reasoning-field")
    ap.add_argument("--reasoning-tokens", type=int, default=0)
    ap.add_argument("--usage-position", choices=["separate", "finish", "every"], default="separate")
    ap.add_argument("--timings", choices=["llamacpp", "groq"])
    ap.add_argument("--prefix-cache", choices=["on", "zero", "off"], default="off")
    ap.add_argument("--metrics", action="store_true")
    ap.add_argument("--no-keepalive", action="store_true")
    ap.add_argument("--reasoning", type=int, default=0)
    ap.add_argument("--reasoning-usage", action="store_true")
    ap.add_argument("--think-gap", type=float, default=0.0)
    ap.add_argument("--cache-blocks", type=int, default=0)
    ap.add_argument("--prefill", type=float, default=0.0)
    ap.add_argument("--watch-stdin", action="store_true")
    opt = ap.parse_args(argv)
    fl = FLAVORS[opt.flavor]
    opt.models = opt.models.split(",") if opt.models else list(fl["models"])
    opt.usage = opt.usage or fl["usage"]
    honour = opt.honour if opt.honour is not None else fl["honour"]
    opt.honour = [] if honour == "none" else honour.split(",")
    if opt.batching is None:
        opt.batching = "seed-off" if opt.flavor == "mlx" else "yes"
    opt.natural = [int(x) for x in opt.natural.split(",")]
    opt.fingerprint = fl["fingerprint"]
    opt.role_every = fl["role_every"]
    opt.spaced = fl["spaced"]
    opt.reasoning_field = opt.reasoning_field or fl.get("reasoning_field", "reasoning_content")
    opt.reasoning = opt.reasoning or opt.reasoning_tokens
    if opt.prefix_cache == "on" and not opt.cache_blocks:
        opt.cache_blocks = 16
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

    def log(self, settle=5.0):
        """The records, once every stream has ended (a stream the client
        closed ends at the server's next write): waits up to `settle` s."""
        deadline = time.monotonic() + settle
        while True:
            recs = self._req("GET", "/_log")
            live = [r for r in recs if r.get("status") == 200 and "t_end" not in r
                    and r.get("body", {}).get("stream")]
            if not live or time.monotonic() > deadline:
                return recs
            time.sleep(0.02)

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
    # threads hand the GIL over every 0.5 ms, not 5: a request's arrival and
    # a chunk's emission are stamped when they happen, not when a thread
    # streaming another answer lets go
    sys.setswitchinterval(0.0005)
    opt = parse(sys.argv[1:])
    state = State(opt)
    srv = QuietServer((opt.host, opt.port), handler_for(state))
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
