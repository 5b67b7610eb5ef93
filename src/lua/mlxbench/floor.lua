-- mlxbench.floor: the client's own timing floor, measured against the
-- in-process emulator's ground truth (when each token's bytes were handed
-- to the kernel): how much later than the truth the client stamps a first
-- token. `mlxbench calibrate` reports it (with ITL and more); a run whose
-- TTFT split exists shows it beside the split's rest (network + client),
-- so "is it the client?" has a number on each side.
local stats = require "mlxbench.stats"

local M = {}

-- The emulator models of a calibration: 20 ms to the first token, then one
-- every 2 ms, no jitter; and a fast stream cheap to emit.
M.PROFILE = {
  builtin_models = false,
  models = {
    cal = { ttft_ms = 20, prefill_tok_s = 0, decode_tok_s = 500, jitter = 0, length = "max_tokens" },
    fast = { ttft_ms = 0, prefill_tok_s = 0, decode_tok_s = 200000, jitter = 0,
             events_per_write = 64, length = "max_tokens" },
  },
  trace = { max_requests = 2000, max_chunks = 200000 },
}

local function summary(h)
  if h:count() == 0 then return nil end
  return { count = h:count(), p50_s = h:percentile(50), p99_s = h:percentile(99), max_s = h:max() }
end

-- resolution(srv, streams, rounds, tag) -> {streams, requests, ttft_error,
-- itl_error}: TTFT and ITL of `streams` concurrent requests against the
-- emulator's trace (srv runs M.PROFILE)
function M.resolution(srv, streams, rounds, tag)
  local llm = require "mlxbench.llm"
  local sched = require "mlxbench._sched"
  local ttft, itl = stats.histogram{}, stats.histogram{}
  local n_ok = 0
  for round = 1, rounds do
    local tasks = {}
    for k = 1, streams do
      local id = string.format("%s-%d-%d", tag, round, k)
      tasks[k] = sched.spawn(function()
        return id, llm.request{
          target = { url = srv.url }, model = "cal", prompt = "calibrate", max_tokens = 40,
          stream = true, itl = true, headers = { ["x-mock-request-id"] = id }, timeout = 30,
        }
      end)
    end
    for k = 1, streams do
      local id, r = sched.join(tasks[k])
      local tr = srv:trace{ id = id, limit = 10 }.requests[1]
      if r.ok and tr and tr.chunks and #tr.chunks == r.output_tokens then
        n_ok = n_ok + 1
        local first = r.start_s + r.ttft_s
        ttft:record(math.max(0, first - tr.chunks[1][2] * 1e-9))
        for i, gap in ipairs(r.itl or {}) do
          local truth = (tr.chunks[i + 1][2] - tr.chunks[i][2]) * 1e-9
          itl:record(math.abs(gap - truth))
        end
      end
    end
    srv:reset_trace()
  end
  return { streams = streams, requests = n_ok, ttft_error = summary(ttft), itl_error = summary(itl) }
end

-- ttft([rounds]) -> {p50_s, p99_s, requests, source = "measured"}: the
-- client's TTFT floor on this machine now, from `rounds` (default 8)
-- single-stream requests (about 0.3 s)
function M.ttft(rounds)
  local srv = require("mlxbench.mock").start{ port = 0, profile = M.PROFILE }
  local ok, r = pcall(M.resolution, srv, 1, rounds or 8, "floor")
  srv:stop()
  if not ok or not r.ttft_error then return nil end
  return { p50_s = r.ttft_error.p50_s, p99_s = r.ttft_error.p99_s, requests = r.requests, source = "measured" }
end

return M
