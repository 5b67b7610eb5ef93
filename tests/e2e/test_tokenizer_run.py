# run: serial (wall-clock tolerances: tests/tests.cmake)
"""test_tokenizer_run: exact token counts in `mlxbench run`, and finding the
tokenizer on this machine.

A test server (stdlib) answers like mlx_lm.server / vLLM without usage:
the answer streams in chunks of about 12 characters -- several tokens per
chunk -- 20 ms apart, and ignores stream_options.include_usage. With
`--tokenizer FILE` the run must report the exact output token count (the
reference's count of the text, 90 under tests/fixtures/tok/bl_roberta.json,
from Hugging Face tokenizers 0.23.2), token_source "tokenizer", TPOT from
that count, and the prompt's exact count (18) as input tokens. Against the
same server sending usage (completion_tokens 92), usage stays the source
and the tokenizer's count is recorded beside it with the relative
difference. Then --tokenizer auto finds a file placed in a fake Hugging
Face cache ($HF_HOME), an LM Studio folder ($HOME/.lmstudio/models, by a
lower-cased name without org) and $MLXBENCH_TOKENIZERS; with none found the
run says so once (in the report's notes; on stderr too on a terminal) and
counts events. Last, the emulator with a profile
naming the tokenizer reports usage equal to the client's counts (output and
input, relative difference 0) where its 4-characters rule did not."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import time

SRC = os.environ.get("MB_SRC", os.getcwd())
MLXBENCH = os.environ.get("MLXBENCH", os.path.join(SRC, "build", "mlxbench"))
TOKFILE = os.path.join(SRC, "tests", "fixtures", "tok", "bl_roberta.json")
ANSWER = ("The model streams its answer to the client a few tokens at a time, and it never reports "
          "usage: counting is up to you. Émoji 👍 and 日本語 too.")
ANSWER_TOKENS = 90          # Hugging Face tokenizers, bl_roberta.json, no special tokens
PROMPT = "Say something about latency."
PROMPT_TOKENS = 18
MODEL = "acme/Tiny-Model-4bit"
CHUNK = 12                  # characters per streamed chunk
GAP = 0.02                  # seconds between chunks
SANITIZED = os.environ.get("MB_SANITIZED") == "1"

checks = fails = 0


def expect(what, cond, detail=""):
    global checks, fails
    checks += 1
    if not cond:
        fails += 1
        print("FAIL: %s %s" % (what, detail), file=sys.stderr)


def chunks(text):
    """Pieces of about CHUNK characters, never inside a character."""
    return [text[i:i + CHUNK] for i in range(0, len(text), CHUNK)]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    usage = None            # completion_tokens to report, or None

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def send(obj):
            data = ("data: " + (obj if isinstance(obj, str) else json.dumps(obj)) + "\n\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": body.get("model")}
        send(dict(base, choices=[{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]))
        for k, piece in enumerate(chunks(ANSWER)):
            if k:
                time.sleep(GAP)
            send(dict(base, choices=[{"index": 0, "delta": {"content": piece}, "finish_reason": None}]))
        final = dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}])
        if self.usage is not None:
            final["usage"] = {"prompt_tokens": PROMPT_TOKENS + 1, "completion_tokens": self.usage,
                              "total_tokens": PROMPT_TOKENS + 1 + self.usage}
        send(final)
        send("[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def serve(usage):
    h = type("H", (Handler,), {"usage": usage})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), h)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, "http://127.0.0.1:%d" % srv.server_address[1]


def run(url, tmp, tokenizer=None, env=None, n=3, model=MODEL, extra=()):
    out = os.path.join(tmp, "r.json")
    cmd = [MLXBENCH, "run", "-m", model, "--url", url, "-n", str(n), "--warmup", "0",
           "--prompt", PROMPT, "--quiet", "-o", out, *extra]
    if tokenizer:
        cmd += ["--tokenizer", tokenizer]
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=120)
    doc = json.load(open(out)) if os.path.exists(out) else None
    os.path.exists(out) and os.remove(out)
    return p, doc["runs"][0] if doc else None


def main():
    tmp = tempfile.mkdtemp()
    try:
        # 1. no usage: the tokenizer counts, exactly
        srv, url = serve(None)
        p, r = run(url, tmp, tokenizer=TOKFILE)
        expect("run without usage succeeds", p.returncode == 0 and r, p.stderr[-500:])
        if r:
            k = len(chunks(ANSWER))
            expect("several tokens per chunk (the events undercount)", k < ANSWER_TOKENS / 2, str(k))
            for q in r["per_request"]:
                expect("exact output tokens", q.get("output_tokens") == ANSWER_TOKENS, str(q))
                expect("token_source tokenizer", q.get("token_source") == "tokenizer", str(q))
                expect("exact input tokens", q.get("input_tokens") == PROMPT_TOKENS, str(q))
                expect("prompt_token_source tokenizer", q.get("prompt_token_source") == "tokenizer", str(q))
                tpot = q.get("tpot_s")
                want = (k - 1) * GAP / (ANSWER_TOKENS - 1)
                # per event it would be GAP, several times more: the band
                # leaves room for a Python server's late first chunk under load
                expect("TPOT per token, not per event", tpot is not None and
                       (SANITIZED or 0.6 * want <= tpot <= 1.6 * want) and tpot < GAP / 2,
                       "%s vs %s" % (tpot, want))
            expect("run totals", r["tokens"]["output"] == 3 * ANSWER_TOKENS and
                   r["tokens"]["source"].get("tokenizer") == 3, str(r["tokens"]))
            expect("tokenizer recorded", r["tokenizer"]["path"] == os.path.realpath(TOKFILE) and
                   len(r["tokenizer"]["sha256"]) == 64, str(r["tokenizer"]))
            expect("no estimate warning", not any("estimated" in w for w in r.get("warnings", [])),
                   str(r.get("warnings")))
        # without a tokenizer the same server gives event counts
        p, r = run(url, tmp, tokenizer="none")
        expect("--tokenizer none counts events", r and r["per_request"][0]["token_source"] == "events" and
               r["per_request"][0]["output_tokens"] == len(chunks(ANSWER)), str(r and r["per_request"][0]))
        expect("--tokenizer none recorded", r and r["tokenizer"].get("none", "").startswith("disabled"),
               str(r and r["tokenizer"]))
        srv.shutdown()

        # 2. usage present: it stays the source; the tokenizer's count beside it
        srv, url = serve(ANSWER_TOKENS + 2)
        p, r = run(url, tmp, tokenizer=TOKFILE)
        expect("run with usage succeeds", p.returncode == 0 and r, p.stderr[-500:])
        if r:
            q = r["per_request"][0]
            expect("usage is the source", q["token_source"] == "usage" and q["output_tokens"] == ANSWER_TOKENS + 2, str(q))
            expect("tokenizer count beside usage", q.get("tokenizer_tokens") == ANSWER_TOKENS and
                   q.get("tokenizer_input_tokens") == PROMPT_TOKENS, str(q))
            d = r["tokens"]["tokenizer_vs_usage"]
            expect("relative difference per run", abs(d["output"]["max_rel_diff"] - 2 / (ANSWER_TOKENS + 2)) < 1e-9 and
                   d["output"]["requests"] == 3 and abs(d["input"]["mean_rel_diff"] - 1 / (PROMPT_TOKENS + 1)) < 1e-9,
                   str(d))

        # 3. auto: a fake Hugging Face cache
        hf = os.path.join(tmp, "hf")
        snap = os.path.join(hf, "hub", "models--acme--Tiny-Model-4bit", "snapshots", "0123abcd")
        os.makedirs(snap)
        os.makedirs(os.path.join(hf, "hub", "models--acme--Tiny-Model-4bit", "refs"))
        open(os.path.join(hf, "hub", "models--acme--Tiny-Model-4bit", "refs", "main"), "w").write("0123abcd")
        shutil.copy(TOKFILE, os.path.join(snap, "tokenizer.json"))
        home = os.path.join(tmp, "home")
        os.makedirs(home)
        env = {"HF_HOME": hf, "HOME": home, "MLXBENCH_TOKENIZERS": "", "HF_HUB_CACHE": "", "XDG_CACHE_HOME": ""}
        p, r = run(url, tmp, env=env)
        expect("auto finds the Hugging Face cache", r and r["tokenizer"].get("path") ==
               os.path.realpath(os.path.join(snap, "tokenizer.json")), str(r and r["tokenizer"]))
        expect("auto counts with it", r and r["per_request"][0].get("tokenizer_tokens") == ANSWER_TOKENS,
               str(r and r["per_request"][0]))
        t = subprocess.run([MLXBENCH, "tokenize", "-t", "acme/tiny-model-4bit", ANSWER], capture_output=True,
                           text=True, env=dict(os.environ, **env))
        expect("tokenize finds it by name, any case", t.stdout.strip() == str(ANSWER_TOKENS), t.stdout + t.stderr)

        # 4. auto: LM Studio's folder, the model named as its API does
        lms = os.path.join(home, ".lmstudio", "models", "lmstudio-community", "Small-Chat-MLX")
        os.makedirs(lms)
        shutil.copy(TOKFILE, os.path.join(lms, "tokenizer.json"))
        env["HF_HOME"] = os.path.join(tmp, "empty")
        p, r = run(url, tmp, env=env, model="small-chat-mlx")
        expect("auto finds LM Studio's folder", r and r["tokenizer"].get("path") ==
               os.path.realpath(os.path.join(lms, "tokenizer.json")), str(r and r["tokenizer"]))

        # 5. auto: $MLXBENCH_TOKENIZERS
        mt = os.path.join(tmp, "toks", "other--Model")
        os.makedirs(mt)
        shutil.copy(TOKFILE, os.path.join(mt, "tokenizer.json"))
        env["MLXBENCH_TOKENIZERS"] = os.path.join(tmp, "toks")
        p, r = run(url, tmp, env=env, model="other/model")
        expect("auto finds $MLXBENCH_TOKENIZERS", r and r["tokenizer"].get("path") ==
               os.path.realpath(os.path.join(mt, "tokenizer.json")), str(r and r["tokenizer"]))

        # 6. none found: said once, counts estimated, recorded
        srv.shutdown()
        srv, url = serve(None)
        p = subprocess.run([MLXBENCH, "run", "-m", "nobody/unknown-model", "--url", url, "-n", "3", "--warmup", "0",
                            "--prompt", PROMPT, "-o", os.path.join(tmp, "r.json")], capture_output=True, text=True,
                           env=dict(os.environ, **env), timeout=120)
        said = (p.stdout + p.stderr).count("no tokenizer for nobody/unknown-model")
        expect("none found: said once (the report's notes)", said == 1, p.stdout[-800:] + p.stderr[-800:])
        r = json.load(open(os.path.join(tmp, "r.json")))["runs"][0]
        expect("none found: recorded", "no tokenizer found" in r["tokenizer"].get("none", ""), str(r["tokenizer"]))
        expect("none found: events counted", r["per_request"][0]["token_source"] == "events" and
               r["per_request"][0]["prompt_token_source"] == "chars/4", str(r["per_request"][0]))
        expect("none found: a warning in the results", any("estimated" in w for w in r.get("warnings", [])),
               str(r.get("warnings")))
        # an explicit tokenizer that does not exist is an error, in one line
        p = subprocess.run([MLXBENCH, "run", "-m", "m", "--url", url, "-n", "1", "--tokenizer", "/no/such.json"],
                           capture_output=True, text=True, timeout=60)
        expect("a missing --tokenizer is one line, exit 2", p.returncode == 2 and "Traceback" not in p.stderr
               and len(p.stderr.strip().splitlines()) == 1 and "/no/such.json" in p.stderr, p.stderr)
        srv.shutdown()

        # 7. the emulator counts with the tokenizer its profile names
        prof = os.path.join(tmp, "profile.json")
        for with_tok in (True, False):
            json.dump({"tokenizer": TOKFILE} if with_tok else {}, open(prof, "w"))
            mock = subprocess.Popen([MLXBENCH, "mock", "--port", "0", "--quiet", "--profile", prof],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            murl = mock.stdout.readline().strip()
            p, r = run(murl, tmp, tokenizer=TOKFILE, model="gpt-4o-mini")
            # a run to max_tokens: the answer is max_tokens of the tokenizer's
            # tokens, never more (each emitted token is one of them)
            p2, r2 = run(murl, tmp, tokenizer=TOKFILE, model="gpt-4o-mini",
                         extra=["--max-tokens", "64", "--ignore-eos", "--stream"])
            mock.send_signal(2)
            mock.wait(timeout=30)
            d = (r or {}).get("tokens", {}).get("tokenizer_vs_usage", {})
            if with_tok:
                expect("emulator usage = tokenizer (output)", d.get("output", {}).get("max_rel_diff") == 0, str(d))
                expect("emulator usage = tokenizer (input)", d.get("input", {}).get("max_rel_diff") == 0 and
                       r["per_request"][0]["input_tokens"] == PROMPT_TOKENS, str(d))
                d2 = (r2 or {}).get("tokens", {}).get("tokenizer_vs_usage", {})
                outs = [q.get("output_tokens") for q in (r2 or {}).get("per_request", [])]
                expect("emulator at max_tokens: usage is exactly max_tokens (64) of the tokenizer's tokens",
                       outs == [64, 64, 64] and d2.get("output", {}).get("max_rel_diff") == 0, str((outs, d2)))
            else:
                expect("emulator without a tokenizer: its own rule", d.get("input", {}).get("max_rel_diff", 0) > 0,
                       str(d))
        json.dump({"tokenizer": "/no/such/tokenizer.json"}, open(prof, "w"))
        p = subprocess.run([MLXBENCH, "mock", "--port", "0", "--profile", prof], capture_output=True, text=True,
                           timeout=30)
        expect("a profile naming a missing tokenizer is refused in one line", p.returncode == 2 and
               "tokenizer" in p.stderr and "/no/such/tokenizer.json" in p.stderr, p.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d checks, %d failed" % (checks, fails))
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
