# sdk_run.sh SCRIPT.mjs: runs an official-SDK script from tests/node against
# a fresh `mlxbench mock --port 0 --api-key ...` (sourced by test_sdk_*.sh).
# tools/test.sh installs tests/node/node_modules (`npm ci`) before ctest runs;
# without them the test is skipped (exit 77), never installed from here.
. "$(dirname "$0")/lib.sh"
script=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
node_dir="$root/tests/node"

if ! command -v node >/dev/null 2>&1; then
  echo "SKIP: node is not installed (tools/deps.sh test installs it)"
  exit 77
fi
if [ ! -d "$node_dir/node_modules/openai" ] || [ ! -d "$node_dir/node_modules/@anthropic-ai/sdk" ]; then
  echo "SKIP: tests/node/node_modules is missing (run: cd tests/node && npm ci)"
  exit 77
fi

key=sk-mock-test
# the scripts check exact token counts: every request with a max runs to it
echo '{"model_defaults": {"length": "max_tokens"}}' > "$TMP/profile.json"
"$MLXBENCH" mock --port 0 --api-key "$key" --profile "$TMP/profile.json" --quiet > "$TMP/url" 2> "$TMP/mock.err" &
pid=$!
for _ in $(seq 1 100); do
  url=$(head -n1 "$TMP/url" 2>/dev/null)
  [ -n "$url" ] && break
  sleep 0.05
done
if [ -z "$url" ]; then
  echo "mock did not start:" >&2
  cat "$TMP/mock.err" >&2
  exit 1
fi
MOCK_URL="$url" MOCK_API_KEY="$key" node "$node_dir/$script"
rc=$?
kill -INT $pid
wait $pid
mrc=$?
if [ $mrc -ne 130 ] || grep -q Sanitizer "$TMP/mock.err"; then
  echo "mock did not stop cleanly (exit $mrc):" >&2
  cat "$TMP/mock.err" >&2
  rc=1
fi
exit $rc
