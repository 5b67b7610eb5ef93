#!/usr/bin/env python3
"""User errors are one or two lines and exit 2, before the first request
(issue 14 items 7, 13, 14; issue 15 item 10): every numeric option is
range-checked, URLs need their scheme, prompt files are read up front (a bad
JSONL line is named with its number), SLO keys and threshold paths are
checked with a suggestion, options that cannot apply are refused instead of
silently ignored. A test server (tests/e2e/realserver.py) logs every request
it gets, so "before the first request" is checked, not assumed."""
import json
import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mocklib import expect, finish, MLXBENCH   # noqa: E402
from realserver import Server                    # noqa: E402

TMP = tempfile.TemporaryDirectory()


def run(*args, timeout=120):
    p = subprocess.run([MLXBENCH, *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def user_error(what, args, needle, srv=None):
    """exit 2, at most two lines on stderr naming the problem, no traceback,
    and (with a server) no request sent."""
    before = len(srv.log()) if srv else 0
    rc, out, err = run(*args)
    lines = [l for l in err.splitlines() if l.strip()]
    ok = expect(what + ": exit 2", rc == 2, "rc=%d %s" % (rc, err[-600:]))
    ok = expect(what + ": says " + repr(needle), needle in err, err[-600:]) and ok
    ok = expect(what + ": one or two lines", 1 <= len(lines) <= 2, err[-600:]) and ok
    ok = expect(what + ": no traceback", "traceback" not in err and ".lua:" not in err, err[-600:]) and ok
    if srv:
        ok = expect(what + ": no request was sent", len(srv.log()) == before,
                    "%d requests" % (len(srv.log()) - before)) and ok
    return ok


with Server("--flavor", "vllm", "--models", "qwen2.5-7b-instruct") as s:
    M = ["run", "-m", "qwen2.5-7b-instruct", "--url", s.url, "-n", "2"]

    # --- every numeric option of `run` is range-checked (issue 15 item 10) ---
    bad_numbers = [
        ("--rate", "1e308", "--rate must be a number > 0 and <= 100000"),
        ("--rate", "0", "--rate must be a number > 0"),
        ("--rate", "nan", "--rate must be a number"),
        ("-n", "0", "--runs must be an integer in 1..10000000"),
        ("-n", "2.5", "--runs must be an integer"),
        ("-n", "abc", "--runs must be an integer"),
        ("-c", "1e9", "--concurrency must be an integer in 1..100000"),
        ("--max-tokens", "-3", "--max-tokens must be an integer in 1..10000000"),
        ("--max-completion-tokens", "0", "--max-completion-tokens must be an integer"),
        ("--min-tokens", "-1", "--min-tokens must be an integer in 0..10000000"),
        ("--warmup", "-1", "--warmup must be an integer in 0..10000000"),
        ("--duration", "1e308", "--duration must be a number > 0 and <= 604800"),
        ("--duration", "inf", "--duration must be a number"),
        ("--timeout", "0", "--timeout must be a number > 0"),
        ("--grace", "-2", "--grace must be a number >= 0"),
        ("--seed", "-1", "--seed must be an integer"),
        ("--seed", "1e30", "--seed must be an integer"),
        ("--burstiness", "0", "--burstiness must be a number > 0"),
        ("--max-inflight", "0", "--max-inflight must be an integer in 1..1000000"),
        ("--threads", "1000", "--threads must be an integer in 1..256"),
        ("--max-line", "3", "--max-line must be an integer in 16.."),
        ("--max-body", "10", "--max-body must be an integer in 1024.."),
    ]
    for opt, val, needle in bad_numbers:
        extra = ["--rate", "2"] if opt in ("--burstiness", "--max-inflight") else []
        user_error("run %s %s" % (opt, val), M + extra + [opt, val], needle, s)
    user_error("rate x duration too many arrivals", M + ["--rate", "100000", "--duration", "604800"],
               "arrivals; at most 10000000", s)

    # --- URLs, prompts, files (issue 14 item 14) ---
    user_error("--url without a scheme", ["run", "-m", "x", "--url", "127.0.0.1:%d" % s.port],
               "has no scheme; did you mean http://127.0.0.1:%d" % s.port)
    user_error("--url ftp://", ["run", "-m", "x", "--url", "ftp://h/"], "only http:// and https://")
    user_error("--prompt @/missing", M + ["--prompt", "@/nonexistent/p.txt"],
               "--prompt: cannot open /nonexistent/p.txt: No such file or directory", s)
    user_error("--prompt @/missing.jsonl", M + ["--prompt", "@/nonexistent/p.jsonl"],
               "--prompt: cannot open /nonexistent/p.jsonl", s)
    bad = os.path.join(TMP.name, "bad.jsonl")
    with open(bad, "w") as f:
        f.write('{"messages":[{"role":"user","content":"a"}]}\n\n{"prompt": "b"}\n{"prompt": oops}\n')
    user_error("a bad JSONL line is named", M + ["--prompt", "@" + bad], "bad.jsonl:4: not valid JSON", s)
    badmax = os.path.join(TMP.name, "badmax.jsonl")
    with open(badmax, "w") as f:
        f.write('{"prompt": "a", "max_tokens": 4}\n{"prompt": "b", "max_tokens": 2.5}\n')
    user_error("a non-integral max_tokens is named", M + ["--prompt", "@" + badmax],
               "badmax.jsonl:2: max_tokens must be a positive integer, got 2.5", s)
    user_error("--prompt synthetic:abc (item 13)", M + ["--prompt", "synthetic:abc"],
               "want synthetic:N", s)
    user_error("--prompt synthetic:0", M + ["--prompt", "synthetic:0"], "want synthetic:N", s)
    user_error("--extra-body not JSON", M + ["--extra-body", "{top_k: 1}"], "--extra-body: want a JSON object", s)
    user_error("--extra-body a list", M + ["--extra-body", "[1]"], "--extra-body: want a JSON object", s)
    user_error("--header without a colon", M + ["--header", "X-Team"], "is not 'Name: value'", s)
    user_error("an unknown option is suggested", M + ["--max-token", "5"],
               "unknown option '--max-token' (did you mean --max-tokens?)", s)
    user_error("--min-tokens above the max", M + ["--max-tokens", "8", "--min-tokens", "9"],
               "--min-tokens 9 is above the max tokens (8)", s)
    user_error("--max-tokens and --max-completion-tokens", M + ["--max-tokens", "8", "--max-completion-tokens", "9"],
               "not both", s)

    # --- options that cannot apply are refused (item 13) ---
    user_error("--mock --url", ["run", "-m", "small", "--mock", "--url", s.url], "--mock runs against the embedded", s)
    user_error("--ignore-eos on Anthropic", ["run", "-m", "claude-3-5-haiku-latest", "--url", s.url, "--ignore-eos"],
               "the Anthropic API has none of them", s)
    user_error("--ignore-eos on api.openai.com", ["run", "-m", "gpt-4o-mini", "--url", "https://api.openai.com",
                                                  "--ignore-eos"], "the OpenAI API rejects them")

    # --- SLOs and thresholds, before the first request (item 7) ---
    user_error("--slo typo", M + ["--slo", "tfft=0.001"], "--slo: unknown key 'tfft' (did you mean ttft?)", s)
    user_error("--slo attainment > 1", M + ["--slo", "ttft=1,attainment=5"], "attainment is a share", s)
    user_error("--slo not a number", M + ["--slo", "ttft=fast"], "cannot read 'ttft=fast'", s)
    user_error("--threshold typo", M + ["--threshold", "ttfts.p95<1"],
               "unknown path 'ttfts.p95' (did you mean ttft_s.p95?)", s)
    user_error("--threshold unknown statistic", M + ["--threshold", "ttft_s.p42<1"], "has no statistic 'p42'", s)
    user_error("--threshold unit on a count", M + ["--threshold", "requests.failed<1ms"], "takes no unit", s)

    # --- thresholds print the measured value in the limit's unit (item 7) ---
    rc, out, err = run(*M, "--threshold", "ttft_s.p95<1ms", "--threshold", "e2e_s.p50<0.001",
                       "--threshold", "requests.failed==0", "-q")
    expect("a failed threshold exits 1", rc == 1, "rc=%d %s" % (rc, err))
    line = [l for l in err.splitlines() if l.startswith("FAILED: ttft_s.p95<1ms")]
    expect("ms limit, ms value", line and line[0].startswith("FAILED: ttft_s.p95<1ms: measured ") and
           line[0].endswith(" ms") and 15 < float(line[0].split()[-2]) < 500, err)
    line = [l for l in err.splitlines() if l.startswith("FAILED: e2e_s.p50<0.001")]
    expect("seconds limit, seconds value", line and line[0].endswith(" s"), err)
    expect("a threshold that holds is silent", "requests.failed" not in err, err)

    # --- -q prints the data; only progress is quiet (item 13) ---
    rc, out, err = run(*M, "-q", "--format", "json")
    doc = json.loads(out) if rc == 0 and out.startswith("{") else None
    expect("-q --format json prints the JSON", doc and doc["runs"][0]["requests"]["ok"] == 2, out[:300] + err)
    expect("-q: nothing on stderr", err == "", err)
    rc, out, err = run(*M, "-q", "--format", "csv")
    expect("-q --format csv prints the CSV", rc == 0 and out.startswith("name,model,backend") and
           len(out.splitlines()) == 2, out)
    rc, out, err = run(*M, "-q")
    expect("-q prints the table", rc == 0 and "Throughput" in out and "Latency" in out, out)

    # --- --no-usage counts events even when the server sends usage (item 13)
    with Server("--flavor", "lmstudio", "--usage", "always", "--tokens-per-chunk", "3",
                "--natural", "30") as u:
        rc, out, err = run("run", "-m", "qwen2.5-7b-instruct", "--url", u.url, "-n", "2", "--no-usage",
                           "--format", "json", "-q")
        r = json.loads(out)["runs"][0]
        expect("--no-usage: the server sent usage", all(rec.get("usage_sent") for rec in u.log()))
        expect("--no-usage: not asked for (no stream_options)",
               all("stream_options" not in rec["body"] for rec in u.log()))
        expect("--no-usage: counts events (30 tokens in 10 events)", r["tokens"]["output"] == 20 and
               all(q["output_tokens"] == 10 and q["token_source"] == "events" for q in r["per_request"]),
               r["tokens"])
        expect("--no-usage: input tokens estimated too", r["tokens"]["prompt_token_source"] == "chars/4" and
               r["tokens"]["input_estimated"] is True, r["tokens"])
        rc, out, err = run("run", "-m", "qwen2.5-7b-instruct", "--url", u.url, "-n", "2", "--no-usage",
                           "--no-stream", "--format", "json", "-q")
        r = json.loads(out)["runs"][0]
        # the answer's characters / 4 (rounded up), not the usage's 30
        chars = u.log()[-1]["chunks"][0][2]
        q = r["per_request"][-1]
        expect("--no-usage --no-stream: bytes/4", q["token_source"] == "bytes/4" and
               q["output_tokens"] == (chars + 3) // 4, (q, chars))
        rc, out, err = run("run", "-m", "qwen2.5-7b-instruct", "--url", u.url, "-n", "2",
                           "--format", "json", "-q")
        r = json.loads(out)["runs"][0]
        expect("with usage: the server's count", r["tokens"]["output"] == 60 and r["tokens"]["token_source"] == "usage"
               and r["tokens"]["estimated"] is False, r["tokens"])

# `suite` and `compare` check their numbers too
user_error("suite -n abc", ["suite", "--mock", "-n", "abc"], "--runs must be an integer")
user_error("suite --max-tokens 0", ["suite", "--mock", "--max-tokens", "0"], "--max-tokens must be an integer")
user_error("suite --grace -1", ["suite", "--mock", "--grace", "-1"], "--grace must be a number >= 0")
user_error("suite --mock --url", ["suite", "--mock", "--url", "http://127.0.0.1:1"], "give one of them")
user_error("compare --time-floor -1", ["compare", "a.json", "b.json", "--time-floor", "-1"],
           "--time-floor must be a number >= 0")
user_error("compare --max-regression x", ["compare", "a.json", "b.json", "--max-regression", "x"],
           "expected a percentage")
user_error("calibrate --duration 0", ["calibrate", "--duration", "0"], "--duration must be a number")
user_error("mock --port 70000", ["mock", "--port", "70000"], "--port must be an integer in 0..65535")
finish()
