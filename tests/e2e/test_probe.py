#!/usr/bin/env python3
# tier: slow (not in tools/test.sh --fast)
"""`mlxbench probe` (issue 20) gives the right answer for each capability,
against test servers built to differ on each one (tests/e2e/realserver.py
in the flavours of vLLM, mlx_lm.server, Ollama, LM Studio, llama.cpp and
the OpenAI API, one behind nginx for HTTP/2) and against the emulator.
Every capability is checked both ways: a server that has it (yes) and one
that does not (no), with the evidence that says why; the answers are read
from `--format json` and checked against what the servers logged.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mocklib import expect, finish, MLXBENCH   # noqa: E402
from realserver import Server                    # noqa: E402
from httpenv import free_port, wait_port, die_with_parent   # noqa: E402

PLATFORM = subprocess.run([MLXBENCH, "-e", "io.write(require('mlxbench._sys').platform)"],
                          capture_output=True, text=True).stdout

TMP = tempfile.TemporaryDirectory()


def probe(url, model, *extra):
    p = subprocess.run([MLXBENCH, "probe", "--url", url, "-m", model, "--format", "json", "-q", *extra],
                       capture_output=True, text=True, timeout=240)
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        doc = None
    expect("probe of %s exits 0 with JSON" % url, p.returncode == 0 and doc is not None,
           (p.returncode, p.stderr[-600:], p.stdout[-300:]))
    return doc or {"checks": [], "flags": [], "notes": []}


def answers(doc):
    return {c["id"]: c for c in doc["checks"]}


def check(doc, name, cid, answer, evidence=None):
    c = answers(doc).get(cid)
    ok = c is not None and c["answer"] == answer and (evidence is None or evidence in c["evidence"])
    expect("%s: %s is %s%s" % (name, cid, answer, (" (" + evidence + ")") if evidence else ""), ok, c)


def gen(log):
    return [r for r in log if r["path"].endswith("/chat/completions")]


# ------------------------------------------------------------- vLLM-like
# several tokens per chunk, a reasoning field, usage on the finish chunk,
# ignore_eos and min_tokens honoured, llama.cpp-style timings, a prefix
# cache, /metrics in vLLM's names, batching
with Server("--flavor", "vllm", "--tokens-per-chunk", "3", "--reasoning-field", "reasoning",
            "--reasoning-tokens", "6", "--usage-position", "finish", "--timings", "llamacpp",
            "--prefix-cache", "on", "--metrics", "--itl", "0.01") as s:
    a = probe(s.url, "Qwen/Qwen2.5-7B-Instruct")
    check(a, "vllm", "api_models", "yes", "1 model")
    check(a, "vllm", "api_chat", "yes")
    check(a, "vllm", "api_completions", "no", "404")
    check(a, "vllm", "api_messages", "no", "404")
    check(a, "vllm", "api_responses", "no", "404")
    check(a, "vllm", "streaming", "yes", "[DONE]")
    check(a, "vllm", "usage_asked", "yes")
    check(a, "vllm", "usage_unasked", "no")
    check(a, "vllm", "usage_position", "yes", "finish chunk")
    check(a, "vllm", "reasoning", "yes", "reasoning (2 events)")
    check(a, "vllm", "ignore_eos", "yes", "96 tokens")
    check(a, "vllm", "min_tokens", "yes")
    check(a, "vllm", "cached_tokens", "yes", "cached on the repeat")
    check(a, "vllm", "server_timings", "yes", "timings")
    check(a, "vllm", "metrics", "yes", "vllm names")
    check(a, "vllm", "keep_alive", "yes")
    check(a, "vllm", "concurrency", "yes")
    check(a, "vllm", "seed_batching", "no")
    tpc = answers(a).get("tokens_per_chunk", {})
    # the stream: 6 reasoning tokens in 2 events, then content 3 per chunk
    log = gen(s.log())
    streamed = [r for r in log if r["body"].get("stream") and r["body"].get("max_tokens") == 48]
    ok = bool(streamed)
    if ok:
        r = streamed[0]
        events = len(r["chunks"])
        expect("vllm: tokens_per_chunk matches the server's chunks",
               tpc.get("answer") == "yes" and ("%d tokens in %d content events" % (r["completion_tokens"], events))
               in tpc.get("evidence", ""), (tpc, r["completion_tokens"], events))
    expect("vllm: the logged stream exists", ok, len(log))
    flags = " ".join(f["flag"] for f in a["flags"])
    # (--server-pid auto where the platform layer can sample another process)
    expect("vllm: the command asks --ignore-eos and --metrics-url", "--ignore-eos" in flags and
           "--metrics-url " + s.url + "/metrics" in flags and
           ("--server-pid auto" in flags) == (PLATFORM != "posix"), a.get("command"))
    expect("vllm: a note says several tokens per chunk", any("several tokens per chunk" in n for n in a["notes"]),
           a["notes"])
    # the probe's budget: a few hundred output tokens, tens of requests
    expect("vllm: bounded (<= 40 requests, <= 1500 output tokens)", a["requests"] <= 40 and
           a["tokens"]["output"] <= 1500, (a["requests"], a["tokens"]))

# ------------------------------------------------------- mlx_lm.server-like
# one token per chunk, usage separate, ignores ignore_eos / min_tokens,
# reasoning_content, cached_tokens always 0, seed turns batching off, no
# /metrics, no keep-alive
with Server("--flavor", "mlx", "--batching", "seed-off", "--reasoning-field", "reasoning_content",
            "--reasoning-tokens", "2", "--prefix-cache", "zero", "--no-keepalive", "--itl", "0.01") as s:
    b = probe(s.url, "mlx-community/Qwen2.5-7B-Instruct-4bit")
    check(b, "mlx", "tokens_per_chunk", "yes", "1.00 per chunk")
    check(b, "mlx", "usage_position", "yes", "separate chunk")
    check(b, "mlx", "reasoning", "yes", "reasoning_content")
    check(b, "mlx", "ignore_eos", "no", "ignored")
    check(b, "mlx", "min_tokens", "no", "ignored")
    check(b, "mlx", "cached_tokens", "no", "0 cached")
    check(b, "mlx", "metrics", "no", "404")
    check(b, "mlx", "keep_alive", "no", "Connection: close")
    check(b, "mlx", "server_timings", "no")
    check(b, "mlx", "concurrency", "yes")
    check(b, "mlx", "seed_batching", "yes")
    seeded = [r for r in gen(s.log()) if "seed" in r["body"]]
    expect("mlx: the seed check sent seed on 4 streams", len(seeded) == 4, len(seeded))
    expect("mlx: a note warns about seed", any("seed" in n for n in b["notes"]), b["notes"])
    expect("mlx: no --ignore-eos in the command", "--ignore-eos" not in b["command"], b["command"])

# ------------------------------------------------------------ Ollama-like
# one generation at a time, timings only on the native /api/chat, usage
# only when asked
with Server("--flavor", "ollama", "--batching", "no", "--itl", "0.01") as s:
    c = probe(s.url, "llama3.2:3b")
    check(c, "ollama", "concurrency", "no")
    check(c, "ollama", "seed_batching", "unknown", "no batching to disable")
    check(c, "ollama", "server_timings", "no", "/api/chat")
    check(c, "ollama", "cached_tokens", "unknown")
    check(c, "ollama", "reasoning", "unknown")
    native = [r for r in s.log() if r["path"] == "/api/chat"]
    expect("ollama: the native API was asked once", len(native) == 1, len(native))

# --------------------------------------------------------- LM Studio-like
# usage sent in streams unasked; stats on its native API
with Server("--flavor", "lmstudio", "--itl", "0.005") as s:
    d = probe(s.url, "qwen2.5-7b-instruct")
    check(d, "lmstudio", "usage_unasked", "yes")
    check(d, "lmstudio", "usage_asked", "yes")
    check(d, "lmstudio", "server_timings", "no", "LM Studio")

# ---------------------------------------------------------- llama.cpp-like
# ignore_eos honoured, min_tokens not; timings; no usage in streams: the
# tokens per chunk are unknown without a tokenizer
with Server("--flavor", "llamacpp", "--honour", "ignore_eos", "--timings", "llamacpp", "--usage", "never",
            "--tokens-per-chunk", "2") as s:
    e = probe(s.url, "llama-3.2-3b-instruct-q4_k_m.gguf", "--tokenizer", "none")
    check(e, "llamacpp", "usage_asked", "no")
    check(e, "llamacpp", "tokens_per_chunk", "unknown", "no usage and no tokenizer")
    check(e, "llamacpp", "server_timings", "yes", "timings")
    check(e, "llamacpp", "max_tokens", "unknown", "accepted")
    expect("llamacpp: the command asks for the model's tokenizer (none here: its path)",
           "--tokenizer PATH" in e["command"] and "no tokenizer for llama-3.2-3b-instruct-q4_k_m.gguf"
           in " ".join(f["why"] for f in e["flags"]), e["command"])

with Server("--flavor", "llamacpp", "--honour", "ignore_eos", "--timings", "llamacpp") as s:
    e2 = probe(s.url, "llama-3.2-3b-instruct-q4_k_m.gguf")
    check(e2, "llamacpp+usage", "ignore_eos", "yes")
    check(e2, "llamacpp+usage", "min_tokens", "no", "ignored")
    check(e2, "llamacpp+usage", "tokens_per_chunk", "yes", "1.00 per chunk")

# -------------------------------------------------------------- OpenAI-like
# max_tokens refused (max_completion_tokens needed), unknown fields
# rejected, stream_options rejected
with Server("--flavor", "openai", "--require-max-completion-tokens", "--reject-stream-options") as s:
    f = probe(s.url, "gpt-4o-mini")
    check(f, "openai", "max_tokens", "no", "rejected")
    check(f, "openai", "max_completion_tokens", "yes")
    check(f, "openai", "ignore_eos", "no", "rejected")
    check(f, "openai", "usage_asked", "no", "stream_options rejected")
    expect("openai: the command uses --max-completion-tokens", "--max-completion-tokens" in f["command"],
           f["command"])
    check(f, "openai", "model", "yes")
    g = probe(s.url, "gpt-5-nonexistent")
    check(g, "openai", "model", "no", "gpt-4o-mini")

# ----------------------------------------------------- HTTP/2 (nginx h2c)
nginx = shutil.which("nginx")
if not nginx:
    expect("nginx on PATH, the HTTP/2 server the 'yes' is checked against (tools/deps.sh test installs it)", False)
else:
    with Server("--flavor", "vllm") as s:
        port = free_port()
        tmp = TMP.name
        for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(tmp, d), exist_ok=True)
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as fh:
            fh.write("""daemon off; master_process off; worker_processes 1;
