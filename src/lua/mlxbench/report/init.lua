-- mlxbench.report: what people read. Human tables for the terminal,
-- Markdown for docs and pull requests, CSV (per run and per request) for
-- spreadsheets, and the JSON results file. Times are seconds in data; in
-- tables each time column picks its unit (ms, or s for long times).
local server = require "mlxbench.report.server"

local M = {}

local function fmt_num(v, digits)
  if v == nil then return "-" end
  if v ~= v then return "-" end
  return string.format("%." .. (digits or 1) .. "f", v)
end

-- count(v) -> "96" (JSON numbers read back as floats: no "96.0")
local function count(v)
  if type(v) ~= "number" then return v ~= nil and tostring(v) or nil end
  if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return string.format("%d", math.floor(v)) end
  return tostring(v)
end

-- Time columns (a 4th field "time" in a column spec) hold seconds. The
-- columns of a group (TTFT p50/p95/p99, ...; a 5th field names it) share
-- one unit -- ms, or s when their values are all 1 s or more or reach
-- 10 s -- shown in the group's first header, and as many decimals as the
-- group's smallest value needs for three significant digits (at most 3),
-- the same on every row.
local function time_format(vals)
  local max, min = 0, math.huge
  for _, v in ipairs(vals) do
    if v > max then max = v end
    if v > 0 and v < min then min = v end
  end
  local unit, k = "ms", 1000
  if max >= 10 or (min >= 1 and min < math.huge) then unit, k = "s", 1 end
  local small = min < math.huge and min * k or 0
  local digits = small == 0 and 1 or math.max(0, math.min(3, 2 - math.floor(math.log(small, 10) + 1e-9)))
  return unit, function(v) return string.format("%." .. digits .. "f", v * k) end
end

local function metric(run, m, q)
  local x = run.metrics and run.metrics[m]
  return x and x[q] or nil
end

-- Estimated figures: built from counted stream events or byte/character
-- estimates instead of the server's usage (or a tokenizer). They carry a
-- "~" in every table, and the report ends with one note saying why.
local function out_estimated(r) return r.tokens and r.tokens.estimated end
local function in_estimated(r) return r.tokens and r.tokens.input_estimated end
M.out_estimated, M.in_estimated = out_estimated, in_estimated
local function est(r, text, which)
  if text == nil or text == "-" then return text end
  if (which == "in" and in_estimated(r)) or (which ~= "in" and out_estimated(r)) then return "~" .. text end
  return text
end

-- no successful request: no throughput to show (not 0.0)
local function none_ok(r) return not r.requests or (r.requests.ok or 0) == 0 end
local function rate_cell(r, v, digits)
  if none_ok(r) or v == nil then return "-" end
  return fmt_num(v, digits)
end

local function is_open_run(r)
  return r.config and (r.config.load == "open" or r.config.rate ~= nil)
end

-- Rows of the per-run table: {header, getter, align[, "time", group]}
local THROUGHPUT = {
  { "Run", function(r) return r.name end, "l" },
  { "Model", function(r)   -- a mix: each model's short name
      return ((r.model or "-"):gsub("mlx%-community/", "")) end, "l" },
  { "Backend", function(r) return r.backend or "-" end, "l" },
  { "OK/Total", function(r)
      if r.skipped then return "skipped" end
      return string.format("%d/%d", r.requests.ok, r.requests.total)
    end, "r" },
  { "req/s", function(r) return rate_cell(r, r.throughput and r.throughput.requests_s, 2) end, "r" },
  { "out tok/s", function(r) return est(r, rate_cell(r, r.throughput and r.throughput.output_tok_s)) end, "r" },
  { "avg tok/s", function(r) return est(r, rate_cell(r, r.summary and r.summary.avg_tok_s)) end, "r" },
  { "p50", function(r) return est(r, rate_cell(r, r.summary and r.summary.p50_tok_s)) end, "r" },
  { "p95", function(r) return est(r, rate_cell(r, r.summary and r.summary.p95_tok_s)) end, "r" },
  { "Time", function(r) return r.duration_s end, "r", "time", "time" },
}

