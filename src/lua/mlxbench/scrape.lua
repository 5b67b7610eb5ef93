-- mlxbench.scrape: a server's Prometheus /metrics on the run's timeline.
--
--   local scrape = require "mlxbench.scrape"
--   local s = scrape.start{ url = "http://127.0.0.1:8000/metrics", interval = 0.5,
--                           keep = "node_cpu_seconds_total" }
--   ... the run ...
--   run.server_metrics = s:finish(t0)
--
-- A task on the run's own event loop fetches the page every `interval`
-- seconds (one right away, one after the run, for counters' rates), parses
-- it in C (mlxbench._prom: only the wanted samples become Lua tables) and
-- keeps, per scrape, the time the page arrived and:
--
--   * the known names of vLLM, SGLang, TGI and llama.cpp, mapped to one
--     meaning each (MAP below): requests running and waiting, KV-cache
--     usage, prefix-cache hits, prompt and generated tokens (counters, shown
--     as tok/s); series of several label sets are added up (counts) or
--     averaged (ratios);
--   * every series whose name the `keep` regex matches (anchored, as in
--     Prometheus's relabelling), raw, at most MAX_SERIES of them.
--
-- A failed scrape is counted (with the first error), never fatal: the
-- benchmark goes on. docs/METRICS.md, "Server metrics", has the fields.
local sched = require "mlxbench._sched"
local time = require "mlxbench.time"
local http = require "mlxbench.http"
local prom = require "mlxbench._prom"
local json = require "mlxbench.json"

local M = {}

M.MAX_SERIES = 200

-- known metric names -> {key, how}: how is "sum" (counts of several label
-- sets add up), "mean" (ratios average) or "rate" (a counter: its rate per
-- second between scrapes). `scale` turns a percentage into a ratio.
M.MAP = {
  -- vLLM (V0 and V1 engines)
  ["vllm:num_requests_running"] = { "running", "sum", server = "vllm" },
  ["vllm:num_requests_waiting"] = { "waiting", "sum", server = "vllm" },
  ["vllm:gpu_cache_usage_perc"] = { "kv_usage", "mean", server = "vllm" },
  ["vllm:kv_cache_usage_perc"] = { "kv_usage", "mean", server = "vllm" },
  ["vllm:gpu_prefix_cache_hit_rate"] = { "prefix_hit_rate", "mean", server = "vllm" },
  ["vllm:prefix_cache_hits_total"] = { "prefix_hits", "rate", server = "vllm" },
  ["vllm:prefix_cache_queries_total"] = { "prefix_queries", "rate", server = "vllm" },
  ["vllm:prompt_tokens_total"] = { "prompt_tok_s", "rate", server = "vllm" },
  ["vllm:generation_tokens_total"] = { "generation_tok_s", "rate", server = "vllm" },
  -- SGLang
  ["sglang:num_running_reqs"] = { "running", "sum", server = "sglang" },
  ["sglang:num_queue_reqs"] = { "waiting", "sum", server = "sglang" },
  ["sglang:token_usage"] = { "kv_usage", "mean", server = "sglang" },
  ["sglang:cache_hit_rate"] = { "prefix_hit_rate", "mean", server = "sglang" },
  ["sglang:prompt_tokens_total"] = { "prompt_tok_s", "rate", server = "sglang" },
  ["sglang:generation_tokens_total"] = { "generation_tok_s", "rate", server = "sglang" },
  -- TGI
  ["tgi_batch_current_size"] = { "running", "sum", server = "tgi" },
  ["tgi_queue_size"] = { "waiting", "sum", server = "tgi" },
  ["tgi_request_input_length_sum"] = { "prompt_tok_s", "rate", server = "tgi" },
  ["tgi_request_generated_tokens_sum"] = { "generation_tok_s", "rate", server = "tgi" },
  -- llama.cpp (llama-server --metrics)
  ["llamacpp:requests_processing"] = { "running", "sum", server = "llama.cpp" },
  ["llamacpp:requests_deferred"] = { "waiting", "sum", server = "llama.cpp" },
  ["llamacpp:kv_cache_usage_ratio"] = { "kv_usage", "mean", server = "llama.cpp" },
  ["llamacpp:prompt_tokens_total"] = { "prompt_tok_s", "rate", server = "llama.cpp" },
  ["llamacpp:tokens_predicted_total"] = { "generation_tok_s", "rate", server = "llama.cpp" },
}

-- The mapped keys, in the order reports show them, with what they are.
M.KEYS = {
  { "running", "requests running" },
  { "waiting", "requests waiting" },
  { "kv_usage", "KV-cache usage (0..1)" },
  { "prefix_hit_rate", "prefix-cache hit rate (0..1)" },
  { "prompt_tok_s", "prompt tokens processed per second" },
  { "generation_tok_s", "tokens generated per second" },
}

local NAMES = {}
for name in pairs(M.MAP) do NAMES[name] = true end

local Scraper = {}
Scraper.__index = Scraper

-- A canonical text for a label set (sorted k=v), to tell series apart.
local function label_key(labels)
  local ks = {}
  for k in pairs(labels) do ks[#ks + 1] = k end
  table.sort(ks)
  for i, k in ipairs(ks) do ks[i] = k .. "=" .. labels[k] end
  return table.concat(ks, ",")
end

-- keep_matcher(regex) -> matcher | nil, message (for --metrics-keep)
function M.matcher(regex)
  local m, err = prom.matcher(regex)
  if not m then return nil, "--metrics-keep: '" .. regex .. "' is not a regular expression: " .. err end
  return m
end

-- start{url, interval = 0.5, keep = regex|matcher, headers, timeout} -> scraper
function M.start(o)
  assert(type(o.url) == "string", "scrape.start: url")
  local keep = o.keep
  if type(keep) == "string" then keep = assert(M.matcher(keep)) end
  local s = setmetatable({
    url = o.url, interval = o.interval or 0.5, keep = keep, headers = o.headers,
    timeout = o.timeout or math.max(2, (o.interval or 0.5) * 4),
    times = {}, raw = {}, raw_order = {}, mapped = {}, server = nil,
    scrapes = 0, failed = 0, parse_errors = 0, dropped_series = 0, first_error = nil,
    stopping = false,
  }, Scraper)
  s.task = sched.spawn(function() s:loop() end)
  return s
end

-- One GET and parse: the samples wanted, or nil and why.
function Scraper:fetch()
  local r = http.request{ url = self.url, timeout = self.timeout, headers = self.headers,
                          max_body = 32 * 1024 * 1024 }
  if not r.ok then
    return nil, r.error and (r.error.kind .. (r.status and r.status > 0 and (" " .. r.status) or "")
      .. ": " .. tostring(r.error.message):sub(1, 120)) or "failed"
  end
  local ctype = r.headers and r.headers["content-type"] or ""
  local samples, info = prom.parse(r.body or "", { names = NAMES, keep = self.keep,
                                                  openmetrics = ctype:find("openmetrics", 1, true) ~= nil })
  if info.errors > 0 then
    self.parse_errors = self.parse_errors + info.errors
    self.first_error = self.first_error or ("malformed line, " .. info.first_error)
  end
  if info.samples == 0 and info.errors > 0 then return nil, "not Prometheus text: " .. info.first_error end
  return samples, nil, r.start + (r.timings.done or 0)
end

-- Records one scrape's samples at index k of the timeline.
function Scraper:record(k, samples)
  local sums = {}   -- mapped key -> {sum, n, how}
  for _, smp in ipairs(samples) do
    local m = M.MAP[smp.name]
    local v = smp.value
    if m and v == v then
      local a = sums[m[1]] or { sum = 0, n = 0, how = m[2] }
      a.sum, a.n = a.sum + v, a.n + 1
      sums[m[1]] = a
      self.server = self.server or m.server
    end
    if self.keep and self.keep:match(smp.name) then
      local id = smp.name .. "{" .. label_key(smp.labels) .. "}"
      local ser = self.raw[id]
      if not ser then
        if #self.raw_order >= M.MAX_SERIES then
          self.dropped_series = self.dropped_series + 1
          goto next
        end
        ser = { name = smp.name, labels = smp.labels, type = smp.type, values = {} }
        self.raw[id] = ser
        self.raw_order[#self.raw_order + 1] = id
      end
      ser.values[k] = v
    end
    ::next::
  end
  for key, a in pairs(sums) do
    local ser = self.mapped[key] or { how = a.how, values = {} }
    ser.values[k] = a.how == "mean" and a.sum / a.n or a.sum
    self.mapped[key] = ser
  end
end

-- The scraping task: a scrape now, then every interval until finish().
function Scraper:loop()
  local next_at = time.now()
  while true do
    local samples, err, t = self:fetch()
    self.scrapes = self.scrapes + 1
    if samples then
      local k = #self.times + 1
      self.times[k] = t
      self:record(k, samples)
    else
      self.failed = self.failed + 1
      self.first_error = self.first_error or err
    end
    if self.stopping then return end
    next_at = next_at + self.interval
    local now = time.now()
    if next_at < now then next_at = now end   -- a slow scrape: no burst to catch up
    while not self.stopping and time.now() < next_at do
      time.sleep(math.min(0.05, next_at - time.now()))
    end
    -- finish() asked for one last scrape: it happens right away
  end
end

local function nulls(values, n)
  local out = json.array()
  for i = 1, n do
    local v = values[i]
    out[i] = (v == nil or v ~= v) and json.null or v
  end
  return out
end

-- summary of the numbers of a list (nil and null skipped)
local function summarize(vals)
  local n, sum, max, min = 0, 0, -math.huge, math.huge
  for _, v in ipairs(vals) do
    if type(v) == "number" and v == v then
      n, sum = n + 1, sum + v
      if v > max then max = v end
      if v < min then min = v end
    end
  end
  if n == 0 then return nil end
  return { mean = sum / n, max = max, min = min, samples = n }
end
M.summarize = summarize

-- finish(t0) -> the run's server_metrics: one last scrape, then the
-- series with times relative to t0 (the run's zero).
function Scraper:finish(t0)
  self.stopping = true
  sched.join(self.task)
  local n = #self.times
  local t = json.array()
  for i = 1, n do t[i] = self.times[i] - t0 end
  local out = {
    url = self.url, interval_s = self.interval, scrapes = self.scrapes, failed = self.failed,
    parse_errors = self.parse_errors > 0 and self.parse_errors or nil,
    first_error = self.first_error, server = self.server, t = t,
    dropped_series = self.dropped_series > 0 and self.dropped_series or nil,
    keep = self.keep and true or nil,
    mapped = {}, series = json.array(),
  }
  for _, kd in ipairs(M.KEYS) do
    local key = kd[1]
    local ser = self.mapped[key]
    if ser then
      local vals = ser.values
      if ser.how == "rate" then
        -- a counter: tokens (or hits) per second between scrapes; a reset
        -- (the server restarted) gives no rate for that interval
        local rates = {}
        for i = 2, n do
          local a, b = vals[i - 1], vals[i]
          if a and b and b >= a and self.times[i] > self.times[i - 1] then
            rates[i] = (b - a) / (self.times[i] - self.times[i - 1])
          end
        end
        vals = rates
      end
      local arr = nulls(vals, n)
      local sm = summarize(arr) or {}
      out.mapped[key] = { values = arr, mean = sm.mean, max = sm.max, min = sm.min }
    end
  end
  -- prefix hits over queries: a hit rate when the server gives counters
  local h, q = self.mapped.prefix_hits, self.mapped.prefix_queries
  if h and q and not out.mapped.prefix_hit_rate and n >= 2 then
    local dh = (h.values[n] or 0) - (h.values[1] or 0)
    local dq = (q.values[n] or 0) - (q.values[1] or 0)
    if dq > 0 then out.prefix_hit_rate = dh / dq end
  end
  if not next(out.mapped) then out.mapped = nil end
  for _, id in ipairs(self.raw_order) do
    local ser = self.raw[id]
    out.series[#out.series + 1] = { name = ser.name, labels = next(ser.labels) and ser.labels or nil,
                                    type = ser.type, values = nulls(ser.values, n) }
  end
  return out
end

return M
