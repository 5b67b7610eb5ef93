# run: serial (wall-clock tolerances: tests/tests.cmake)
"""The emulated server's timing, measured in its own trace (the times its
writes left the process):

  * max_tokens=50 at 100 tok/s with a 200 ms TTFT: first token 200 ms +-2 ms
    after the request arrived, the 50 tokens 10 ms +-1 ms apart (the issue's
    acceptance test);
  * TTFT grows with the prompt by prompt_tokens / prefill_tok_s;
  * tokens_per_chunk k: first chunk at TTFT + (k-1) intervals, then k
    intervals apart; a non-streamed body at TTFT + (n-1) intervals;
  * continuous batching: two concurrent streams with batch_knee 1 run at
    half speed each;
  * jitter stays within +-jitter of the interval.

Timing is checked on a shared machine (ctest -j): each check gets three
attempts and passes if one attempt is within tolerance. Skipped on the
ASan+UBSan build (MB_SANITIZED=1), whose emulator is too slow for +-1 ms.

The tolerances are those of a nanosecond timer (timerfd on Linux, kqueue on
macOS). A build with the portable platform layer (-DMLXBENCH_PLATFORM=posix)
wakes the engine with a millisecond uv_timer, which can make each emission
up to ~2 ms late: its checks get that much slack. Which timer runs is read
from /mock/stats and must be the one the build's platform promises, so the
Linux build can never pass with the coarse timer."""
import os
import statistics
import subprocess
import sys
import threading

if os.environ.get("MB_SANITIZED") == "1":
    print("SKIP: sub-millisecond emission timing is checked on the normal build only")
    sys.exit(77)

sys.dont_write_bytecode = True
from mocklib import MLXBENCH, Mock, chat, expect, finish

PLATFORM = subprocess.run([MLXBENCH, "-e", "io.write(require('mlxbench._sys').platform)"],
                          capture_output=True, text=True).stdout
TIMER = {"linux": "timerfd", "darwin": "kqueue", "posix": "uv_timer"}.get(PLATFORM)
SLACK = 2.0 if TIMER == "uv_timer" else 0.0   # ms added to every tolerance below

PROFILE = {
    "builtin_models": False,
    "model_defaults": {"length": "max_tokens"},
    "models": {
        "t100": {"ttft_ms": 200, "prefill_tok_s": 0, "decode_tok_s": 100, "jitter": 0},
        "prefill": {"ttft_ms": 50, "prefill_tok_s": 1000, "decode_tok_s": 100, "jitter": 0},
        "chunk4": {"ttft_ms": 100, "prefill_tok_s": 0, "decode_tok_s": 200, "jitter": 0,
                   "tokens_per_chunk": 4},
        "batch": {"ttft_ms": 20, "prefill_tok_s": 0, "decode_tok_s": 100, "jitter": 0, "batch_knee": 1},
        "jit": {"ttft_ms": 10, "prefill_tok_s": 0, "decode_tok_s": 100, "jitter": 0.3},
    },
}

counter = [0]


def run(m, body, stream=True):
    counter[0] += 1
    cid = "r%d" % counter[0]
    if stream:
        m.stream("/v1/chat/completions", body, {"x-mock-request-id": cid})
    else:
        m.request("POST", "/v1/chat/completions", body, {"x-mock-request-id": cid})
    return m.trace_done(cid)


def ms(a, b):
    return (b - a) / 1e6


def attempts(what, fn, n=3):
    """fn() -> (ok, detail); passes if any of n attempts is ok."""
    detail = None
    for _ in range(n):
        ok, detail = fn()
        if ok:
            break
    expect(what, ok, detail)
    print("%s: %s" % (what, detail))


