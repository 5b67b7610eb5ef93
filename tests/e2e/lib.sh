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

# free_port: a port nobody listens on right now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

finish() {
  echo "$checks checks, $fails failed"
  [ "$fails" -eq 0 ]
}
