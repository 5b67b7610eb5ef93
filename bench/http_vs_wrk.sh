#!/usr/bin/env bash
# http_vs_wrk.sh: raw HTTP request rate of mlxbench vs wrk against the same
# nginx on loopback (keep-alive, a small static body), same connection count,
# one thread each. Prints both rates, the ratio and CPU-seconds per 10k
# requests, per run and as medians; then the same mlxbench loop with every
# request on libcurl (MLXBENCH_HTTP=curl) in the last column, to show what
# the plain-HTTP/1.1 transport gains.
#
#   bench/http_vs_wrk.sh [SECONDS=10] [CONNECTIONS=50] [RUNS=3]
#   MLXBENCH=path/to/mlxbench (default build/mlxbench)
#
# Needs nginx and wrk (Debian packages; `tools/deps.sh test` installs them).
# The machine may be shared: compare the ratio within one run, quote medians.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-50}
runs=${3:-3}
MLXBENCH=${MLXBENCH:-build/mlxbench}

for tool in nginx wrk python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "http_vs_wrk: $tool not found (tools/deps.sh test installs it)" >&2; exit 2; }
done
[ -x "$MLXBENCH" ] || { echo "http_vs_wrk: $MLXBENCH not built (tools/build.sh)" >&2; exit 2; }

tmp=$(mktemp -d)
nginx_pid=
cleanup() {
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$tmp/www"
head -c 64 /dev/zero | tr '\0' 'x' > "$tmp/www/small.txt"
cat > "$tmp/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
error_log $tmp/error.log warn;
pid $tmp/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  open_file_cache max=16;
  client_body_temp_path $tmp/body;
  proxy_temp_path $tmp/proxy;
  fastcgi_temp_path $tmp/fastcgi;
  uwsgi_temp_path $tmp/uwsgi;
  scgi_temp_path $tmp/scgi;
  server {
    listen 127.0.0.1:$port;
    root $tmp/www;
  }
}
CONF
nginx -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/error.log" </dev/null >/dev/null 2>&1 &
nginx_pid=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.05
done
url="http://127.0.0.1:$port/small.txt"

# cpu_run CMD...: runs CMD, then prints "CPU <user+sys seconds>" of it.
cpu_run() {
  python3 -c '
import resource, subprocess, sys
p = subprocess.run(sys.argv[1:])
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print("CPU %.3f" % (r.ru_utime + r.ru_stime), flush=True)
sys.exit(p.returncode)' "$@"
}

echo "nginx 1 worker on $url; $conns connections, 1 thread, ${secs}s each, $runs run(s)"
printf '%-4s %12s %12s %7s %14s %14s %14s\n' run "wrk req/s" "mlx req/s" ratio "wrk cpu/10k" "mlx cpu/10k" "curl req/s"
results=()
for run in $(seq "$runs"); do
  out=$(cpu_run wrk -t1 -c"$conns" -d"${secs}s" "$url")
  w_rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  w_n=$(awk '/requests in/ {print $1}' <<<"$out")
  w_cpu=$(awk '/^CPU / {print $2}' <<<"$out")
  out=$(cpu_run "$MLXBENCH" bench/http_get_loop.lua "$url" "$conns" "$secs")
  m_rps=$(sed -n 's/.*rps=\([0-9.]*\).*/\1/p' <<<"$out")
  m_n=$(sed -n 's/^requests=\([0-9]*\).*/\1/p' <<<"$out")
  m_fail=$(sed -n 's/.*failed=\([0-9]*\).*/\1/p' <<<"$out")
  m_cpu=$(awk '/^CPU / {print $2}' <<<"$out")
  line=$(awk -v wr="$w_rps" -v wn="$w_n" -v wc="$w_cpu" -v mr="$m_rps" -v mn="$m_n" -v mc="$m_cpu" \
    'BEGIN { printf "%.1f %.1f %.3f %.3f %.3f", wr, mr, mr / wr, wc / wn * 1e4, mc / mn * 1e4 }')
  out=$(MLXBENCH_HTTP=curl "$MLXBENCH" bench/http_get_loop.lua "$url" "$conns" "$secs")
  c_rps=$(sed -n 's/.*rps=\([0-9.]*\).*/\1/p' <<<"$out")
  line="$line $c_rps"
  results+=("$line")
  read -r a b c d e f <<<"$line"
  printf '%-4s %12s %12s %7s %14s %14s %14s\n' "$run" "$a" "$b" "${c}x" "${d}s" "${e}s" "$f"
  [ "${m_fail:-0}" -eq 0 ] || echo "     (mlxbench: $m_fail failed requests)"
done
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
col() { printf '%s\n' "${results[@]}" | awk -v c="$1" '{print $c}' | median; }
printf '%-4s %12s %12s %7s %14s %14s %14s\n' median "$(col 1)" "$(col 2)" "$(col 3)x" "$(col 4)s" "$(col 5)s" "$(col 6)"
