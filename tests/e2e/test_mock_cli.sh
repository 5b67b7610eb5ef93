# `mlxbench mock` on the command line: URL on the first stdout line, --port 0,
# a fixed --port, clean stop on SIGINT and SIGTERM, usage errors, one log
# line per request with --log, and a mock inside a script that does not keep
# the script alive. Uses curl as the client.
. "$(dirname "$0")/lib.sh"
cd "$TMP"

# start_mock ARGS... : starts the mock in the background, sets PID and URL
start_mock() {
  # a fresh out.txt first: the background shell truncates it only when it
  # gets to run, and the loop below must not read the last mock's URL
  rm -f out.txt err.txt
  "$MLXBENCH" mock "$@" > out.txt 2> err.txt &
  PID=$!
  for _ in $(seq 1 100); do
    URL=$(head -n1 out.txt 2>/dev/null)
    [ -n "$URL" ] && return 0
    kill -0 $PID 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# stop_mock SIGNAL : signals it and waits; sets RC
stop_mock() {
  kill -"$1" $PID
  wait $PID
  RC=$?
}

"$MLXBENCH" mock --help > help.txt; rc=$?
expect "--help exits 0" [ $rc -eq 0 ]
expect "--help describes the options" contains help.txt '--profile'

"$MLXBENCH" mock --bogus 2> err1.txt; rc=$?
expect "unknown option exits 2" [ $rc -eq 2 ]
expect "unknown option named" contains err1.txt "unknown option '--bogus'"
"$MLXBENCH" mock --port abc 2> err1.txt; rc=$?
expect "bad port exits 2" [ $rc -eq 2 ]
"$MLXBENCH" mock --port 0 --profile /nonexistent.json 2> err1.txt; rc=$?
expect "missing profile exits 2" [ $rc -eq 2 ]
expect "missing profile message" contains err1.txt "cannot open profile '/nonexistent.json'"
echo '{"models": {"m": {"jitter": 5}}}' > bad.json
"$MLXBENCH" mock --port 0 --profile bad.json 2> err1.txt; rc=$?
expect "invalid profile exits 2" [ $rc -eq 2 ]
expect "invalid profile names the field" contains err1.txt "'jitter' must be"

# --port 0, URL first, SIGINT
expect "starts with --port 0" start_mock --port 0 --log
expect "prints its URL first" [ "${URL#http://127.0.0.1:}" != "$URL" ]
code=$(curl -s -o models.json -w '%{http_code}' "$URL/v1/models")
expect "serves /v1/models" [ "$code" = 200 ]
curl -sN "$URL/v1/chat/completions" -H 'content-type: application/json' \
  -d '{"model":"mlx-community/Llama-3.2-3B-Instruct-4bit","max_tokens":4,"stream":true,"messages":[{"role":"user","content":"hi"}]}' > stream.txt
expect "streams a chat completion" contains stream.txt 'data: \[DONE\]'
sleep 0.1
expect "logs one line per request" contains err.txt 'POST /v1/chat/completions 200 model=mlx-community/Llama-3.2-3B-Instruct-4bit stream in=1 out=4'
stop_mock INT
expect "SIGINT stops it (exit 130)" [ $RC -eq 130 ]
expect "says it stopped" contains err.txt 'mlxbench mock: stopped'

# fixed port; port in use; SIGTERM mid-stream
port=$(free_port)
expect "starts on a fixed port" start_mock --port "$port" --seed 7 --api-key sekret
expect "URL has the port" [ "$URL" = "http://127.0.0.1:$port" ]
"$MLXBENCH" mock --port "$port" 2> err2.txt; rc=$?
expect "port in use exits 2" [ $rc -eq 2 ]
expect "port in use message" contains err2.txt "cannot listen on 127.0.0.1:$port"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/models")
expect "--api-key enforced" [ "$code" = 401 ]
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer sekret' "$URL/v1/models")
expect "--api-key accepted" [ "$code" = 200 ]
curl -sN "$URL/v1/chat/completions" -H 'Authorization: Bearer sekret' \
  -d '{"model":"mlx-community/Llama-3.3-70B-Instruct-4bit","max_tokens":1000,"stream":true,"messages":[{"role":"user","content":"hi"}]}' > cut.txt &
CURL=$!
sleep 0.8
stop_mock TERM
wait $CURL
expect "SIGTERM stops it mid-stream (exit 130)" [ $RC -eq 130 ]
expect "the stream was cut, not finished" bash -c "! grep -q DONE cut.txt"
expect "no sanitizer report" bash -c "! grep -q Sanitizer err.txt"

# a mock started by a script does not keep it alive
start=$(now_ms)
out=$("$MLXBENCH" -e 'local s = require("mlxbench.mock").start{port=0}; print(s.url:match("^http://") ~= nil)')
rc=$?
dur=$(( $(now_ms) - start ))
expect "script with a mock exits 0" [ $rc -eq 0 ]
expect "script with a mock printed" [ "$out" = "true" ]
expect "script with a mock ends promptly ($dur ms)" [ $dur -lt 3000 ]

finish
