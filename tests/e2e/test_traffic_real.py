# run: serial (wall-clock tolerances: tests/tests.cmake)
"""test_traffic_real: realistic traffic against a server that logs what it
received and when (tests/e2e/realserver.py, times on CLOCK_MONOTONIC, the
clock mlxbench stamps with):

- replay: a 400-record JSONL trace replayed at twice its speed (200 req/s)
  reaches the server within 5 ms of each record's scaled timestamp for 99 %
  of the records and within 10 ms for all (after one constant offset: the
  run's time zero), every record once (a second replay is made, and
  printed, only when the first misses the bound);
- conversations: every turn after the first carries the server's previous
  reply verbatim as the assistant message before it; per-turn and
  per-session figures count what was sent;
- (shared prefixes: test_prefix_real.py, it needs npm packages);
- cancellation: the cancelled share is within 3 sigma of P, cancelled
  requests are not errors, and the server saw each of them close;
- reasoning: time to the first reasoning and first answer token match the
  server's emission times (the write of the chunk, bracketed by the
  server's stamps) within 2 ms, per phase ITL too; token counts from
  usage when sent, else counted.
"""
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from realserver import Server  # noqa: E402

SRC = os.environ.get("MB_SRC", os.getcwd())
MLXBENCH = os.environ.get("MLXBENCH", os.path.join(SRC, "build", "mlxbench"))
SANITIZED = os.environ.get("MB_SANITIZED") == "1"
MODEL = "Qwen/Qwen2.5-7B-Instruct"

checks = fails = 0


def expect(what, cond, detail=""):
    global checks, fails
    checks += 1
    if not cond:
        fails += 1
        print("FAIL: %s %s" % (what, detail), file=sys.stderr)
    return cond


