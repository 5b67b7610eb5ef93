#!/usr/bin/env bash
# tier: slow (not in tools/test.sh --fast)
# Valgrind memcheck of one end-to-end run (docs/RELIABILITY.md): the client
# and the emulator in one process, five streamed requests, results and a
# report written. Asserts zero errors and zero bytes definitely or
# indirectly lost. Skipped on the sanitizer build (valgrind cannot run an
# ASan binary; that build is its own leak check).
source "$(dirname "$0")/lib.sh"
if [ -f "${MB_BUILD:-}/CMakeCache.txt" ] && grep -q "MLXBENCH_SANITIZE:BOOL=ON" "$MB_BUILD/CMakeCache.txt"; then
  echo "SKIP: sanitizer build (valgrind cannot run an ASan binary; that build is its own leak check)"
  exit 77
fi
if ! command -v valgrind >/dev/null 2>&1; then
  echo "SKIP: valgrind is missing (tools/deps.sh test installs it)"
  exit 77
fi
log=$TMP/valgrind.log
start=$(date +%s)
valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect \
  --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --num-callers=30 \
  --log-file="$log" \
  "$MLXBENCH" run --mock -m small -n 5 --warmup 1 --stream --max-tokens 32 -c 2 \
  --progress none -o "$TMP/out.json" --format md >"$TMP/stdout" 2>"$TMP/stderr"
rc=$?
echo "valgrind run: rc=$rc in $(( $(date +%s) - start )) s"
expect "the run under valgrind exits 0 (99 = valgrind found errors or leaks)" [ "$rc" -eq 0 ]
expect "ERROR SUMMARY: 0 errors" contains "$log" "ERROR SUMMARY: 0 errors from 0 contexts"
if contains "$log" "definitely lost:"; then
  expect "definitely lost: 0 bytes" contains "$log" "definitely lost: 0 bytes in 0 blocks"
  expect "indirectly lost: 0 bytes" contains "$log" "indirectly lost: 0 bytes in 0 blocks"
else
  expect "no leaks are possible" contains "$log" "All heap blocks were freed|no leaks are possible"
fi
expect "five requests measured" contains "$TMP/out.json" '"ok": 5'
expect "the report was printed" contains "$TMP/stdout" "^\| c=2 \| Llama-3.2-3B-Instruct-4bit \| local \| 5/5 \|"
grep -E "ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|still reachable|total heap usage" "$log"
if [ "$fails" -ne 0 ]; then
  sed -n '1,120p' "$log" >&2
fi

# The error paths: the bad-input matrix (resets, timeouts, limits, TLS, DNS,
# decoding) against the hostile server, under valgrind too.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" -days 2 \
  -subj "/CN=mismatch.example" -addext "subjectAltName=DNS:mismatch.example" >/dev/null 2>&1
coproc HOSTILE { exec python3 "$MB_SRC/tests/e2e/hostile_server.py" --tls-cert "$TMP/cert.pem" \
                  --tls-key "$TMP/key.pem"; }
hostile_pid=$HOSTILE_PID
trap 'kill "$hostile_pid" 2>/dev/null; rm -rf "$TMP"' EXIT
read -r _ port <&"${HOSTILE[0]}"
read -r _ tlsport <&"${HOSTILE[0]}"
log2=$TMP/valgrind-matrix.log
start=$(date +%s)
valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect \
  --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --num-callers=30 \
  --log-file="$log2" "$MLXBENCH" "$MB_SRC/tests/e2e/hostile_matrix.lua" "$port" "$tlsport" \
  "$TMP/cert.pem" "$TMP/matrix.json" >"$TMP/stdout2" 2>"$TMP/stderr2"
rc=$?
echo "valgrind matrix: rc=$rc in $(( $(date +%s) - start )) s"
expect "the bad-input matrix under valgrind exits 0" [ "$rc" -eq 0 ]
expect "matrix: ERROR SUMMARY: 0 errors" contains "$log2" "ERROR SUMMARY: 0 errors from 0 contexts"
expect "matrix: nothing lost" contains "$log2" "definitely lost: 0 bytes|All heap blocks were freed"
if contains "$log2" "definitely lost:"; then
  expect "matrix: indirectly lost: 0 bytes" contains "$log2" "indirectly lost: 0 bytes in 0 blocks"
fi
expect "matrix: every case written" contains "$TMP/matrix.json" '"name": "mixed"'
grep -E "ERROR SUMMARY|definitely lost|indirectly lost|total heap usage" "$log2"
if [ "$rc" -ne 0 ]; then
  sed -n '1,80p' "$log2" >&2
  tail -5 "$TMP/stderr2" >&2
fi
finish
