"""test_traffic_examples: the realistic-traffic examples against the
embedded emulator, checked against its ground truth.
tier: slow

- examples/prefix_cache.lua: warm TTFT is lower than cold by the profile's
  prefill time per cached token (2048 cached tokens at 4000 tok/s: 512 ms,
  within 2 ms at p50), and the cached_tokens the run reports equal the
  emulator's trace (when each token leaves the emulator, cache included, is
  e2e.mock_cache's);
- examples/conversation.lua: with the emulator's prefix cache the last
  turn's TTFT stays within 5 ms of the first, without it it grows with the
  context (by the prefill of the extra tokens);
- examples/replay.lua: every trace record is sent at its time (the
  results' scheduled_s are the trace's, the send lag p99 under 5 ms) and
  the trace's shared blocks are found in the emulator's cache;
- examples/cancel.lua: the cancelled requests are the emulator's
  client-closed streams, one for one, none an error.
"""
import json
import os
import subprocess
import sys
import tempfile

SRC = os.environ.get("MB_SRC", os.getcwd())
MLXBENCH = os.environ.get("MLXBENCH", os.path.join(SRC, "build", "mlxbench"))
SANITIZED = os.environ.get("MB_SANITIZED") == "1"
EX = os.path.join(SRC, "examples")

checks = fails = 0


def expect(what, cond, detail=""):
    global checks, fails
    checks += 1
    if not cond:
        fails += 1
        print("FAIL: %s %s" % (what, detail), file=sys.stderr)
    return cond


def example(name, tmp, *args):
    out = os.path.join(tmp, name + ".json")
    p = subprocess.run([MLXBENCH, "-I", EX, os.path.join(EX, name + ".lua"), "-o", out, *args],
                       capture_output=True, text=True, timeout=300)
    expect(name + " runs", p.returncode == 0, p.stderr[-2000:])
    print(p.stdout)
    return json.load(open(out))["runs"] if p.returncode == 0 else []


def prefix_cache(tmp):
    runs = example("prefix_cache", tmp)
    if not runs:
        return
    r = runs[0]
    em, m = r["emulator"], r["metrics"]
    expect("prefix_cache: the run's cached_tokens are the emulator's trace's",
           r["tokens"]["cached"] == em["trace_cached_tokens"] > 0, (r["tokens"]["cached"], em))
    expect("prefix_cache: 4 cold, 20 warm (the server's word)", r["prompt_cache"]["cold"] == 4
           and r["prompt_cache"]["warm"] == 20 and r["prompt_cache"]["basis"] == "server", r["prompt_cache"])
    expect("prefix_cache: a warm request has the whole prefix cached", em["warm_cached_tokens"] == 2048, em)
    saved = m["ttft_cold_s"]["p50"] - m["ttft_warm_s"]["p50"]
    expected = em["warm_cached_tokens"] / em["prefill_tok_s"]
    print("prefix_cache: warm TTFT lower by %.2f ms; the profile's prefill time of the cached tokens %.2f ms" % (
        saved * 1e3, expected * 1e3))
    if not SANITIZED:
        expect("prefix_cache: saved = cached tokens x prefill time per token (2 ms)", abs(saved - expected) <= 0.002,
               "%.2f vs %.2f ms" % (saved * 1e3, expected * 1e3))
    # request by request: each warm one had the whole 2048-token prefix cached
    warm = [q for q in r["per_request"] if q.get("cache") == "warm"]
    expect("prefix_cache: per request, cached tokens as the emulator counted them",
           len(warm) == 20 and all(q["cached_tokens"] == 2048 for q in warm), [q.get("cached_tokens") for q in warm])


def conversation(tmp):
    runs = example("conversation", tmp, "--sessions", "8", "--users", "4", "--think", "0.05")
    if len(runs) != 2:
        expect("conversation: two runs", False, len(runs))
        return
    plain, cached = runs
    for r in runs:
        expect("conversation (%s): 8 conversations completed" % r["name"],
               r["sessions"]["started"] == 8 and r["sessions"]["completed"] == 8, r["sessions"])
    def p50(r, k):
        return [t for t in r["sessions"]["by_turn"] if t["turn"] == k][0]["ttft_s"]["p50"]
    if not SANITIZED:
        expect("conversation: with a prefix cache, turn 3's TTFT is turn 1's (5 ms)",
               abs(p50(cached, 3) - p50(cached, 1)) <= 0.005, (p50(cached, 1), p50(cached, 3)))
        expect("conversation: without one, TTFT grows with the context", p50(plain, 3) > p50(plain, 1) + 0.02,
               (p50(plain, 1), p50(plain, 3)))
    expect("conversation: the cache run reports cached tokens", (cached["tokens"].get("cached") or 0) > 0)


def replay(tmp):
    runs = example("replay", tmp)
    if not runs:
        return
    r = runs[0]
    expect("replay: 80 records, all answered", r["requests"]["total"] == 80 and r["requests"]["ok"] == 80,
           r["requests"])
    times = []
    with open(os.path.join(EX, "data", "mooncake_small.jsonl")) as f:
        for line in f:
            times.append(json.loads(line)["timestamp"] / 1000)
    sched = sorted(q["scheduled_s"] for q in r["per_request"])
    expect("replay: sent on the trace's schedule", all(abs((s - sched[0]) - t) < 1e-6 for s, t in zip(sched, times)))
    if not SANITIZED:
        expect("replay: send lag p99 under 5 ms", r["client"]["send_lag_p99_s"] < 0.005, r["client"])
    expect("replay: the trace's shared blocks hit the cache", r["tokens"]["cache_hit_ratio"] > 0.5, r["tokens"])


def cancel(tmp):
    runs = example("cancel", tmp, "--after", "tokens:10")
    if not runs:
        return
    r = runs[0]
    rq = r["requests"]
    expect("cancel: some cancelled, none failed", rq.get("cancelled", 0) > 0 and rq["failed"] == 0, rq)
    expect("cancel: each cancelled request is a client-closed stream in the emulator's trace",
           r["emulator"]["client_closed"] == rq["cancelled"], (r["emulator"], rq))
    expect("cancel: after 10 content events", all(q["tokens_received"] == 10 for q in r["per_request"]
                                                   if q.get("cancelled")))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        prefix_cache(tmp)
        conversation(tmp)
        replay(tmp)
        cancel(tmp)
    print("%d checks, %d failed" % (checks, fails))
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
