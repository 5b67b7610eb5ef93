# docs/mlxbench.1: renders with man(1) without warnings, names every command
# and every option each command's --help lists, and `cmake --install` puts it
# in share/man/man1.
. "$(dirname "$0")/lib.sh"
SRC=$(pwd)
PAGE=$SRC/docs/mlxbench.1
# rendered and checked with what the system has: man-db and groff (Debian),
# or mandoc (macOS, the BSDs: no groff, and man(1) takes no -l)
if command -v groff > /dev/null && man -l "$PAGE" > /dev/null 2>&1; then
  MANWIDTH=100 man -l "$PAGE" > "$TMP/man.txt" 2> "$TMP/man.err"
  groff -man -ww -z "$PAGE" > "$TMP/lint.err" 2>&1
  lint=groff
elif command -v mandoc > /dev/null; then
  mandoc -T utf8 -O width=100 "$PAGE" 2> "$TMP/man.err" | col -b > "$TMP/man.txt"
  mandoc -T lint -W warning "$PAGE" > "$TMP/lint.err" 2>&1
  lint=mandoc
else
  echo "SKIP: neither man-db with groff nor mandoc to render the page (tools/deps.sh test)"
  exit 77
fi
expect "the page renders" [ -s "$TMP/man.txt" ]
expect "$lint finds nothing to warn about: $(head -c 300 "$TMP/lint.err")" [ ! -s "$TMP/lint.err" ]
for section in NAME SYNOPSIS DESCRIPTION COMMANDS 'EXIT STATUS' ENVIRONMENT EXAMPLES; do
  expect "section $section" contains "$TMP/man.txt" "^$section"
done
for cmd in run suite mock report compare merge calibrate tokenize probe; do
  expect "command $cmd has a section" contains "$TMP/man.txt" "^ +mlxbench $cmd"
  "$MLXBENCH" "$cmd" --help > "$TMP/help.txt" 2>&1
  # every long option the command accepts (--no-X forms are documented with X)
  for opt in $(grep -oE -- '--[a-z][a-z0-9-]*' "$TMP/help.txt" | grep -v -- '^--no-' | sort -u); do
    [ "$opt" = "--help" ] && continue
    expect "mlxbench $cmd $opt is in the man page" grep -qF -- "$opt" "$TMP/man.txt"
  done
done
for code in 0 1 2 130; do
  expect "exit status $code" contains "$TMP/man.txt" "^ +$code +"
done
# installed with the binary
cmake --install "${MB_BUILD:-build}" --prefix "$TMP/prefix" > "$TMP/install.txt" 2>&1
expect "cmake --install puts it in share/man/man1" cmp -s "$PAGE" "$TMP/prefix/share/man/man1/mlxbench.1"
finish
