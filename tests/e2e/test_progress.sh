# Live progress on a terminal (a pseudo-terminal via script(1)): a status
# line refreshed in place on stderr, a final line per run, and the report on
# stdout never mixed into a status line. The warm-up is its own phase; tok/s
# counts tokens still streaming in; the final line is the measured part's.
# Off a terminal (CI logs) plain lines by default; nothing with --quiet.
. "$(dirname "$0")/lib.sh"
cd "$TMP"
command -v script >/dev/null || { echo "script(1) is missing (bsdutils): cannot test a terminal"; exit 77; }

script -qfec "$MLXBENCH run --mock -m small -n 6 --max-tokens 64 -c 2" tty.txt > /dev/null 2>&1
expect "run on a pty exits 0" [ $? -eq 0 ]
expect "live line redrawn in place" grep -q $'\r\x1b\\[K' tty.txt
expect "live line shows the fields" grep -aqE 'in-flight [0-9]+  errors 0  [0-9.]+ tok/s  TTFT p50 [0-9]+ms  ETA' tty.txt
expect "final line per run" grep -aqE '6/6  in-flight 0  errors 0 .* done in [0-9.]+s' tty.txt
expect "a banner says what runs" grep -aqE '^mlxbench run: http://127.0.0.1:[0-9]+ \(openai, local\) model mlx-community/Llama-3.2-3B-Instruct-4bit; closed loop, 2 users, 6 requests \+ 1 warm-up; max 64 tokens, streamed, usage requested' tty.txt
# every report line stands alone: no status text inside the table
python3 - <<'PY' || { fails=$((fails+1)); echo "FAIL: report interleaved with progress" >&2; }
raw = open("tty.txt", "rb").read().decode("utf-8", "replace")
lines = [l.split("\r")[-1] for l in raw.replace("\r\n", "\n").split("\n")]
table = [l for l in lines if l.startswith("c=2 ") or l.startswith("Run ")]
assert len(table) >= 6, table
assert not any("in-flight" in l for l in table), table
PY

# the warm-up is shown as such, and the measured part's tok/s counts the
# tokens of a request still streaming (one 150-token request: before it
# ends, no request has finished, yet tok/s is its decode speed)
script -qfec "$MLXBENCH run --mock -m small -n 1 --warmup 1 --max-tokens 150 --ignore-eos -o one.json" live.txt > /dev/null 2>&1
expect "one long request exits 0" [ $? -eq 0 ]
python3 - <<'PY' || { fails=$((fails+1)); echo "FAIL: warm-up phase / live tok/s" >&2; }
import json, re
raw = open("live.txt", "rb").read().decode("utf-8", "replace")
frames = [f.replace("\x1b[K", "") for f in re.split(r"[\r\n]+", raw)]
warm = [f for f in frames if "warm-up 0/1 (not measured)" in f]
assert warm, "no warm-up frame"
live = [float(m.group(1)) for f in frames for m in [re.search(r"c=1  0/1  in-flight 1  errors 0  ([0-9.]+) tok/s", f)] if m]
assert live, "no frame while the request streamed"
# the emulated small tier decodes at 110 tok/s: once a second of it is in,
# the live figure is that speed, from tokens received so far
assert max(live) > 60, live
final = [f for f in frames if "done in" in f]
assert final and final[-1].startswith("c=1  1/1  in-flight 0  errors 0"), final
tok_s = float(re.search(r"([0-9.]+) tok/s", final[-1]).group(1))
run = json.load(open("one.json"))["runs"][0]
assert run["requests"]["warmup"] == 1 and run["tokens"]["output"] == 150, run["requests"]
# the final line is the measured request only: 150 tokens over its own
# time (the warm-up's second is not in it)
expect = run["throughput"]["output_tok_s"]
assert abs(tok_s - expect) / expect < 0.15, (tok_s, expect)
print("warm-up frames", len(warm), "live tok/s", live[:3], "...", "final", tok_s, "run", round(expect, 1))
PY

# engine threads publish their requests in flight (not always 0)
script -qfec "$MLXBENCH run --mock -m small -n 48 --max-tokens 64 -c 8 --threads 2" thr.txt > /dev/null 2>&1
expect "threads: run exits 0" [ $? -eq 0 ]
expect "threads: the live line counts requests in flight" grep -aqE 'in-flight [1-9][0-9]*  errors' thr.txt

# not a terminal: plain lines by default (a banner, then a final line)
"$MLXBENCH" run --mock -m small -n 2 --max-tokens 8 > out.txt 2> err.txt
expect "off a terminal: plain progress by default (final line)" grep -qE '^c=1  2/2 .* done in' err.txt
expect "off a terminal: the banner" grep -qE '^mlxbench run: .* 2 requests \+ 1 warm-up' err.txt
expect "no escape codes off a terminal" bash -c "! grep -q $'\x1b' err.txt"
# ... and a line every 10 s while a run lasts (CI logs show it is alive)
"$MLXBENCH" run --mock -m small --duration 11 --warmup 0 --max-tokens 8 > out.txt 2> long.txt
expect "off a terminal: a plain line every 10 s" grep -qE '^c=1  1[01]/11s  in-flight [01]  errors 0  [0-9.]+ tok/s  TTFT p50 [0-9]+ms  ETA [01]s$' long.txt
expect "off a terminal: then the final line" grep -qE '^c=1  11/11s .* done in 1[12]\.[0-9]s$' long.txt
"$MLXBENCH" run --mock -m small -n 2 --max-tokens 8 --progress plain > out.txt 2> err.txt
expect "plain mode: final line" grep -qE '2/2 .* done in' err.txt
expect "stdout is only the report" [ "$(grep -c 'in-flight' out.txt)" -eq 0 ]
"$MLXBENCH" run --mock -m small -n 2 --max-tokens 8 --progress none > out.txt 2> err.txt
expect "--progress none: nothing on stderr" [ ! -s err.txt ]
script -qfec "$MLXBENCH run --mock -m small -n 2 --max-tokens 8 -q" q.txt > /dev/null 2>&1
expect "--quiet prints no progress on a terminal" [ "$(grep -c 'in-flight' q.txt)" -eq 0 ]
expect "--quiet still prints the report" grep -q 'Throughput' q.txt
finish