def run(args, tmp, name, timeout=180):
    out = os.path.join(tmp, name + ".json")
    p = subprocess.run([MLXBENCH, "run", "-q", "--tokenizer", "none", "-o", out] + args,
                       capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        print(p.stdout, p.stderr, file=sys.stderr)
        raise SystemExit("mlxbench run failed (%d): %s" % (p.returncode, " ".join(args)))
    return json.load(open(out))["runs"][0]


def gen_requests(log):
    return [r for r in log if r.get("path", "").endswith("/chat/completions")]


def test_replay(tmp):
    # 400 records, Poisson gaps around 10 ms (100 req/s), replayed x2
    import random
    rnd = random.Random(7)
    t, path = 0.0, os.path.join(tmp, "trace.jsonl")
    times = []
    with open(path, "w") as f:
        for k in range(400):
            times.append(t)
            f.write(json.dumps({"timestamp": round(t, 6), "output_tokens": 2,
                                "messages": [{"role": "user", "content": "replayed request %d" % k}]}) + "\n")
            t += rnd.expovariate(100.0)
    # The timing bound is checked on a second replay only when the first
    # missed it: a systematic lateness misses twice, a moment the shared
    # 2-vCPU machine gave a core elsewhere does not (both are printed).
    for attempt in (1, 2):
        with Server("--flavor", "vllm", "--models", MODEL, "--natural", "2", "--ttft", "0.001",
                    "--itl", "0.001") as s:
            r = run(["--url", s.url, "-m", MODEL, "--replay", path, "--replay-speed", "2", "--max-tokens", "2",
                     "--no-usage"], tmp, "replay")
            log = gen_requests(s.log())
        arrivals = {}
        for rec in log:
            k = int(rec["body"]["messages"][0]["content"].rsplit(" ", 1)[1])
            arrivals[k] = rec["t_head"]
        devs = [arrivals[k] - times[k] / 2 for k in range(400) if k in arrivals]
        off = statistics.median(devs)
        absdev = sorted(abs(d - off) for d in devs)
        worst, p99 = absdev[-1], absdev[int(0.99 * (len(absdev) - 1))]
        q = r["metrics"]["queue_s"]
        print("replay at 200 req/s (attempt %d): deviation at the server p50 %.3f ms, p99 %.2f ms, worst %.2f ms; "
              "the client's own send lag p99 %.3f ms, max %.3f ms" % (attempt, statistics.median(absdev) * 1e3,
                                                                     p99 * 1e3, worst * 1e3, q["p99"] * 1e3,
                                                                     q["max"] * 1e3))
        # 99 % within 5 ms at the server, none beyond 10 ms: on a 2-vCPU VM
        # shared with the Python server a send now and then waits a few ms
        # for a core (the client's own send lag, queue_s, says when)
        in_bounds = p99 <= 0.005 and worst <= 0.010
        if in_bounds or SANITIZED:
            break
    expect("replay: every record sent once", len(log) == 400 and r["requests"]["total"] == 400,
           "%d / %d" % (len(log), r["requests"]["total"]))
    expect("replay: all answered", r["requests"]["ok"] == 400, r["requests"])
    if not SANITIZED:
        expect("replay: 99% of requests within 5 ms of their scaled timestamp, every one within 10 ms",
               in_bounds, "p99 %.2f ms, worst %.2f ms at the server; %.2f ms sent late by the client"
               % (p99 * 1e3, worst * 1e3, q["max"] * 1e3))
    # the results file has each request's intended time: the trace's, scaled
    sched = sorted(q["scheduled_s"] for q in r["per_request"])
    t0 = sched[0]
    expect("replay: scheduled_s is the trace's time / speed",
           all(abs((sched[k] - t0) - times[k] / 2) < 1e-6 for k in range(400)))
    expect("replay: config names the trace", r["config"]["replay"]["records"] == 400
           and r["config"]["replay"]["speed"] == 2 and r["config"]["replay"]["format"] == "jsonl",
           r["config"].get("replay"))


def test_conversations(tmp):
    path = os.path.join(tmp, "chats.jsonl")
    convs = [
        {"system": "You are terse.", "turns": ["hello there", "and then?", "why so?", "thanks"]},
        {"messages": [{"role": "user", "content": "first question"}, {"role": "assistant", "content": "ref a"},
                      {"role": "user", "content": "second question"}, {"role": "assistant", "content": "ref b"},
                      {"role": "user", "content": "third question"}]},
        {"turns": ["alpha", "beta", "gamma"]},
    ]
    with open(path, "w") as f:
        for c in convs:
            f.write(json.dumps(c) + "\n")
    with Server("--flavor", "mlx", "--models", MODEL, "--natural", "5,9,13", "--ttft", "0.005",
                "--itl", "0.002") as s:
        r = run(["--url", s.url, "-m", MODEL, "--dataset", path, "--dataset-format", "conversations",
                 "--sessions", "6", "-c", "2", "--turns", "3", "--think-time", "0.02", "--warmup", "0"],
                tmp, "chat")
        log = gen_requests(s.log())
    by_msgs = {json.dumps(rec["body"]["messages"], sort_keys=True): rec for rec in log}
    later, verbatim = 0, 0
    for rec in log:
        msgs = rec["body"]["messages"]
        users = [m for m in msgs if m["role"] == "user"]
        if len(users) < 2:
            continue
        later += 1
        prev = by_msgs.get(json.dumps(msgs[:-2], sort_keys=True))
        if prev and msgs[-2]["role"] == "assistant" and msgs[-2]["content"] == prev["text"]:
            verbatim += 1
    # 6 sessions (conversations 1, 2, 3, 1, 2, 3), 3 turns each
    expect("conversations: 18 turns sent", len(log) == 18, len(log))
    expect("conversations: every later turn carries the previous reply verbatim", later == 12 and verbatim == 12,
           "%d of %d" % (verbatim, later))
    sys_first = [rec for rec in log if rec["body"]["messages"][0]["role"] == "system"]
    expect("conversations: the system prompt leads its turns", len(sys_first) == 6, len(sys_first))
    ses = r.get("sessions") or {}
    expect("conversations: sessions counted", ses.get("started") == 6 and ses.get("completed") == 6
           and ses.get("turns") == 18, ses)
    by = {t["turn"]: t for t in ses.get("by_turn", [])}
    expect("conversations: per-turn figures", sorted(by) == [1, 2, 3]
           and all(by[k]["requests"] == 6 and by[k]["ttft_s"]["count"] == 6 for k in by), ses.get("by_turn"))
    # the prompt grows turn by turn
    expect("conversations: input grows with the turn",
           by[1]["input_tokens_mean"] < by[2]["input_tokens_mean"] < by[3]["input_tokens_mean"])
    expect("conversations: session duration measured", r["metrics"].get("session_s", {}).get("count") == 6,
           r["metrics"].get("session_s"))
    turns = sorted((q["session"], q["turn"]) for q in r["per_request"])
    expect("conversations: per request session and turn", len(set(turns)) == 18)


def test_cancel(tmp):
    P, n = 0.3, 200
    with Server("--flavor", "vllm", "--models", MODEL, "--natural", "20", "--ttft", "0.003", "--itl", "0.002") as s:
        r = run(["--url", s.url, "-m", MODEL, "-n", str(n), "-c", "8", "--warmup", "0", "--max-tokens", "20",
                 "--cancel-rate", str(P), "--cancel-after", "tokens:3", "--seed", "11"], tmp, "cancel")
        log = gen_requests(s.log())
        rq = r["requests"]
        c = rq.get("cancelled", 0)
        sigma = math.sqrt(P * (1 - P) / n)
        expect("cancel: share within 3 sigma of P", abs(c / n - P) <= 3 * sigma,
               "%d of %d (%.3f, sigma %.3f)" % (c, n, c / n, sigma))
        expect("cancel: cancelled requests are not errors", rq["failed"] == 0 and not rq["errors"], rq)
        expect("cancel: the others succeed", rq["ok"] == n - c and rq["total"] == n, rq)
        closed = [rec for rec in log if rec.get("client_closed")]
        expect("cancel: the server saw each cancelled request close", len(closed) == c, "%d vs %d" % (len(closed), c))
        expect("cancel: closed after the 3rd chunk", all(len(rec["chunks"]) >= 3 for rec in closed))
        per = [q for q in r["per_request"] if q.get("cancelled")]
        expect("cancel: per request, with what was received", len(per) == c
               and all(q.get("tokens_received") == 3 and not q.get("error") for q in per))
        # and after a time: 30 ms into 60 ms answers
        s.reset()
        r2 = run(["--url", s.url, "-m", MODEL, "-n", "60", "-c", "4", "--warmup", "0", "--max-tokens", "20",
                  "--cancel-rate", "0.5", "--cancel-after", "0.03", "--seed", "5"], tmp, "cancel_s")
        c2 = r2["requests"].get("cancelled", 0)
        sigma2 = math.sqrt(0.25 / 60)
        expect("cancel after S: share within 3 sigma", abs(c2 / 60 - 0.5) <= 3 * sigma2, c2)
        cs = [q["cancel_s"] for q in r2["per_request"] if q.get("cancelled")]
        if not SANITIZED:
            expect("cancel after S: at 30 ms", cs and all(0.029 <= x <= 0.045 for x in cs), cs[:5])
        expect("cancel after S: not errors", r2["requests"]["failed"] == 0)


SCENARIO = r"""
local mb = require "mlxbench"
local url, usage = arg[1], arg[2] == "usage"
local lines = {}
local run = mb.bench{ target = mb.target{ url = url }, model = arg[3], requests = 8, concurrency = 1,
  warmup = 0, max_tokens = 64, tokenizer = "none",
  on_result = function(r)
    lines[#lines + 1] = string.format('{"start":%.9f,"ttft":%.9f,"ttfr":%.9f,"ttfa":%.9f,"rt":%d,"at":%d,"rs":"%s"}',
      r.start_s, r.ttft_s, r.ttfr_s, r.ttfa_s, r.reasoning_tokens, r.answer_tokens, r.reasoning_token_source)
  end }
for _, l in ipairs(lines) do print(l) end
local m = run.metrics
print(require("mlxbench.json").encode({ itl_r = m.itl_reasoning_s.p50, itl_a = m.itl_answer_s.p50,
  reasoning = run.tokens.reasoning, answer = run.tokens.answer, src = run.tokens.reasoning_source,
  reasoned = run.requests.reasoned, ttfr = m.ttfr_s.count, ttfa = m.ttfa_s.count }))
"""


def off_write(t, chunk):
    """How far a client stamp lies from the server's write of that chunk:
    the write happened between the server's two stamps around it (a thread
    switch inside them is the server's delay, not the client's)."""
    lo, hi = chunk[0], chunk[4] if len(chunk) > 4 else chunk[0]
    return 0.0 if lo <= t <= hi else min(abs(t - lo), abs(t - hi))


def test_reasoning(tmp):
    script = os.path.join(tmp, "reason.lua")
    with open(script, "w") as f:
        f.write(SCENARIO)
    for usage in ("usage", "counted"):
        args = ["--flavor", "vllm", "--models", MODEL, "--natural", "10", "--reasoning", "8", "--ttft", "0.02",
                "--itl", "0.01", "--think-gap", "0.03"]
        if usage == "usage":
            args.append("--reasoning-usage")
        with Server(*args) as s:
            p = subprocess.run([MLXBENCH, script, s.url, usage, MODEL], capture_output=True, text=True, timeout=120)
            log = gen_requests(s.log())
        expect("reasoning (%s): scenario ran" % usage, p.returncode == 0, p.stderr[-2000:])
        lines = [json.loads(x) for x in p.stdout.splitlines() if x.startswith("{")]
        reqs, summary = lines[:-1], lines[-1]
        expect("reasoning (%s): 8 requests" % usage, len(reqs) == 8 and len(log) == 8)
        worst = 0.0
        for q, rec in zip(reqs, log):
            r_chunks = [c for c in rec["chunks"] if c[3] == "r"]
            a_chunks = [c for c in rec["chunks"] if c[3] == "a"]
            d1 = off_write(q["start"] + q["ttfr"], r_chunks[0])
            d2 = off_write(q["start"] + q["ttfa"], a_chunks[0])
            worst = max(worst, d1, d2)
            expect("reasoning (%s): TTFT keeps its meaning (the first output of any kind)" % usage,
                   abs(q["ttft"] - q["ttfr"]) < 1e-9)
            expect("reasoning (%s): token counts" % usage, q["rt"] == 8 and q["at"] == 10, q)
            expect("reasoning (%s): counted by" % usage, q["rs"] == ("usage" if usage == "usage" else "events"), q)
        print("reasoning (%s): worst |client - server emission| %.3f ms" % (usage, worst * 1e3))
        if not SANITIZED:
            expect("reasoning (%s): first reasoning and first answer within 2 ms of the server's emission" % usage,
                   worst <= 0.002, "%.3f ms" % (worst * 1e3))
            expect("reasoning (%s): ITL per phase" % usage, abs(summary["itl_r"] - 0.01) < 0.002
                   and abs(summary["itl_a"] - 0.01) < 0.002, summary)
        expect("reasoning (%s): run totals" % usage, summary["reasoning"] == 64 and summary["answer"] == 80
               and summary["reasoned"] == 8 and summary["ttfr"] == 8 and summary["ttfa"] == 8, summary)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        test_replay(tmp)
        test_conversations(tmp)
        test_cancel(tmp)
        test_reasoning(tmp)
    print("%d checks, %d failed" % (checks, fails))
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