-- early(r) -> "38/40": successful requests that stopped before max_tokens
local function early(r)
  if none_ok(r) then return "-" end
  return string.format("%d/%d", r.requests.stopped_early or 0, r.requests.ok)
end

local SOURCE_TEXT = { usage = "usage", tokenizer = "tokenizer", events = "events", ["bytes/4"] = "bytes/4",
                      estimate = "bytes/4", mixed = "mixed" }

local TOKENS = {
  { "Run", function(r) return r.name end, "l" },
  { "In tok", function(r) return est(r, r.tokens and count(r.tokens.input), "in") end, "r" },
  { "Out tok", function(r) return est(r, r.tokens and count(r.tokens.output)) end, "r" },
  { "Out/req", function(r)
      return est(r, (not none_ok(r) and r.tokens and r.tokens.mean_output) and fmt_num(r.tokens.mean_output) or "-")
    end, "r" },
  { "Max tok", function(r) return r.config and count(r.config.max_tokens) or "-" end, "r" },
  { "Early stops", early, "r" },
  { "Counted by", function(r)
      local t = r.tokens or {}
      if none_ok(r) then return "-" end
      local out = SOURCE_TEXT[t.token_source or ""] or tostring(t.token_source or "-")
      if t.estimated then out = out .. " ~" end
      if t.input_estimated then out = out .. ", input chars/4 ~" end
      return out
    end, "l" },
}

