-- mlxbench.limits: resources a run needs, checked before it starts, so a
-- benchmark fails up front with the reason instead of with a trickle of
-- mysterious connect errors half-way through.
--
-- File descriptors: every virtual user holds one connection; an emulator
-- running in the same process (mlxbench run --mock, mock.start{}) holds the
-- other end, so two. The process lifts its soft limit to the hard one at
-- start (mb_net_global_init); this checks what is left.
local sys = require "mlxbench._sys"
local target_mod = require "mlxbench.target"
local DEFAULTS = require("mlxbench._sys").defaults

local M = {}

M.MARGIN = 64   -- descriptors kept for the loop, files, DNS, TLS, stdio

-- The largest request body built (bytes; llm.request max_request_bytes,
-- bench{}, --max-request-bytes), and so the largest prompt, prompt file
-- and dataset line read: a 1M-token context is ~4 MB of text. Well below
-- where lua-cjson 2.1.0's string encoder overflows (~350 MB), and bounded
-- so `--prompt synthetic:99999999999` or `@/dev/zero` is a clear error
-- before anything large is allocated.
M.MAX_REQUEST_BYTES = 16 * 1024 * 1024

local function mib(n) return string.format("%.0f MiB", n / 1048576) end

-- request_size(v) -> bytes of the strings and numbers in v (a request
-- body as a table): what its JSON will weigh, give or take the syntax.
function M.request_size(v, depth)
  depth = depth or 0
  if type(v) == "string" then return #v end
  if type(v) ~= "table" or depth > 64 then return 8 end
  local n = 2
  for k, x in pairs(v) do n = n + M.request_size(k, depth + 1) + M.request_size(x, depth + 1) + 4 end
  return n
end

-- too_large(what, bytes, max) -> the one-line refusal
function M.too_large(what, bytes, max)
  max = max or M.MAX_REQUEST_BYTES
  local size = bytes == math.huge and "far over any limit"
    or bytes >= 1048576 and ("about " .. mib(bytes)) or (tostring(bytes) .. " bytes")
  return string.format("%s is %s, over the request limit of %s (%d bytes): "
    .. "shorten it, or raise max_request_bytes (--max-request-bytes)", what, size, mib(max), max)
end

local function in_process(url)
  local ok, mock = pcall(require, "mlxbench.mock")
  if not ok or not mock.running_ports then return false end
  local host = target_mod.host(url)
  if host ~= "127.0.0.1" and host ~= "localhost" and host ~= "::1" then return false end
  local port = tonumber(url:match("^%a[%w+.-]*://[^/]-:(%d+)"))
  for _, p in ipairs(mock.running_ports()) do
    if p == port then return true end
  end
  return false
end

-- fds(users, urls) -> true | nil, message. `users` is the most requests
-- in flight at once; `urls` the targets' base URLs.
function M.fds(users, urls)
  local soft, hard = sys.fd_limit()
  if not soft or soft < 0 or not users then return true end
  local per = 1
  for _, u in ipairs(urls or {}) do
    if in_process(u) then per = 2 break end
  end
  local open = sys.fd_count() or 0
  local need = open + users * per + M.MARGIN
  if need <= soft then return true end
  return nil, string.format(
    "%d virtual users need about %d file descriptors (%d per user%s, %d open now, %d spare) "
    .. "but this process may open only %d (ulimit -n; hard limit %s): raise the limit "
    .. "(ulimit -n, systemd LimitNOFILE) or lower the concurrency",
    users, need, per, per == 2 and ": the emulator runs in this process" or "", open, M.MARGIN,
    soft, hard and hard >= 0 and tostring(hard) or "unlimited")
end

-- bench_users(o) -> the most requests a bench{} keeps in flight (closed
-- loop: the users, the largest stage included; open loop: max_inflight, or
-- nil when unbounded)
function M.bench_users(o)
  local open = o.rate or (o.stages and o.stages[1] and o.stages[1].rate)
  if open then return o.max_inflight end
  local c = o.concurrency or 1
  for _, s in ipairs(o.stages or {}) do
    if type(s.concurrency) == "number" and s.concurrency > c then c = math.ceil(s.concurrency) end
  end
  return c
end

-- open_bound(o) -> the most requests an unbounded open-loop run could have
-- in flight: the peak rate times the request timeout (every request hangs
-- until it times out: a stalled server), or nil for a closed loop / a
-- max_inflight bound.
function M.open_bound(o)
  if o.max_inflight then return nil end
  local peak = o.rate
  for _, s in ipairs(o.stages or {}) do
    if type(s.rate) == "number" and s.rate > (peak or 0) then peak = s.rate end
  end
  if not peak then return nil end
  return math.ceil(peak * (o.timeout or DEFAULTS.timeout))
end

-- check_bench(o, group): raises with the reason when the run cannot fit;
-- warns (on stderr, once per run) when an unbounded open loop could outgrow
-- the descriptors if the server stalled.
function M.check_bench(o, group)
  local urls = {}
  for _, m in ipairs(group.members or {}) do urls[#urls + 1] = m.url end
  local ok, err = M.fds(M.bench_users(o), urls)
  if not ok then error("mlxbench.bench: " .. err, 0) end
  local bound = M.open_bound(o)
  if bound and not M.fds(bound, urls) then
    local soft = sys.fd_limit()
    local per = 1
    for _, u in ipairs(urls) do if in_process(u) then per = 2 end end
    io.stderr:write(string.format(
      "mlxbench: warning: open loop at up to %g req/s with a %g s timeout may hold up to %d "
      .. "requests in flight if the server stalls (%d file descriptors%s), more than the %d this "
      .. "process may open; set max_inflight (--max-inflight N) to bound it, or lower the "
      .. "timeout\n", bound / (o.timeout or DEFAULTS.timeout), o.timeout or DEFAULTS.timeout, bound, bound * per,
      per == 2 and ": the emulator runs in this process" or "", soft))
  end
end

return M
