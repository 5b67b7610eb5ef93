# The CLI contract of issue 2: scripts, -e, arg, module search, exit codes.
. "$(dirname "$0")/lib.sh"
cd "$TMP"

# -e and `...`
out=$("$MLXBENCH" -e 'print(select("#", ...), ...)' a b)
expect "-e passes ... " [ "$out" = "$(printf '2\ta\tb')" ]

# --version / --help
"$MLXBENCH" --version > v.txt; expect "--version exits 0" [ $? -eq 0 ]
expect "--version names the tool" contains v.txt '^mlxbench [0-9]+\.[0-9]+'
"$MLXBENCH" --help > h.txt; expect "--help exits 0" [ $? -eq 0 ]
expect "--help shows usage" contains h.txt 'usage: mlxbench'

# arg table as lua(1)
cat > args.lua <<'L'
print(arg[0], arg[1], arg[2], #arg, select("#", ...))
L
out=$("$MLXBENCH" args.lua x y)
expect "arg table" [ "$out" = "$(printf 'args.lua\tx\ty\t2\t2')" ]

# syntax error: exit 2, file:line:
printf 'local x = 1\nx = = 2\n' > bad.lua
"$MLXBENCH" bad.lua 2> err.txt; rc=$?
expect "syntax error exits 2" [ $rc -eq 2 ]
expect "syntax error names bad.lua:2:" contains err.txt 'bad\.lua:2:'

# runtime error: exit 2, message and traceback
printf 'local function f()\n  error("boom")\nend\nf()\n' > rt.lua
"$MLXBENCH" rt.lua 2> err.txt; rc=$?
expect "runtime error exits 2" [ $rc -eq 2 ]
expect "runtime error has file:line" contains err.txt 'rt\.lua:2: boom'
expect "runtime error has a traceback" contains err.txt 'stack traceback'

# error in an unjoined task fails the script
printf 'require("mlxbench").spawn(function() error("in task") end)\n' > task.lua
"$MLXBENCH" task.lua 2> err.txt; rc=$?
expect "unjoined task error exits 2" [ $rc -eq 2 ]
expect "unjoined task error reported" contains err.txt 'task\.lua:1: in task'

# missing script, bad flag, nothing to run
"$MLXBENCH" nosuch.lua 2> err.txt; rc=$?
expect "missing script exits 2" [ $rc -eq 2 ]
expect "missing script one-line error" contains err.txt "cannot open script 'nosuch.lua'"
expect "missing script prints usage" contains err.txt 'usage:'
"$MLXBENCH" --frobnicate 2> err.txt; rc=$?
expect "bad flag exits 2" [ $rc -eq 2 ]
expect "bad flag named" contains err.txt "unknown option '--frobnicate'"
"$MLXBENCH" 2> err.txt; rc=$?
expect "no arguments exits 2" [ $rc -eq 2 ]

# module search: script folder, -I DIR, MLXBENCH_PATH
mkdir -p scen lib envlib
echo 'return { name = "local" }' > scen/mod_here.lua
echo 'return { name = "inc" }' > lib/mod_inc.lua
echo 'return { name = "env" }' > envlib/mod_env.lua
cat > scen/main.lua <<'L'
print(require("mod_here").name, require("mod_inc").name, require("mod_env").name)
L
out=$(MLXBENCH_PATH="$TMP/envlib/?.lua" "$MLXBENCH" -I lib scen/main.lua)
expect "modules from script dir, -I and MLXBENCH_PATH" [ "$out" = "$(printf 'local\tinc\tenv')" ]

# embedded stdlib works from any folder
out=$(cd / && "$MLXBENCH" -e 'print(require("mlxbench").version ~= nil, require("cjson").encode({1}))')
expect "embedded modules from /" [ "$out" = "$(printf 'true\t[1]')" ]

# exit code from os.exit is preserved
"$MLXBENCH" -e 'os.exit(3)'; expect "os.exit code kept" [ $? -eq 3 ]

finish