error_log %(t)s/error.log warn; pid %(t)s/nginx.pid;
events { worker_connections 256; }
http {
  access_log off; client_body_temp_path %(t)s/body; proxy_temp_path %(t)s/proxy;
  fastcgi_temp_path %(t)s/fastcgi; uwsgi_temp_path %(t)s/uwsgi; scgi_temp_path %(t)s/scgi;
  server {
    listen 127.0.0.1:%(p)d http2;
    location / { proxy_pass %(u)s; proxy_http_version 1.1; proxy_buffering off; }
  }
}
""" % {"t": tmp, "p": port, "u": s.url})
        ng = subprocess.Popen([nginx, "-c", conf, "-p", tmp], preexec_fn=die_with_parent,
                              stderr=subprocess.DEVNULL)
        try:
            wait_port(port, ng, "nginx")
            h = probe("http://127.0.0.1:%d" % port, "Qwen/Qwen2.5-7B-Instruct", "-c", "2")
            check(h, "nginx h2c", "http2", "yes", "HTTP/2")
        finally:
            ng.terminate()
            ng.wait(5)
    with Server("--flavor", "vllm") as s:
        h1 = probe(s.url, "Qwen/Qwen2.5-7B-Instruct", "-c", "2")
        check(h1, "plain", "http2", "no", "h2c")

# --------------------------------------------------------------- emulator
p = subprocess.run([MLXBENCH, "probe", "--mock", "-m", "small", "--format", "json", "-q"], capture_output=True,
                   text=True, timeout=240)
m = json.loads(p.stdout) if p.returncode == 0 else {"checks": [], "flags": [], "notes": []}
expect("emulator probe exits 0", p.returncode == 0, p.stderr[-400:])
for cid, want in [("api_models", "yes"), ("api_chat", "yes"), ("api_completions", "yes"), ("api_messages", "yes"),
                  ("api_responses", "no"), ("streaming", "yes"), ("usage_asked", "yes"), ("usage_unasked", "no"),
                  ("usage_position", "yes"), ("tokens_per_chunk", "yes"), ("max_tokens", "yes"),
                  ("max_completion_tokens", "yes"), ("ignore_eos", "yes"), ("min_tokens", "yes"),
                  ("cached_tokens", "no"), ("server_timings", "yes"), ("metrics", "yes"), ("keep_alive", "yes"),
                  ("http2", "no"), ("concurrency", "yes"), ("seed_batching", "no")]:
    check(m, "emulator", cid, want)

# ------------------------------------------- mlxbench run's silent part
# the first warm-up answer says, before the measured part, what the run's
# figures will be: estimated counts (no usage, no tokenizer) -- instead of
# the old notice before every run without a tokenizer -- and an ignored
# --ignore-eos; a server that sends usage draws no notice at all


def run_plain(url, model, *extra):
    """a run with progress lines (notices are said where progress is), the
    default tokenizer search (these models have none on this machine)"""
    return subprocess.run([MLXBENCH, "run", "--url", url, "-m", model, "-n", "2", "--progress", "plain", *extra],
                          capture_output=True, text=True, timeout=120, env=dict(os.environ, HF_HOME=TMP.name,
                                                                                MLXBENCH_TOKENIZERS=TMP.name))


with Server("--flavor", "mlx", "--usage", "never") as s:
    p = run_plain(s.url, "mlx-community/Qwen2.5-7B-Instruct-4bit", "--ignore-eos")
    err = p.stderr
    expect("run: no usage, no tokenizer: one notice from the warm-up answer", p.returncode == 0 and
           err.count("token counts are estimates") == 1 and "sent no usage for the warm-up request" in err, err)
    expect("run: ... and the ignored --ignore-eos is said before the measured part", "ignored --ignore-eos" in err and
           err.index("ignored --ignore-eos") < err.rindex("done in"), err)
    expect("run: the up-front no-tokenizer notice is not said too (once, when true)",
           "are estimated (events" not in err, err)
with Server("--flavor", "vllm") as s:
    p = run_plain(s.url, "Qwen/Qwen2.5-7B-Instruct", "--ignore-eos")
    expect("run: usage sent and ignore_eos honoured: no notice", p.returncode == 0 and
           "estimates" not in p.stderr and "ignored" not in p.stderr, p.stderr)
    p = run_plain(s.url, "Qwen/Qwen2.5-7B-Instruct", "--warmup", "0")
    expect("run --warmup 0: nothing to read first, the no-tokenizer notice before the run as before",
           p.returncode == 0 and "no tokenizer for Qwen/Qwen2.5-7B-Instruct: token counts are estimated" in p.stderr,
           p.stderr)

# ------------------------------------------------------ bad input, costs
p = subprocess.run([MLXBENCH, "probe", "--url", "ftp://x"], capture_output=True, text=True, timeout=30)
expect("a bad URL is one line, exit 2", p.returncode == 2 and len(p.stderr.strip().splitlines()) <= 2 and
       "Traceback" not in p.stderr and "stack traceback" not in p.stderr, p.stderr)
env = dict(os.environ, OPENAI_API_KEY="sk-test-not-a-real-key-0123456789")
p = subprocess.run([MLXBENCH, "probe", "--url", "https://api.openai.com", "-m", "gpt-4o-mini"], env=env,
                   capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
expect("a paid API: the cost is told and nothing is sent without --yes (exit 2)",
       p.returncode == 2 and "paid API" in p.stderr and "$" in p.stderr and "--yes" in p.stderr and
       "sk-test" not in p.stderr + p.stdout, p.stderr)
finish()
