#!/usr/bin/env bash
# File descriptors checked before a run starts (docs/RELIABILITY.md,
# "Limits"), under a hard limit of 256 set here:
#   - a closed loop whose users cannot fit is refused up front: exit 2, one
#     line with the figures and what to do, no request sent;
#   - the same run at a concurrency that fits runs;
#   - an open loop with no max_inflight whose worst case (peak rate x
#     timeout) cannot fit runs, with one warning naming --max-inflight;
#   - with --max-inflight that fits: no warning.
set -u
. "$(dirname "$0")/lib.sh"

(
  ulimit -Sn 256 -Hn 256 || exit 3
  "$MLXBENCH" run --mock -m small -c 500 -n 1 --warmup 0 --progress none -o "$TMP/big.json" \
    >"$TMP/big.out" 2>"$TMP/big.err"
  echo $? >"$TMP/big.rc"
  "$MLXBENCH" run --mock -m small -c 50 -n 50 --warmup 0 --max-tokens 4 --progress none \
    -o "$TMP/fits.json" >"$TMP/fits.out" 2>"$TMP/fits.err"
  echo $? >"$TMP/fits.rc"
  "$MLXBENCH" run --mock -m small --rate 20 --timeout 100 -n 5 --warmup 0 --max-tokens 4 \
    --progress none -o "$TMP/open.json" >"$TMP/open.out" 2>"$TMP/open.err"
  echo $? >"$TMP/open.rc"
  "$MLXBENCH" run --mock -m small --rate 20 --timeout 100 --max-inflight 50 -n 5 --warmup 0 \
    --max-tokens 4 --progress none -o "$TMP/bound.json" >"$TMP/bound.out" 2>"$TMP/bound.err"
  echo $? >"$TMP/bound.rc"
)

expect "closed loop too big: exit 2" test "$(cat "$TMP/big.rc")" = 2
expect "closed loop too big: says why and what to do" \
  grep -q "500 virtual users need about .* file descriptors .* may open only 256 .*raise the limit" "$TMP/big.err"
expect "closed loop too big: one line" test "$(wc -l <"$TMP/big.err" | tr -d ' ')" = 1
expect "closed loop too big: no results file" test ! -e "$TMP/big.json"
expect "a concurrency that fits runs" test "$(cat "$TMP/fits.rc")" = 0
expect "a concurrency that fits: 50/50 ok" \
  python3 -c 'import json,sys; q=json.load(open(sys.argv[1]))["runs"][0]["requests"]; sys.exit(q["ok"] != 50)' "$TMP/fits.json"
expect "unbounded open loop: runs" test "$(cat "$TMP/open.rc")" = 0
expect "unbounded open loop: warns once, naming --max-inflight" \
  test "$(grep -c "warning: open loop at up to 20 req/s with a 100 s timeout may hold up to 2000 .*--max-inflight" "$TMP/open.err")" = 1
expect "bounded open loop: no warning" sh -c "! grep -q warning '$TMP/bound.err'"
expect "bounded open loop: runs" test "$(cat "$TMP/bound.rc")" = 0
finish
