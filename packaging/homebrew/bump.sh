#!/usr/bin/env bash
# bump.sh VERSION [TARBALL]: points the formula at release VERSION -- the
# tag v$VERSION's archive, and the SHA-256 of TARBALL (the file the
# release serves; made here with `git archive` when not given).
set -euo pipefail
cd "$(dirname "$0")/../.."
ver=${1:?usage: packaging/homebrew/bump.sh VERSION [TARBALL]}
tarball=${2:-}
if [ -z "$tarball" ]; then
  tarball=$(mktemp "${TMPDIR:-/tmp}/mlxbench-$ver.XXXXXX")
  git archive --format=tar.gz --prefix="mlxbench-$ver/" "v$ver" > "$tarball"
fi
sum=$(python3 -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$tarball")
f=packaging/homebrew/mlxbench.rb
python3 - "$f" "$ver" "$sum" <<'PY'
import re, sys
path, ver, digest = sys.argv[1:]
s = open(path).read()
s = re.sub(r'(url "[^"]*/archive/refs/tags/v)[^"]*(\.tar\.gz")', r'\g<1>%s\2' % ver, s, count=1)
s = re.sub(r'(\n  sha256 ")[0-9a-f]{64}(")', r'\g<1>%s\2' % digest, s, count=1)
open(path, "w").write(s)
PY
echo "$f: v$ver, sha256 $sum"
