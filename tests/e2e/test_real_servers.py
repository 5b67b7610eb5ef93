#!/usr/bin/env python3
# tier: slow (not in tools/test.sh --fast)
"""`mlxbench run` against servers that behave like the real ones (issue 14):
tests/e2e/realserver.py in the flavors of vLLM, Ollama, mlx_lm.server and
LM Studio -- their model names, answers that stop at a natural length,
several tokens per chunk, usage only on request or never, a cold start,
404 for unknown models. Each check is against what the server logged it
received and sent (request bodies, emission times on CLOCK_MONOTONIC).

  item 1   JSON prompts with "max_tokens": 5 (a float to lua-cjson) work
  item 3   warm-up finishes before the first measured request (closed and
           open loop), so a 2 s cold start stays out of TTFT
  item 4   -n is the number of measured requests in open loop too
  item 5   figures from counted events are marked estimated (~), with one note
  item 6   a failed run says why (the server's message), no false
           "client saturated", "-" throughput
  item 9   open loop: the schedule's window, latency from the intended send
  item 8   compare fails a new run with no success, and judges failures at
           any sample size
  item 11  --ignore-eos / --min-tokens / --extra-body / --header /
           --max-completion-tokens on the wire; early stops reported
  item 17  req/s, TPOT, input tokens in the table, one unit per group,
           the default table fits 120 columns
"""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mocklib import expect, finish, MLXBENCH   # noqa: E402
from realserver import Server                    # noqa: E402

TMP = tempfile.TemporaryDirectory()


