# Live progress on a terminal (a pseudo-terminal via script(1)): a status
# line refreshed in place on stderr, a final line per run, and the report on
# stdout never mixed into a status line. Plain mode for CI logs; nothing when
# stderr is not a terminal or with --quiet.
. "$(dirname "$0")/lib.sh"
cd "$TMP"
command -v script >/dev/null || { echo "SKIP: script(1) missing"; exit 77; }

script -qfec "$MLXBENCH run --mock -m small -n 6 --max-tokens 64 -c 2" tty.txt > /dev/null 2>&1
expect "run on a pty exits 0" [ $? -eq 0 ]
expect "live line redrawn in place" grep -q $'\r\x1b\\[K' tty.txt
expect "live line shows the fields" grep -aqE 'in-flight [0-9]+  errors 0  [0-9.]+ tok/s  TTFT p50 [0-9]+ms  ETA' tty.txt
expect "final line per run" grep -aqE '6/6  in-flight 0  errors 0 .* done in [0-9.]+s' tty.txt
# every report line stands alone: no status text inside the table
python3 - <<'PY' || { fails=$((fails+1)); echo "FAIL: report interleaved with progress" >&2; }
raw = open("tty.txt", "rb").read().decode("utf-8", "replace")
lines = [l.split("\r")[-1] for l in raw.replace("\r\n", "\n").split("\n")]
table = [l for l in lines if l.startswith("mock Llama") or l.startswith("Run ")]
assert len(table) >= 4, table
assert not any("in-flight" in l for l in table), table
PY

# engine threads publish their requests in flight (not always 0)
script -qfec "$MLXBENCH run --mock -m small -n 48 --max-tokens 64 -c 8 --threads 2" thr.txt > /dev/null 2>&1
expect "threads: run exits 0" [ $? -eq 0 ]
expect "threads: the live line counts requests in flight" grep -aqE 'in-flight [1-9][0-9]*  errors' thr.txt

# not a terminal: nothing on stderr by default; plain lines on request
"$MLXBENCH" run --mock -m small -n 2 --max-tokens 8 > out.txt 2> err.txt
expect "no progress off a terminal" [ ! -s err.txt ]
"$MLXBENCH" run --mock -m small -n 2 --max-tokens 8 --progress plain > out.txt 2> err.txt
expect "plain mode: final line" grep -qE '2/2 .* done in' err.txt
expect "stdout is only the report" [ "$(grep -c 'in-flight' out.txt)" -eq 0 ]
script -qfec "$MLXBENCH run --mock -m small -n 2 --max-tokens 8 -q" q.txt > /dev/null 2>&1
expect "--quiet prints nothing on a terminal" [ "$(grep -c 'in-flight' q.txt)" -eq 0 ]
finish
