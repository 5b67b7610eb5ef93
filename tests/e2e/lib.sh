# lib.sh: helpers for the bash end-to-end tests (sourced).
set -u
MLXBENCH=$(realpath "${MLXBENCH:-build/mlxbench}")
export MLXBENCH
fails=0
checks=0
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# expect DESCRIPTION COND... : runs the test expression, records the verdict.
expect() {
  local what=$1; shift
  checks=$((checks + 1))
  if "$@"; then :; else
    fails=$((fails + 1))
    echo "FAIL: $what" >&2
  fi
}

# contains FILE PATTERN (grep -E)
contains() { grep -qE -- "$2" "$1"; }

# with_timeout SECONDS CMD...: runs CMD, killed after SECONDS (exit 124):
# coreutils' timeout where it exists (Linux), else Python (macOS has no
# timeout(1)).
with_timeout() {
  local s=$1
  shift
  if command -v timeout >/dev/null 2>&1; then
    timeout "$s" "$@"
    return
  fi
  python3 -c 'import subprocess, sys
try:
    sys.exit(subprocess.run(sys.argv[2:], timeout=float(sys.argv[1])).returncode)
except subprocess.TimeoutExpired:
    sys.exit(124)' "$s" "$@"
}

# now_ms: a monotonic clock in milliseconds (date +%s%N is GNU-only).
now_ms() { python3 -c 'import time; print(int(time.monotonic() * 1000))'; }

# free_port: a port nobody listens on right now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

finish() {
  echo "$checks checks, $fails failed"
  [ "$fails" -eq 0 ]
}