def run(*args, timeout=180):
    p = subprocess.run([MLXBENCH, "run", *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def run_json(*args):
    rc, out, err = run(*args, "--format", "json", "--progress", "none")
    try:
        return rc, json.loads(out)["runs"][0], err
    except (ValueError, KeyError, IndexError):
        return rc, None, err + out


def gen(log):
    """the generation requests a server logged, in arrival order"""
    return sorted([r for r in log if r["path"].endswith("/chat/completions")], key=lambda r: r["t_arrival"])


# ---------------------------------------------------------------- item 1
with Server("--flavor", "vllm", "--models", "qwen2.5-7b-instruct", "--natural", "40") as s:
    p = os.path.join(TMP.name, "p.jsonl")
    with open(p, "w") as f:
        f.write('{"messages":[{"role":"user","content":"Say hi."}],"max_tokens":5}\n')
        f.write('{"prompt":"Name a prime.","max_tokens":7.0}\n')
    rc, r, err = run_json("-m", "qwen2.5-7b-instruct", "--url", s.url, "-n", "4", "--prompt", "@" + p)
    expect("item 1: JSONL max_tokens 5 accepted (exit 0)", rc == 0 and r is not None, err[-800:])
    if r:
        sent = [q["body"] for q in gen(s.log())]
        expect("item 1: sent as integers 5 and 7", [b["max_tokens"] for b in sent] == [5, 7, 5, 7, 5] and
               all(isinstance(b["max_tokens"], int) for b in sent), [b.get("max_tokens") for b in sent])
        expect("item 1: every answer cut at its max_tokens", [q["output_tokens"] for q in r["per_request"]] ==
               [7, 5, 7, 5] and r["requests"]["stopped_early"] == 0,
               [(q["output_tokens"], q.get("finish_reason")) for q in r["per_request"]])
        expect("item 1: per-request max_tokens recorded", [q["max_tokens"] for q in r["per_request"]] == [7, 5, 7, 5])

# ---------------------------------------------------------------- item 3
with Server("--flavor", "ollama", "--cold-start", "2", "--ttft", "0.03", "--itl", "0.004",
            "--natural", "20") as s:
    rc, r, err = run_json("-m", "llama3.2:3b", "--url", s.url, "-c", "4", "-n", "12", "--warmup", "1")
    log = gen(s.log())
    expect("item 3: 13 requests reached the server", len(log) == 13, len(log))
    if r and len(log) == 13:
        warm, rest = log[0], log[1:]
        expect("item 3: the warm-up took the cold start", warm["cold_start_s"] == 2)
        expect("item 3: no measured request was sent before the warm-up ended",
               all(q["t_arrival"] >= warm["t_end"] for q in rest),
               "%.3f s before" % max(warm["t_end"] - q["t_arrival"] for q in rest))
        p95 = r["metrics"]["ttft_s"]["p95"]
        expect("item 3: measured TTFT p95 has no cold start in it (< 0.5 s)", p95 < 0.5, p95)
        expect("item 3: warm-up counted apart", r["requests"]["warmup"] == 1 and r["requests"]["total"] == 12)
    s.reset(cold=True)
    rc, r, err = run_json("-m", "llama3.2:3b", "--url", s.url, "--rate", "8", "-n", "10", "--warmup", "2",
                          "--arrival", "constant")
    log = gen(s.log())
    expect("item 3+4: open loop: 2 warm-up + 10 measured reached the server", len(log) == 12, len(log))
    if r and len(log) == 12:
        ends = max(q["t_end"] for q in log[:2])
        expect("item 3: open loop: measured sends start after the warm-up ended",
               all(q["t_arrival"] >= ends for q in log[2:]))
        expect("item 4: -n 10 measured 10 (open loop)", r["requests"]["total"] == 10 and r["requests"]["warmup"] == 2,
               r["requests"])
        lat = r["metrics"]["latency_s"]["p99"]
        expect("item 3: open loop latency p99 has no cold start (< 0.5 s)", lat < 0.5, lat)

# ---------------------------------------------------------------- item 4
with Server("--flavor", "vllm", "--natural", "8", "--ttft", "0.01", "--itl", "0.002") as s:
    rc, r, err = run_json("-m", "Qwen/Qwen2.5-7B-Instruct", "--url", s.url, "--rate", "5", "-n", "10",
                          "--warmup", "4")
    expect("item 4: --rate 5 -n 10 --warmup 4 measures 10", r and r["requests"]["total"] == 10 and
           r["requests"]["warmup"] == 4 and len(gen(s.log())) == 14, r and r["requests"])

# ---------------------------------------------------------------- item 5
# three tokens per chunk and no usage: 30 tokens arrive as 10 events
with Server("--flavor", "mlx", "--tokens-per-chunk", "3", "--usage", "never", "--natural", "30") as s:
    model = "mlx-community/Qwen2.5-7B-Instruct-4bit"
    out_json = os.path.join(TMP.name, "est.json")
    rc, out, err = run("-m", model, "--url", s.url, "-n", "3", "-o", out_json, "--progress", "none",
                       "--max-tokens", "100")
    r = json.load(open(out_json))["runs"][0] if rc == 0 else None
    expect("item 5: run ok", rc == 0 and r, err[-500:])
    if r:
        expect("item 5: counts are the events (10 per answer)", r["tokens"]["output"] == 30 and
               r["tokens"]["token_source"] == "events", r["tokens"])
        expect("item 5: results file says estimated", r["tokens"]["estimated"] is True and
               r["tokens"]["input_estimated"] is True and r["tokens"]["prompt_token_source"] == "chars/4",
               r["tokens"])
        thr = out.split("Tokens")[0]
        row = [l for l in thr.splitlines() if l.startswith("c=1 ")][0]
        expect("item 5: tok/s cells marked ~", row.count("~") == 4, row)
        expect("item 5: token cells marked ~", re.search(r"^c=1 +~\d+ +~30 +~10\.0 +100 +3/3 +events ~, input chars/4 ~",
                                                       out.split("Tokens")[1].split("\n")[3]), out)
        lat_row = [l for l in out.split("Latency")[1].splitlines() if l.startswith("c=1 ")][0]
        expect("item 5: TPOT marked ~, ITL (per event) not", lat_row.split()[4].startswith("~") and
               not lat_row.split()[5].startswith("~"), lat_row)
        notes = out.split("Notes:")[1] if "Notes:" in out else ""
        expect("item 5: one note says why and how to get exact counts", notes.count("~ estimated") == 1 and
               "stream_options.include_usage" in notes, notes)
        md = subprocess.run([MLXBENCH, "report", out_json, "--format", "md"], capture_output=True, text=True).stdout
        expect("item 5: Markdown marks and explains", "~" in md.split("### Tokens")[1] and "~ estimated" in md)
        html = subprocess.run([MLXBENCH, "report", out_json, "--format", "html"], capture_output=True,
                              text=True).stdout
        expect("item 5: HTML marks and explains", re.search(r'<td class="num">~[0-9.]+</td>', html) and
               "~ estimated" in html)
        csv = subprocess.run([MLXBENCH, "report", out_json, "--format", "csv"], capture_output=True, text=True).stdout
        hdr, row = csv.splitlines()[0].split(","), csv.splitlines()[1].split(",")
        expect("item 5: CSV has the sources", dict(zip(hdr, row)).get("token_source") == "events" and
               dict(zip(hdr, row)).get("tokens_estimated") == "true", csv)
with Server("--flavor", "vllm", "--tokens-per-chunk", "3", "--natural", "30") as s:
    rc, out, err = run("-m", "Qwen/Qwen2.5-7B-Instruct", "--url", s.url, "-n", "2", "--progress", "none")
    expect("item 5: with usage: no ~ and no note", rc == 0 and "~" not in out and "estimated" not in out, out)

# ---------------------------------------------------------------- item 6
with Server("--flavor", "vllm", "--models", "qwen2.5-7b-instruct,llama-3.1-8b") as s:
    rc, out, err = run("-m", "nosuchmodel", "--url", s.url, "-n", "2")
    expect("item 6: every request failed: exit 1", rc == 1, rc)
    expect("item 6: the server's message, without -v", "The model `nosuchmodel` does not exist." in err, err)
    expect("item 6: the models it serves", "the server serves: qwen2.5-7b-instruct, llama-3.1-8b" in err, err)
    expect("item 6: the notes carry it too", "2 requests failed with http_404: NotFoundError: The model `nosuchmodel` "
           "does not exist." in out, out)
    expect("item 6: no false 'client saturated'", "saturated" not in out + err, out)
    row = [l for l in out.splitlines() if l.startswith("c=1 ")][0]
    expect("item 6: throughput is '-', not 0.0", row.split()[4:9] == ["-"] * 5, row)

# ---------------------------------------------------------------- item 8
def compare(*args):
    p = subprocess.run([MLXBENCH, "compare", *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


with Server("--flavor", "vllm", "--models", "qwen2.5-7b-instruct", "--natural", "12") as s:
    base, new, flaky = (os.path.join(TMP.name, n) for n in ("base.json", "new.json", "flaky.json"))
    rc1, _, _ = run("-m", "qwen2.5-7b-instruct", "--url", s.url, "-n", "5", "--name", "chat", "-o", base, "-q")
    # the model was renamed on the server: every request of the new run fails
    rc2, _, _ = run("-m", "qwen2.5-7b-instruct-v2", "--url", s.url, "-n", "5", "--name", "chat", "-o", new, "-q")
    expect("item 8: the runs were made", rc1 == 0 and rc2 == 1, (rc1, rc2))
    rc, out, err = compare(base, new)
    expect("item 8: no success in the new run fails the gate, without a limit", rc == 1 and
           "REGRESSION: chat: no request succeeded (5 failed; base: 5 of 5 ok)" in out, (rc, out[-600:]))
    rc, out, err = compare(base, new, "--format", "json")
    expect("item 8: and in JSON (ok false, on stderr too)", rc == 1 and json.loads(out)["ok"] is False and
           "no request succeeded" in err, (rc, err))
with Server("--flavor", "vllm", "--models", "qwen2.5-7b-instruct", "--natural", "12", "--fail-every", "3") as s:
    rc, _, _ = run("-m", "qwen2.5-7b-instruct", "--url", s.url, "-n", "5", "--warmup", "0", "--name", "chat",
                   "-o", flaky, "-q")
    r = json.load(open(flaky))["runs"][0]
    expect("item 8: the overloaded server failed 1 of 5", r["requests"]["failed"] == 1, r["requests"])
    rc, out, err = compare(base, flaky, "--max-regression", "5%")
    row = [l for l in out.splitlines() if l.startswith("error rate")]
    expect("item 8: 1 failure in 5 requests is worse, not 'too few samples'", row and "WORSE -- FAIL" in row[0], row)
    row = [l for l in out.splitlines() if l.startswith("ok requests")]
    expect("item 8: ok requests 5 -> 4 is worse", row and row[0].split()[2:4] == ["5", "4"] and "WORSE" in row[0], row)
    expect("item 8: the gate fails", rc == 1, (rc, out[-500:]))

# ---------------------------------------------------------------- item 9
with Server("--flavor", "vllm", "--natural", "10", "--ttft", "0.02", "--itl", "0.003") as s:
    rc, out, err = run("-m", "Qwen/Qwen2.5-7B-Instruct", "--url", s.url, "--rate", "2", "--duration", "3",
                       "--arrival", "constant", "-o", os.path.join(TMP.name, "open.json"), "--progress", "none")
    r = json.load(open(os.path.join(TMP.name, "open.json")))["runs"][0]
    n = r["requests"]["ok"]
    expect("item 9: 6 arrivals in 3 s at 2 req/s", n == 6, n)
    expect("item 9: the window is the schedule's (>= 3 s)", r["duration_s"] >= 3.0 and r["window"]["start_s"] == 0,
           (r["duration_s"], r["window"]))
    expect("item 9: req/s <= the offered 2 (was 3.05 over the first arrival's window)",
           1.6 < r["throughput"]["requests_s"] <= 2.0, r["throughput"]["requests_s"])
    sec = out.split("Open loop (latency from the intended send time)")
    expect("item 9: the table has the open-loop section", len(sec) == 2, out)
    if len(sec) == 2:
        row = [l for l in sec[1].splitlines() if l.startswith("rate=2 ")][0].split()
        p99 = r["metrics"]["latency_s"]["p99"] * 1000
        expect("item 9: it shows latency from the intended send (p99)", abs(float(row[5]) - p99) < 0.6, (row, p99))
        expect("item 9: offered and done rates", row[1] == "2.00" and float(row[2]) <= 2.0, row)

# ---------------------------------------------------------------- item 11
with Server("--flavor", "vllm", "--natural", "12", "--models", "qwen2.5-7b-instruct") as s:
    rc, r, err = run_json("-m", "qwen2.5-7b-instruct", "--url", s.url, "-n", "3", "--max-tokens", "40",
                          "--ignore-eos", "--extra-body", '{"top_k": 1, "temperature": 0}',
                          "--header", "X-Team: infra", "--header", "X-Trace: 7")
    body = gen(s.log())[-1]["body"]
    hdrs = gen(s.log())[-1]["headers"]
    expect("item 11: ignore_eos sent", body.get("ignore_eos") is True and body["max_tokens"] == 40, body)
    expect("item 11: --extra-body merged", body.get("top_k") == 1 and body.get("temperature") == 0, body)
    expect("item 11: --header sent", hdrs.get("x-team") == "infra" and hdrs.get("x-trace") == "7", hdrs)
    expect("item 11: vLLM honours it: every answer 40 tokens, finish length",
           r and r["tokens"]["output"] == 120 and r["requests"]["stopped_early"] == 0, r and r["tokens"])
    expect("item 11: config records it", r and r["config"]["ignore_eos"] is True and
           r["config"]["headers"] == ["X-Team", "X-Trace"] and r["config"]["extra"]["top_k"] == 1,
           r and r["config"])
    rc, r, err = run_json("-m", "qwen2.5-7b-instruct", "--url", s.url, "-n", "2", "--max-tokens", "40",
                          "--min-tokens", "20")
    body = gen(s.log())[-1]["body"]
    expect("item 11: min_tokens sent and honoured", body.get("min_tokens") == 20 and r and
           r["tokens"]["output"] == 40 and r["requests"]["stopped_early"] == 2, r and r["tokens"])
    rc, r, err = run_json("-m", "qwen2.5-7b-instruct", "--url", s.url, "-n", "2", "--max-completion-tokens", "30")
    body = gen(s.log())[-1]["body"]
    expect("item 11: --max-completion-tokens spells it", body.get("max_completion_tokens") == 30 and
           "max_tokens" not in body, body)
with Server("--flavor", "ollama", "--natural", "12,30") as s:
    rc, out, err = run("-m", "llama3.2:3b", "--url", s.url, "-n", "4", "--max-tokens", "64",
                       "--ignore-eos", "--prompt", "synthetic:30", "--progress", "none")
    flat = re.sub(r"\n\s+", " ", out)   # notes fold at 120 columns
    expect("item 11: Ollama ignores ignore_eos: early stops are reported", rc == 0 and
           re.search(r"c=1: 4 of 4 requests stopped before max_tokens \(finish_reason stop; mean output "
                     r"(12|30)\.0 of 64 tokens\)", flat), out)
    tok = out.split("Tokens")[1].splitlines()[3]
    expect("item 11: the Early stops column", re.search(r" 64 +4/4 +usage$", tok), tok)
with Server("--flavor", "openai", "--require-max-completion-tokens", "--models", "o3-mini") as s:
    rc, r, err = run_json("-m", "o3-mini", "--url", s.url, "-n", "1", "--max-completion-tokens", "16")
    expect("item 11: a server that refuses max_tokens works with --max-completion-tokens",
           rc == 0 and r["requests"]["ok"] == 1, err[-400:])

# ---------------------------------------------------------------- item 17
with Server("--flavor", "lmstudio", "--natural", "20") as s:
    rc, out, err = run("-m", "qwen2.5-7b-instruct", "--url", s.url, "-n", "3", "-c", "2", "--progress", "none")
    lines = out.splitlines()
    expect("item 17: every line fits 120 columns", max(len(l) for l in lines) <= 120,
           max(lines, key=len))
    hdr = [l for l in lines if l.startswith("Run ")]
    expect("item 17: req/s in the throughput table", "req/s" in hdr[0].split(), hdr)
    expect("item 17: input tokens in the tokens table", "In tok" in hdr[1], hdr)
    expect("item 17: TPOT in the latency table", "TPOT p50" in hdr[2], hdr)
    # the time columns of a group ("TTFT p50 ms  p95 ms  p99 ms") share a unit
    cols = re.split(r"\s{2,}", hdr[2].strip())
    groups, cur = {}, None
    for c in cols[1:-1]:
        w = c.split()
        if len(w) == 3:
            cur = w[0]
        groups.setdefault(cur, set()).add(w[-1])
    expect("item 17: one unit per group", set(groups) == {"TTFT", "TPOT", "ITL", "E2E"} and
           all(len(u) == 1 for u in groups.values()), (hdr[2], groups))
    expect("item 17: the default run name is short", lines[3].startswith("c=2 "), lines[3])
finish()