with Mock(profile=PROFILE) as m:
    kind = m.stats()["emission_timer"]
    expect("the %s build's emulator runs on %s" % (PLATFORM, TIMER), kind == TIMER, kind)

    def acceptance():
        rec = run(m, chat("t100", "hi", max_tokens=50, stream=True))
        ch = rec["chunks"]
        ttft = ms(rec["arrival_ns"], ch[0][1])
        gaps = [ms(a[1], b[1]) for a, b in zip(ch, ch[1:])]
        ok = (len(ch) == 50 and rec["output_tokens"] == 50 and abs(ttft - 200) <= 2 + SLACK and
              all(abs(g - 10) <= 1 + SLACK for g in gaps) and
              ms(rec["arrival_ns"], rec["headers_ns"]) < 5)
        return ok, "ttft %.3f ms, gaps %.3f..%.3f ms, %d chunks" % (ttft, min(gaps), max(gaps), len(ch))
    attempts("50 tokens at 100 tok/s after a 200 ms TTFT", acceptance)

    def prefill():
        rec = run(m, chat("prefill", "x" * 400, max_tokens=3, stream=True))   # 100 prompt tokens
        ttft = ms(rec["arrival_ns"], rec["chunks"][0][1])
        return abs(ttft - 150) <= 2 + SLACK and rec["prompt_tokens"] == 100, "ttft %.3f ms (want 150)" % ttft
    attempts("TTFT = base + prompt_tokens / prefill_tok_s", prefill)

    def chunked():
        rec = run(m, chat("chunk4", "hi", max_tokens=10, stream=True))
        ch = rec["chunks"]
        first = ms(rec["arrival_ns"], ch[0][1])
        gaps = [ms(a[1], b[1]) for a, b in zip(ch, ch[1:])]
        ok = ([c[2] for c in ch] == [4, 4, 2] and abs(first - 115) <= 2 + SLACK and
              abs(gaps[0] - 20) <= 1 + SLACK and abs(gaps[1] - 10) <= 1 + SLACK)
        return ok, "sizes %s, first %.3f ms (want 115), gaps %s (want 20, 10)" % (
            [c[2] for c in ch], first, ["%.2f" % g for g in gaps])
    attempts("tokens_per_chunk 4", chunked)

    def body():
        rec = run(m, chat("t100", "hi", max_tokens=11), stream=False)
        t = ms(rec["arrival_ns"], rec["chunks"][0][1])
        return abs(t - 300) <= 2 + SLACK and rec["chunks"][0][2] == 11, "body at %.3f ms (want 300)" % t
    attempts("non-streamed body at TTFT + (n-1) intervals", body)

    def batching():
        recs = {}

        def one(i):
            recs[i] = run(m, chat("batch", "hi %d" % i, max_tokens=30, stream=True))
        ts = [threading.Thread(target=one, args=(i,)) for i in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        # the overlap: both streams live from the later first token to the earlier end
        lo = max(r["chunks"][0][1] for r in recs.values())
        hi = min(r["chunks"][-1][1] for r in recs.values())
        gaps = [ms(a[0], b[0]) for r in recs.values() for a, b in zip(r["chunks"], r["chunks"][1:])
                if a[0] >= lo and b[0] <= hi]
        med = statistics.median(gaps) if gaps else 0
        return len(gaps) > 20 and abs(med - 20) < 0.5, "median scheduled gap %.3f ms over %d (want 20)" % (
            med, len(gaps))
    attempts("two streams with batch_knee 1 each run at half speed", batching)

    def jitter():
        rec = run(m, chat("jit", "hi", max_tokens=200, stream=True))
        gaps = [ms(a[0], b[0]) for a, b in zip(rec["chunks"], rec["chunks"][1:])]
        mean = statistics.mean(gaps)
        ok = min(gaps) >= 7 - 1e-6 and max(gaps) <= 13 + 1e-6 and abs(mean - 10) < 0.3 and \
            statistics.pstdev(gaps) > 1
        return ok, "scheduled gaps %.3f..%.3f, mean %.3f ms" % (min(gaps), max(gaps), mean)
    attempts("jitter 0.3: intervals within 7..13 ms, mean 10 ms", jitter)

    st = m.stats()["emission_error_ms"]
    print("emission error (ms):", st)
    expect("emission error median < %g ms" % (1 + SLACK), st["p50"] < 1.0 + SLACK, st)

finish()
