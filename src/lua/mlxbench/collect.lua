-- mlxbench.collect: turns per-request results into one run of the results
-- file (docs/METRICS.md): counters, histograms (exactly mergeable),
-- throughput over the run's wall time, SLO goodput and the seed-compatible
-- summary. Per-request work here is O(1) histogram records; the ITL gaps
-- arrive as a C array recorded with one call.
local stats = require "mlxbench.stats"
local json = require "mlxbench.json"
local tokens = require "mlxbench.tokens"
local workload = require "mlxbench.workload"

local M = {}

-- The run's histogram metrics. The second row is what realistic workloads
-- add (mlxbench.workload): the reasoning split (time to the first
-- reasoning and answer token, each phase's ITL), TTFT of requests whose
-- prompt prefix was cold or warm in the server's cache, and the duration
-- of completed conversations.
M.METRICS = { "ttft_s", "ttfb_s", "itl_s", "tpot_s", "e2e_s", "req_tok_s", "decode_tok_s",
              "queue_s", "latency_s",
              "ttfr_s", "ttfa_s", "itl_reasoning_s", "itl_answer_s", "ttft_cold_s", "ttft_warm_s",
              "session_s",
              -- the TTFT split, where the server reported its timings (mlxbench.split)
              "server_queue_s", "server_prefill_s", "ttft_rest_s" }

local Collector = {}
Collector.__index = Collector

-- new{name, slo, keep_requests=true} -> collector
function M.new(opts)
  local c = setmetatable({
    name = opts.name,
    slo = opts.slo,
    keep = opts.keep_requests ~= false,
    h = {},
    total = 0, ok = 0, failed = 0, good = 0, cancelled = 0,
    w = workload.new(),
    errors = {},
    tok_in = 0, tok_out = 0, tok_cached = 0,
    split = { requests = 0, negative = 0, source = {} },   -- the TTFT split (mlxbench.split)
    source = { usage = 0, events = 0 },   -- output token counts by source, per request
    prompt_source = {},                    -- input token counts by source
    diff_out = tokens.diff_new(), diff_in = tokens.diff_new(),   -- usage vs tokenizer
    plen = { requests = 0, target = 0, achieved = 0, exact = 0, estimated = 0 },  -- prompts built to a length
    finishes = {},                         -- finish reasons of successful requests
    early = 0,                             -- ok requests that stopped before max_tokens
    stamps = { kernel = 0, user = 0 },     -- ok requests by stamp_source
    messages = {},                         -- the first distinct error messages
    sum_e2e = 0,           -- for the seed's avg_tok_s
    first_start = nil, last_end = nil,
    per_request = json.array(),
    targets = {},
  }, Collector)
  for _, m in ipairs(M.METRICS) do
    -- req_tok_s and decode_tok_s are rates, not times: widen the range
    local hi = (m == "req_tok_s" or m == "decode_tok_s") and 1e7 or 3600
    c.h[m] = stats.histogram{ lowest = 1e-6, highest = hi, digits = 3 }
  end
  return c
end

-- Does a successful result meet every SLO? slo = {ttft=, tpot=, e2e=, itl=}
-- in seconds; a metric the request lacks (tpot with one token) passes.
local function meets(slo, r)
  if not slo then return true end
  if slo.ttft and (r.ttft_s or math.huge) > slo.ttft then return false end
  if slo.tpot and r.tpot_s and r.tpot_s > slo.tpot then return false end
  if slo.e2e and (r.e2e_s or math.huge) > slo.e2e then return false end
  if slo.latency and (r.latency_s or r.e2e_s or math.huge) > slo.latency then return false end
  return true
end
M.meets = meets

local function rec(h, v)
  if v and v == v and v >= 0 and v < math.huge then h:record(v) end
end

-- Sources of exact token counts; anything else (stream events, bytes/4,
-- chars/4) is an estimate and is marked as one in every report.
M.EXACT = { usage = true, tokenizer = true }

-- Finish reasons that mean "the model was done" vs "the limit cut it",
-- across the APIs (OpenAI stop/length, Anthropic end_turn/max_tokens, TGI
-- eos_token, llama.cpp stop_type eos/limit).
local STOPPED = { stop = true, end_turn = true, eos = true, eos_token = true, stop_sequence = true }
local CUT = { length = true, max_tokens = true, limit = true }

-- stopped_early(r) -> whether a successful request ended before its
-- max_tokens: from the finish reason when the server sent one, else from
-- an exact token count.
function M.stopped_early(r)
  local f = r.finish_reason
  if f and STOPPED[f] then return true end
  if f and CUT[f] then return false end
  if r.max_tokens and r.output_tokens and M.EXACT[r.token_source or ""] then
    return r.output_tokens < r.max_tokens
  end
  return false
end

local MAX_MESSAGES = 5

-- Keeps the first MAX_MESSAGES distinct error messages (kind, status and
-- text), with how many requests failed with each: what a failed run prints.
local function note_error(self, r, key)
  local msg = r.error and r.error.message or ""
  -- "HTTP 404: ..." repeats what the key (http_404) says
  msg = tostring(msg):gsub("%s+", " "):gsub("^HTTP %d+: ", ""):sub(1, 300)
  for _, m in ipairs(self.messages) do
    if m.error == key and m.message == msg then
      m.count = m.count + 1
      return
    end
  end
  if #self.messages < MAX_MESSAGES then
    self.messages[#self.messages + 1] = { error = key, message = msg, count = 1 }
  end
end

-- add(r): one finished request (ok or not). r.start_s/end_s are monotonic
-- seconds; r.scheduled_s (open loop) too.
function Collector:add(r)
  self.total = self.total + 1
  if r.start_s and (not self.first_start or r.start_s < self.first_start) then
    self.first_start = r.start_s
  end
  if r.end_s and (not self.last_end or r.end_s > self.last_end) then self.last_end = r.end_s end
  local h = self.h
  rec(h.ttfb_s, r.ttfb_s)
  if r.scheduled_s and r.start_s then
    rec(h.queue_s, math.max(0, r.start_s - r.scheduled_s))
    if r.end_s then
      r.latency_s = r.end_s - r.scheduled_s
      rec(h.latency_s, r.latency_s)
    end
  end
  workload.add(self.w, r, h)
  if r.cancelled then
    -- stopped by the client on purpose (--cancel-rate): its own outcome,
    -- neither a success nor an error, and in no latency metric
    self.cancelled = self.cancelled + 1
  elseif r.ok then
    self.ok = self.ok + 1
    self.tok_out = self.tok_out + (r.output_tokens or 0)
    self.tok_in = self.tok_in + (r.input_tokens or 0)
    if r.token_source then
      self.source[r.token_source] = (self.source[r.token_source] or 0) + 1
    end
    local ps = r.prompt_token_source
    if ps then self.prompt_source[ps] = (self.prompt_source[ps] or 0) + 1 end
    if r.token_source == "usage" then tokens.diff_add(self.diff_out, r.output_tokens, r.tokenizer_tokens) end
    if ps == "usage" then tokens.diff_add(self.diff_in, r.input_tokens, r.tokenizer_input_tokens) end
    local f = r.finish_reason or "none"
    self.finishes[f] = (self.finishes[f] or 0) + 1
    if M.stopped_early(r) then self.early = self.early + 1 end
    local st = r.stamp_source
    if st then self.stamps[st] = (self.stamps[st] or 0) + 1 end
    self.sum_e2e = self.sum_e2e + (r.e2e_s or 0)
    rec(h.ttft_s, r.ttft_s)
    rec(h.e2e_s, r.e2e_s)
    rec(h.tpot_s, r.tpot_s)
    rec(h.req_tok_s, r.req_tok_s)
    rec(h.decode_tok_s, r.decode_tok_s)
    if r.gaps then r.gaps:record_into(h.itl_s) end   -- ITL: one C call per request
    self.tok_cached = self.tok_cached + (r.cached_tokens or 0)
    local sp = r.ttft_split
    if sp then
      local st = self.split
      st.requests = st.requests + 1
      st.source[r.server.source] = (st.source[r.server.source] or 0) + 1
      rec(h.server_queue_s, sp.server_queue_s)
      rec(h.server_prefill_s, sp.server_prefill_s)
      if sp.ttft_rest_s < 0 then st.negative = st.negative + 1 else rec(h.ttft_rest_s, sp.ttft_rest_s) end
    end
    if meets(self.slo, r) then self.good = self.good + 1 end
  else
    self.failed = self.failed + 1
    local e = r.error or { kind = "unknown" }
    local key = e.kind
    if e.kind == "http" and r.status then key = "http_" .. r.status end
    self.errors[key] = (self.errors[key] or 0) + 1
    note_error(self, r, key)
  end
  if r.target then self.targets[r.target] = (self.targets[r.target] or 0) + 1 end
  if r.prompt_target_tokens then
    local pl = self.plen
    pl.requests, pl.target = pl.requests + 1, pl.target + r.prompt_target_tokens
    if r.prompt_estimated then
      pl.estimated = pl.estimated + 1
    else
      local got = r.prompt_achieved_tokens or r.prompt_target_tokens
      pl.achieved = pl.achieved + got
      if got == r.prompt_target_tokens then pl.exact = pl.exact + 1 end
    end
  end
  if self.keep then
    self.per_request[#self.per_request + 1] = {
      i = r.i, ok = r.ok, status = r.status,
      error = r.error and { kind = r.error.kind, message = r.error.message } or nil,
      target = r.target, ttfb_s = r.ttfb_s, ttft_s = r.ttft_s, e2e_s = r.e2e_s,
      tpot_s = r.tpot_s, output_tokens = r.output_tokens, input_tokens = r.input_tokens,
      token_source = r.token_source, finish_reason = r.finish_reason,
      prompt_token_source = r.prompt_token_source, tokenizer_tokens = r.tokenizer_tokens,
      tokenizer_input_tokens = r.tokenizer_input_tokens,
      scheduled_s = r.scheduled_s and self.t0 and (r.scheduled_s - self.t0) or nil,
      start_s = r.start_s and self.t0 and (r.start_s - self.t0) or nil,
      reused = r.reused, retried = r.retried, failover = r.failover, stamp_source = r.stamp_source,
      usage_invalid = r.usage_invalid, cached_tokens = r.cached_tokens,
      server = r.server, ttft_split = r.ttft_split,
      max_tokens = r.max_tokens, prompt = r.prompt_name, turn = r.turn,
      prompt_target_tokens = r.prompt_target_tokens,
      prompt_achieved_tokens = (not r.prompt_estimated) and r.prompt_achieved_tokens or nil,
      -- realistic workloads (METRICS.md): the conversation, the shared
      -- prefix and the server's cache, the reasoning split, the model of a
      -- mix, a cancellation
      session = r.session, model = self.w.multi and r.model or nil,
      prefix = r.prefix_index, cached_tokens = r.cached_tokens, cache = r.cache_state,
      cache_write_tokens = r.cache_write_tokens,
      ttfr_s = r.ttfr_s, ttfa_s = r.ttfa_s, reasoning_tokens = r.reasoning_tokens,
      answer_tokens = r.answer_tokens, reasoning_token_source = r.reasoning_token_source,
      cancelled = r.cancelled, cancel_s = r.cancel_s,
      tokens_received = r.cancelled and r.tokens_received or nil,
    }
  end
end

-- add_session(s): one finished conversation (mlxbench.session)
function Collector:add_session(s)
  workload.add_session(self.w, s, self.h)
end

-- dump() -> the collector's state as plain data (histograms encoded with
-- the C codec), so it can cross from an engine thread to the main state.
function Collector:dump()
  local h = {}
  for m, x in pairs(self.h) do
    if x:count() > 0 then h[m] = x:encode() end
  end
  return {
    total = self.total, ok = self.ok, failed = self.failed, good = self.good,
    cancelled = self.cancelled, w = workload.dump(self.w),
    errors = self.errors, tok_in = self.tok_in, tok_out = self.tok_out, source = self.source,
    tok_cached = self.tok_cached, split = self.split,
    prompt_source = self.prompt_source, diff_out = self.diff_out, diff_in = self.diff_in,
    plen = self.plen, finishes = self.finishes, early = self.early, messages = self.messages,
    stamps = self.stamps,
    sum_e2e = self.sum_e2e, first_start = self.first_start, last_end = self.last_end,
    targets = self.targets, per_request = self.keep and self.per_request or nil, h = h,
  }
end

-- absorb(d [, thread]) adds another collector's dump exactly: counters are
-- summed, histograms decoded and merged bucket by bucket, per-request
-- entries appended (tagged `thread = n` when given). Both collectors must
-- share t0 (engine threads of one run do).
function Collector:absorb(d, thread)
  self.total, self.ok, self.failed = self.total + d.total, self.ok + d.ok, self.failed + d.failed
  self.good = self.good + d.good
  self.cancelled = self.cancelled + (d.cancelled or 0)
  workload.absorb(self.w, d.w)
  self.tok_in, self.tok_out = self.tok_in + d.tok_in, self.tok_out + d.tok_out
  self.tok_cached = self.tok_cached + (d.tok_cached or 0)
  if d.split then
    local st = self.split
    st.requests, st.negative = st.requests + d.split.requests, st.negative + d.split.negative
    for k, n in pairs(d.split.source) do st.source[k] = (st.source[k] or 0) + n end
  end
  self.sum_e2e = self.sum_e2e + d.sum_e2e
  for k, n in pairs(d.errors or {}) do self.errors[k] = (self.errors[k] or 0) + n end
  for k, n in pairs(d.source or {}) do self.source[k] = (self.source[k] or 0) + n end
  for k, n in pairs(d.prompt_source or {}) do self.prompt_source[k] = (self.prompt_source[k] or 0) + n end
  for k, v in pairs(d.plen or {}) do self.plen[k] = self.plen[k] + v end
  tokens.diff_merge(self.diff_out, d.diff_out)
  tokens.diff_merge(self.diff_in, d.diff_in)
  for k, n in pairs(d.finishes or {}) do self.finishes[k] = (self.finishes[k] or 0) + n end
  self.early = self.early + (d.early or 0)
  for k, n in pairs(d.stamps or {}) do self.stamps[k] = (self.stamps[k] or 0) + n end
  for _, m in ipairs(d.messages or {}) do
    local merged = false
    for _, x in ipairs(self.messages) do
      if x.error == m.error and x.message == m.message then
        x.count, merged = x.count + m.count, true
      end
    end
    if not merged and #self.messages < MAX_MESSAGES then
      self.messages[#self.messages + 1] = { error = m.error, message = m.message, count = m.count }
    end
  end
  for k, n in pairs(d.targets or {}) do self.targets[k] = (self.targets[k] or 0) + n end
  if d.first_start and (not self.first_start or d.first_start < self.first_start) then
    self.first_start = d.first_start
  end
  if d.last_end and (not self.last_end or d.last_end > self.last_end) then self.last_end = d.last_end end
  for m, enc in pairs(d.h or {}) do self.h[m]:merge(stats.decode(enc)) end
  if self.keep then
    for _, q in ipairs(d.per_request or {}) do
      q.thread = thread
      self.per_request[#self.per_request + 1] = q
    end
  end
end

-- sort_requests(): per-request entries by start time (then request
-- number), after absorbing several threads' lists.
function Collector:sort_requests()
  table.sort(self.per_request, function(a, b)
    local x, y = a.start_s or math.huge, b.start_s or math.huge
    if x ~= y then return x < y end
    return (a.i or 0) < (b.i or 0)
  end)
end

-- Quantiles of a histogram with no samples are absent, not zero.
local function summarize(h)
  if h:count() == 0 then return nil end
  return h:summary()
end

-- finish{...} -> the run table of the results file. `fields` adds the
-- descriptive part (backend, target, model, config).
-- source_of(counts) -> the one source every request had, or
-- "mixed" (the counts say how many of each), or nil with no request
local function source_of(counts)
  local only, n = nil, 0
  for k, v in pairs(counts) do
    if v > 0 then only, n = k, n + 1 end
  end
  if n == 0 then return nil end
  return n == 1 and only or "mixed"
end

-- estimated(counts) -> whether any count came from an estimate
local function estimated(counts)
  for k, v in pairs(counts) do
    if v > 0 and not M.EXACT[k] then return true end
  end
  return false
end

-- derive_tokens(tok, ok) -> tok with the fields read from its per-source
-- counts (`source`, `prompt_source`): token_source and prompt_token_source
-- (the one source, or "mixed"), estimated / input_estimated, and the mean
-- output length over `ok` successful requests. Shared with merge.
function M.derive_tokens(tok, ok)
  tok.token_source = source_of(tok.source or {})
  tok.prompt_token_source = source_of(tok.prompt_source or {})
  tok.estimated = estimated(tok.source or {})
  tok.input_estimated = estimated(tok.prompt_source or {})
  tok.mean_output = (ok or 0) > 0 and (tok.output or 0) / ok or nil
  return tok
end

-- The run's window: its first start to its last end, or the span a load
-- shape gave (open loop: the schedule's) when set in c.window.
function Collector:span()
  if self.window then return self.window.start, self.window.finish end
  return self.first_start, self.last_end
end

function Collector:finish(fields)
  local a, b = self:span()
  local dur = (a and b) and (b - a) or 0
  local per = function(n) return dur > 0 and n / dur or 0 end
  local run = {
    name = self.name,
    requests = { total = self.total, ok = self.ok, failed = self.failed, errors = self.errors,
                 cancelled = self.cancelled,
                 stopped_early = self.early, finish_reasons = self.finishes,
                 error_messages = #self.messages > 0 and json.array(self.messages) or nil },
    tokens = M.derive_tokens({ input = self.tok_in, output = self.tok_out, source = self.source,
               cached = self.tok_cached > 0 and self.tok_cached or nil,
               prompt_source = next(self.prompt_source) and self.prompt_source or nil,
               -- the tokenizer's count next to the server's usage, where both exist
               tokenizer_vs_usage = (self.diff_out.n + self.diff_in.n > 0) and {
                 output = tokens.diff_summary(self.diff_out), input = tokens.diff_summary(self.diff_in),
               } or nil }, self.ok),
    duration_s = dur,
    throughput = {
      output_tok_s = per(self.tok_out),
      total_tok_s = per(self.tok_out + self.tok_in),
      requests_s = per(self.ok),
      goodput_s = per(self.good),
    },
    metrics = {},
    histograms = {},
    per_request = self.per_request,
  }
  for k, v in pairs(fields or {}) do run[k] = v end
  local pl = self.plen
  if pl.requests > 0 then
    -- prompts built to a token length: what was asked and what they have
    run.prompt_tokens = {
      requests = pl.requests, target_mean = pl.target / pl.requests,
      exact = pl.exact, estimated = pl.estimated,
      achieved_mean = pl.requests > pl.estimated and pl.achieved / (pl.requests - pl.estimated) or nil,
    }
  end
  for _, m in ipairs(M.METRICS) do
    local h = self.h[m]
    run.metrics[m] = summarize(h)
    if h:count() > 0 then run.histograms[m] = h:encode() end
  end
  local rt = self.h.req_tok_s
  run.summary = {
    runs = self.total,
    successful_runs = self.ok,
    avg_tok_s = self.sum_e2e > 0 and self.tok_out / self.sum_e2e or 0,
    min_tok_s = rt:count() > 0 and rt:min() or 0,
    max_tok_s = rt:count() > 0 and rt:max() or 0,
    p50_tok_s = rt:count() > 0 and rt:percentile(50) or 0,
    p95_tok_s = rt:count() > 0 and rt:percentile(95) or 0,
    total_tokens = self.tok_out,
    total_duration_s = self.sum_e2e,
  }
  if self.split.requests > 0 then
    -- which requests the split covers and where their timings came from
    run.ttft_split = { requests = self.split.requests, source = self.split.source,
                       negative_rest = self.split.negative > 0 and self.split.negative or nil }
  end
  if self.slo then
    run.slo = self.slo
    run.requests.slo_met = self.good
  end
  workload.finish(self.w, run)
  if next(self.targets) and (fields and fields.fallback) then run.served_by = self.targets end
  return run
end

return M