local LATENCY = {
  { "Run", function(r) return r.name end, "l" },
  { "TTFT p50", function(r) return metric(r, "ttft_s", "p50") end, "r", "time", "ttft" },
  { "p95", function(r) return metric(r, "ttft_s", "p95") end, "r", "time", "ttft" },
  { "p99", function(r) return metric(r, "ttft_s", "p99") end, "r", "time", "ttft" },
  { "TPOT p50", function(r) return metric(r, "tpot_s", "p50") end, "r", "time", "tpot", est = true },
  { "ITL p50", function(r) return metric(r, "itl_s", "p50") end, "r", "time", "itl" },
  { "p95", function(r) return metric(r, "itl_s", "p95") end, "r", "time", "itl" },
  { "p99", function(r) return metric(r, "itl_s", "p99") end, "r", "time", "itl" },
  { "E2E p50", function(r) return metric(r, "e2e_s", "p50") end, "r", "time", "e2e" },
  { "p95", function(r) return metric(r, "e2e_s", "p95") end, "r", "time", "e2e" },
  { "p99", function(r) return metric(r, "e2e_s", "p99") end, "r", "time", "e2e" },
  { "Errors", function(r)
      if r.skipped then return "-" end
      local t = {}
      for k, n in pairs(r.requests.errors or {}) do t[#t + 1] = k .. "=" .. count(n) end
      table.sort(t)
      return #t > 0 and table.concat(t, ",") or "0"
    end, "l" },
}

-- Open-loop runs: what users saw, from the time each request was meant to
-- be sent (latency_s), and how late the client sent (queue_s).
local OPEN = {
  { "Run", function(r) return r.name end, "l" },
  { "Offered req/s", function(r)
      local c = r.config or {}
      if c.replay and c.replay.span_s and c.replay.span_s > 0 then   -- a trace's mean rate
        return fmt_num(c.replay.records / c.replay.span_s, 2) .. " replay"
      end
      return c.rate and fmt_num(c.rate, 2) or "ramp"
    end, "r" },
  { "Done req/s", function(r) return rate_cell(r, r.throughput and r.throughput.requests_s, 2) end, "r" },
  { "Latency p50", function(r) return metric(r, "latency_s", "p50") end, "r", "time", "latency" },
  { "p95", function(r) return metric(r, "latency_s", "p95") end, "r", "time", "latency" },
  { "p99", function(r) return metric(r, "latency_s", "p99") end, "r", "time", "latency" },
  { "Queue p50", function(r) return metric(r, "queue_s", "p50") end, "r", "time", "queue" },
  { "p99", function(r) return metric(r, "queue_s", "p99") end, "r", "time", "queue" },
  { "max", function(r) return metric(r, "queue_s", "max") end, "r", "time", "queue" },
}

-- cells(runs, cols) -> rows of strings, headers (with the time units)
local function cells(runs, cols)
  local rows, hdr, fmt = {}, {}, {}
  local groups = {}
  -- a time column without a group is a group of its own
  local function key(c) return c[5] or c end
  for _, c in ipairs(cols) do
    if c[4] == "time" and not groups[key(c)] then
      local vals = {}
      for _, c2 in ipairs(cols) do
        if key(c2) == key(c) then
          for _, r in ipairs(runs) do
            local v = not r.skipped and c2[2](r)
            if type(v) == "number" and v == v then vals[#vals + 1] = v end
          end
        end
      end
      local unit, f = time_format(vals)
      groups[key(c)] = { unit = unit, f = f }
    end
  end
  for j, c in ipairs(cols) do
    hdr[j] = c[1]
    if c[4] == "time" then
      local g = groups[key(c)]
      fmt[j] = g.f
      hdr[j] = c[1] .. " " .. g.unit
    end
  end
  for i, r in ipairs(runs) do
    local row = {}
    for j, c in ipairs(cols) do
      -- a skipped row has names and a reason, no numbers
      local v
      if r.skipped and c[3] == "r" then
        v = c[1] == "OK/Total" and "skipped" or "-"
      else
        v = c[2](r)
        if fmt[j] then
          v = (type(v) == "number" and v == v) and fmt[j](v) or "-"
          if c.est then v = est(r, v) end
        end
      end
      row[j] = tostring(v or "-")
    end
    rows[i] = row
  end
  return rows, hdr
end

local function width(s) return utf8.len(s) or #s end

-- text_table(runs, cols) -> aligned text with a rule under the header
local function text_table(runs, cols)
  local rows, hdr = cells(runs, cols)
  local w = {}
  for j in ipairs(cols) do
    w[j] = width(hdr[j])
    for _, row in ipairs(rows) do w[j] = math.max(w[j], width(row[j])) end
  end
  local function line(vals)
    local out = {}
    for j, v in ipairs(vals) do
      local pad = string.rep(" ", w[j] - width(v))
      out[j] = cols[j][3] == "r" and pad .. v or v .. pad
    end
    return (table.concat(out, "  "):gsub("%s+$", ""))
  end
  local out = { line(hdr) }
  local rule = {}
  for j = 1, #cols do rule[j] = string.rep("-", w[j]) end
  out[#out + 1] = table.concat(rule, "  ")
  for _, row in ipairs(rows) do out[#out + 1] = line(row) end
  return table.concat(out, "\n")
end

local function md_table(runs, cols)
  local rows, hdr = cells(runs, cols)
  local al = {}
  for j, c in ipairs(cols) do
    al[j] = c[3] == "r" and "---:" or ":---"
  end
  local out = { "| " .. table.concat(hdr, " | ") .. " |", "| " .. table.concat(al, " | ") .. " |" }
  for _, row in ipairs(rows) do
    for j, v in ipairs(row) do row[j] = v:gsub("|", "\\|") end
    out[#out + 1] = "| " .. table.concat(row, " | ") .. " |"
  end
  return table.concat(out, "\n")
end

local function runs_of(x)
  if x.runs then return x.runs end
  if x.name then return { x } end
  return x
end

-- client_saturation(client [, limit]) -> a warning, or nil when the client
-- (run.client) had room to spare: its threads' CPU over 90 % of the run's
-- wall time, or its event loop late by more than `limit` (default 10 ms)
-- at p99. Then the figures may show the client's limits, not the server's.
-- A load phase under a second says nothing either way (CPU time is counted
-- in scheduler ticks: a run that failed at once can show 300 %), nor do a
-- handful of lag samples.
M.SATURATION_MIN_WALL_S = 1.0
function M.client_saturation(cl, limit)
  if type(cl) ~= "table" then return nil end
  limit = limit or cl.lag_threshold_s or 0.010
  local why, n = {}, cl.threads or 1
  local long_enough = (cl.wall_s or 0) >= M.SATURATION_MIN_WALL_S
  if long_enough and cl.cpu_share and cl.cpu_share > 0.9 then
    why[#why + 1] = string.format("CPU %.0f%% of its %d thread%s", math.min(cl.cpu_share, 1) * 100, n,
      n == 1 and "" or "s")
  end
  if long_enough and cl.loop_lag_p99_s and cl.loop_lag_p99_s > limit and (cl.loop_lag_count or 0) >= 20 then
    why[#why + 1] = string.format("event-loop lag p99 %.1f ms > %.1f ms", cl.loop_lag_p99_s * 1000,
      limit * 1000)
  end
  if #why == 0 then return nil end
  return "client saturated (" .. table.concat(why, ", ") .. "): these figures may show the "
    .. "client's limits, not the server's; use --threads, shards (--shard) or a bigger client"
end

-- read_lag_note(client) -> a note when the client read its sockets late
-- (read lag p99 over READ_LAG_NOTE_S), else nil. Read lag is the client's
-- own delay: user-space stamp minus the kernel's receive stamp, per event.
M.READ_LAG_NOTE_S = 0.001
function M.read_lag_note(cl)
  if type(cl) ~= "table" or type(cl.read_lag_p99_s) ~= "number" then return nil end
  if cl.read_lag_p99_s <= M.READ_LAG_NOTE_S then return nil end
  local user = tonumber(cl.stamp_user_count) or 0
  return string.format("the client read late: read lag p99 %.2f ms (p50 %.2f ms, max %.2f ms, %s "
    .. "events): how long bytes waited in the socket after the kernel received them. TTFT and ITL "
    .. "carry the kernel's receive stamps, so this wait is not in them, but events that arrive in "
    .. "one read share its last packet's stamp%s; if the lag nears the gap between tokens, use "
    .. "--threads or a client machine with spare cores", cl.read_lag_p99_s * 1000,
    (cl.read_lag_p50_s or 0) * 1000, (cl.read_lag_max_s or 0) * 1000, count(cl.read_lag_count or 0),
    user > 0 and string.format(", and %s request%s stamped in user space (libcurl: https, HTTP/2, "
      .. "a proxy) include it", count(user), user == 1 and " was" or "s were") or "")
end

local function has_warning(r, text)
  for _, w in ipairs(r.warnings or {}) do
    if w:find(text, 1, true) then return true end
  end
  return false
end

-- The note every report with estimated figures ends with: why they are
-- estimates and how to get exact counts.
M.ESTIMATE_NOTE = "~ estimated: no usage counts came from the server (it sent none, or "
  .. "--no-usage was given), so output tokens are the "
  .. "stream's content events (a server may put several tokens in one event: counts and tok/s "
  .. "then read low) or a non-streamed answer's bytes/4, and input tokens the prompt's "
  .. "characters/4. For exact counts, give the model's tokenizer (--tokenizer PATH|MODEL) or let "
  .. "the server report usage: drop --no-usage (streaming servers send it when asked with "
  .. "stream_options.include_usage; vLLM, SGLang, llama.cpp, Ollama and mlx_lm.server do)."

-- The note after runs whose answers stopped early: what it does to the
-- figures and how to make answers run to the limit.
M.EARLY_NOTE = "early stops: an answer that ends before max_tokens spends proportionally more of "
  .. "its time waiting for the first token, so per-request tok/s reads low and runs with other "
  .. "lengths do not compare; --ignore-eos or --min-tokens (vLLM, SGLang; llama.cpp: ignore_eos) "
  .. "make answers run to the limit."

local function notes(runs)
  local out = {}
  local any_est, any_early = false, false
  for _, r in ipairs(runs) do
    if not r.skipped and not none_ok(r) and (out_estimated(r) or in_estimated(r)) then any_est = true end
    if r.skipped then out[#out + 1] = string.format("  %s: skipped (%s)", r.name, r.skipped) end
    if r.interrupted then out[#out + 1] = string.format("  %s: interrupted; partial results", r.name) end
    -- why requests failed: the first distinct messages the servers sent
    for _, m in ipairs(r.requests and r.requests.error_messages or {}) do
      out[#out + 1] = string.format("  %s: %s failed with %s: %s", r.name,
        m.count == 1 and "1 request" or (count(m.count) .. " requests"), m.error,
        m.message ~= "" and m.message or "(no message)")
    end
    -- answers that ended before max_tokens: tok/s then carries more TTFT
    local rq = r.requests or {}
    if not r.skipped and (rq.stopped_early or 0) > 0 and (rq.ok or 0) > 0 then
      local mean = r.tokens and r.tokens.mean_output
      local maxt = r.config and r.config.max_tokens
      any_early = true
      out[#out + 1] = string.format("  %s: %s of %s requests stopped before max_tokens (finish_reason "
        .. "stop; mean output %s%s tokens)", r.name, count(rq.stopped_early), count(rq.ok),
        mean and est(r, fmt_num(mean)) or "-", maxt and (" of " .. count(maxt)) or "")
    end
    if r.targets and next(r.targets) then
      local t = {}
      for name, e in pairs(r.targets) do
        t[#t + 1] = string.format("%s served %d%s", name, e.ok,
          e.failed_attempts > 0 and string.format(" (%d failed attempts)", e.failed_attempts) or "")
      end
      table.sort(t)
      out[#out + 1] = string.format("  %s: %s", r.name, table.concat(t, "; "))
    end
    if r.failover and r.failover.fault_on_s then
      local f = r.failover
      local function sec(v) return v and string.format("%.2f s", v) or "n/a" end
      out[#out + 1] = string.format("  %s: fault at %s: %d failed, %d failed over, first fallback "
        .. "success after %s, fallback E2E penalty %s", r.name, sec(f.fault_on_s), f.failed_in_window,
        f.failed_over, sec(f.time_to_failover_s), sec(f.fallback_penalty_s))
    end
    if r.cooldown then
      out[#out + 1] = string.format("  %s: %d request(s) still in flight at the end finished apart "
        .. "(cool-down, not in the metrics)", r.name, r.cooldown.requests)
    end
    if r.warnings then
      for _, w in ipairs(r.warnings) do
        -- a saturation warning a file carries is judged again (older files
        -- had it on runs that failed at once)
        if not w:find("client saturated", 1, true) or M.client_saturation(r.client) then
          out[#out + 1] = string.format("  %s: %s", r.name, w)
        end
      end
    end
    -- files written before the check, or merged ones, carry only the figures
    local sat = not has_warning(r, "client saturated") and M.client_saturation(r.client)
    if sat then out[#out + 1] = string.format("  %s: %s", r.name, sat) end
    local rl = M.read_lag_note(r.client)
    if rl then out[#out + 1] = string.format("  %s: %s", r.name, rl) end
    for _, l in ipairs(server.notes(r)) do out[#out + 1] = l end
  end
  for _, l in ipairs(require("mlxbench.report.traffic").notes(runs)) do out[#out + 1] = l end
  if any_early then out[#out + 1] = "  " .. M.EARLY_NOTE end
  if any_est then out[#out + 1] = "  " .. M.ESTIMATE_NOTE end
  return out
end
-- notes(runs) -> lines (skips, warnings, failover figures...): also the HTML report's
M.notes = notes

-- sections(runs) -> {title, columns[, rows]} of the report, in order:
-- throughput, tokens, latency, the open-loop table when a run is open
-- loop, then those of realistic traffic (mlxbench.report.traffic: the
-- prompt cache, reasoning, conversations, model mixes) where runs have them
local function sections(runs)
  local out = { { "Throughput (tok/s per request unless noted)", THROUGHPUT }, { "Tokens", TOKENS },
                { "Latency", LATENCY } }
  for _, r in ipairs(runs) do
    if is_open_run(r) and not r.skipped then
      out[#out + 1] = { "Open loop (latency from the intended send time)", OPEN }
      break
    end
  end
  -- the server's side, the TTFT split, cost and energy (mlxbench.report.server)
  for _, sec in ipairs(server.sections(runs)) do out[#out + 1] = sec end
  for _, sec in ipairs(require("mlxbench.report.traffic").sections(runs)) do out[#out + 1] = sec end
  return out
end

-- the runs a section shows (the server's sections: those with its data)
local function section_runs(sec, runs)
  if sec[3] then return sec[3] end   -- a section's own rows (mlxbench.report.traffic)
  return sec.only and server.runs_for(sec.only, runs) or runs
end

-- wrap(line, width) -> the line folded at spaces to `width` columns, the
-- continuation lines indented under the note's text
local function wrap(line, width)
  if #line <= width then return line end
  local indent = string.rep(" ", #(line:match("^%s*")) + 2)
  local out, cur = {}, ""
  for word in line:gmatch("%S+") do
    local lead = (#out == 0 and cur == "") and line:match("^%s*") or ""
    if cur ~= "" and #cur + 1 + #word > width then
      out[#out + 1] = cur
      cur = indent .. word
    else
      cur = cur == "" and (lead .. word) or (cur .. " " .. word)
    end
  end
  out[#out + 1] = cur
  return table.concat(out, "\n")
end
M.WIDTH = 120

-- table(doc|runs) -> the terminal report
function M.table(x)
  local runs = runs_of(x)
  if #runs == 0 then return "(no runs)\n" end
  local out = {}
  for i, sec in ipairs(sections(runs)) do
    if i > 1 then out[#out + 1] = "" end
    out[#out + 1] = sec[1]
    out[#out + 1] = text_table(section_runs(sec, runs), sec[2])
  end
  local n = notes(runs)
  if #n > 0 then
    out[#out + 1] = ""
    out[#out + 1] = "Notes:"
    for _, l in ipairs(n) do out[#out + 1] = wrap(l, M.WIDTH) end
  end
  return table.concat(out, "\n") .. "\n"
end

-- markdown(doc|runs) -> Markdown tables, one row per run
function M.markdown(x)
  local runs = runs_of(x)
  local out = {}
  for i, sec in ipairs(sections(runs)) do
    if i > 1 then out[#out + 1] = "" end
    out[#out + 1] = "### " .. sec[1]
    out[#out + 1] = ""
    out[#out + 1] = md_table(section_runs(sec, runs), sec[2])
  end
  local n = notes(runs)
  if #n > 0 then
    out[#out + 1] = ""
    for _, l in ipairs(n) do out[#out + 1] = "-" .. l:gsub("^%s+", " ") end
  end
  return table.concat(out, "\n") .. "\n"
end

local function csv_cell(v)
  if v == nil then return "" end
  if type(v) == "boolean" then return v and "true" or "false" end
  if type(v) == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    return string.format("%.9g", v)
  end
  local s = tostring(v)
  if s:find('[,"\n\r]') then s = '"' .. s:gsub('"', '""') .. '"' end
  return s
end

local CSV_RUN = { "name", "model", "backend", "url", "requests_total", "requests_ok",
                  "requests_failed", "output_tokens", "input_tokens", "duration_s",
                  "output_tok_s", "requests_s", "goodput_s", "avg_tok_s", "p50_tok_s", "p95_tok_s",
                  "token_source", "prompt_token_source", "tokens_estimated", "stopped_early",
                  "mean_output_tokens", "requests_cancelled", "cached_tokens", "cache_hit_ratio",
                  "reasoning_tokens" }
local CSV_METRICS = { "ttft_s", "itl_s", "tpot_s", "e2e_s", "latency_s", "queue_s" }

-- csv(doc|runs) -> one row per run
function M.csv(x)
  local hdr = {}
  for _, k in ipairs(CSV_RUN) do hdr[#hdr + 1] = k end
  for _, m in ipairs(CSV_METRICS) do
    for _, q in ipairs{ "p50", "p95", "p99" } do hdr[#hdr + 1] = m .. "_" .. q end
  end
  local out = { table.concat(hdr, ",") }
  for _, r in ipairs(runs_of(x)) do
    local rq, tk, th, sm = r.requests or {}, r.tokens or {}, r.throughput or {}, r.summary or {}
    local row = { r.name, r.model, r.backend, r.target and r.target.url, rq.total, rq.ok,
                  rq.failed, tk.output, tk.input, r.duration_s, th.output_tok_s, th.requests_s,
                  th.goodput_s, sm.avg_tok_s, sm.p50_tok_s, sm.p95_tok_s, tk.token_source,
                  tk.prompt_token_source, tk.estimated, rq.stopped_early, tk.mean_output, rq.cancelled,
                  tk.cached, tk.cache_hit_ratio, tk.reasoning }
    for _, m in ipairs(CSV_METRICS) do
      for _, q in ipairs{ "p50", "p95", "p99" } do row[#row + 1] = metric(r, m, q) end
    end
    local cellsv = {}
    for i = 1, #hdr do cellsv[i] = csv_cell(row[i]) end
    out[#out + 1] = table.concat(cellsv, ",")
  end
  return table.concat(out, "\n") .. "\n"
end

local CSV_REQ = { "i", "ok", "status", "error_kind", "error_message", "target", "ttfb_s",
                  "ttft_s", "e2e_s", "tpot_s", "output_tokens", "input_tokens", "token_source",
                  "prompt_token_source", "finish_reason", "max_tokens", "scheduled_s", "start_s",
                  "session", "turn", "model", "prefix", "cached_tokens", "ttfr_s", "ttfa_s",
                  "reasoning_tokens", "cancelled" }

-- csv_requests(doc|runs) -> one row per request, with its run's name
function M.csv_requests(x)
  local out = { "run," .. table.concat(CSV_REQ, ",") }
  for _, r in ipairs(runs_of(x)) do
    for _, q in ipairs(r.per_request or {}) do
      local row = { csv_cell(r.name) }
      for _, k in ipairs(CSV_REQ) do
        local v
        if k == "error_kind" then v = q.error and q.error.kind
        elseif k == "error_message" then v = q.error and q.error.message
        else v = q[k] end
        row[#row + 1] = csv_cell(v)
      end
      out[#out + 1] = table.concat(row, ",")
    end
  end
  return table.concat(out, "\n") .. "\n"
end

-- sweep_table(runs, key) -> per-request and aggregate tok/s by the swept
-- option, with the aggregate speed-up over the first step (batching gain).
function M.sweep_table(runs, key, markdown)
  local base
  local cols = {
    { key, function(r) return tostring(r.sweep and r.sweep[key] or r.config and r.config[key]) end, "r" },
    { "per-req tok/s", function(r) return fmt_num(r.summary.avg_tok_s) end, "r" },
    { "aggregate tok/s", function(r) return fmt_num(r.throughput.output_tok_s) end, "r" },
    { "speed-up", function(r)
        base = base or r.throughput.output_tok_s
        return base and base > 0 and string.format("%.2fx", r.throughput.output_tok_s / base) or "-"
      end, "r" },
    { "TTFT p50", function(r) return metric(r, "ttft_s", "p50") end, "r", "time" },
    { "E2E p95", function(r) return metric(r, "e2e_s", "p95") end, "r", "time" },
  }
  local ok = {}
  for _, r in ipairs(runs) do if not r.skipped then ok[#ok + 1] = r end end
  return (markdown and md_table or text_table)(ok, cols) .. "\n"
end

-- format(doc, fmt) -> text in table | md | csv | csv-requests | json
function M.format(doc, fmt)
  fmt = fmt or "table"
  if fmt == "table" then return M.table(doc) end
  if fmt == "md" or fmt == "markdown" then return M.markdown(doc) end
  if fmt == "csv" then return M.csv(doc) end
  if fmt == "csv-requests" then return M.csv_requests(doc) end
  if fmt == "json" then return require("mlxbench.results").encode(doc) end
  error("report: unknown format '" .. tostring(fmt) .. "' (table, md, csv, csv-requests, json)", 2)
end

return M
