-- mlxbench.report: the default tables (issue 14 items 5, 6, 11, 17): req/s,
-- TPOT and input tokens are in them, a time group shares one unit, the
-- default table fits 120 columns, figures from estimated token counts
-- carry "~" with one note, a run with no success shows "-" and why it
-- failed, early stops are counted.
local T = require "harness"
local report = require "mlxbench.report"
local collect = require "mlxbench.collect"

-- a run made by the collector from synthetic requests
local function make(name, reqs, fields)
  local c = collect.new{ name = name }
  c.t0 = 0
  for i, r in ipairs(reqs) do
    r.i = r.i or i
    r.start_s = r.start_s or (i - 1) * 0.1
    r.end_s = r.end_s or (r.start_s + (r.e2e_s or 1))
    c:add(r)
  end
  local f = { backend = "local", model = "mlx-community/Llama-3.2-3B-Instruct-4bit",
              config = { max_tokens = 64, concurrency = 2, load = "closed" } }
  for k, v in pairs(fields or {}) do f[k] = v end
  return c:finish(f)
end

local function ok_req(tokens, source, finish, extra)
  local r = { ok = true, status = 200, ttft_s = 0.05, e2e_s = 1.0, tpot_s = 0.01, output_tokens = tokens,
              input_tokens = 10, token_source = source or "usage", prompt_token_source = source == "usage" and "usage"
              or "chars/4", finish_reason = finish or "length", max_tokens = 64, req_tok_s = tokens / 1.0 }
  for k, v in pairs(extra or {}) do r[k] = v end
  return r
end

local function section(text, title)
  local a = text:find(title .. "\n", 1, true)
  local rest = text:sub(a + #title + 1)
  return rest:sub(1, (rest:find("\n\n", 1, true) or #rest + 1) - 1)
end

T.test("the default tables: req/s, TPOT, input tokens; 120 columns; short names", function()
  local run = make("c=2", { ok_req(64, "usage"), ok_req(64, "usage") })
  local text = report.table{ runs = { run } }
  for l in text:gmatch("[^\n]+") do T.ok(#l <= 120, "too wide: " .. l) end
  T.ok(section(text, "Throughput (tok/s per request unless noted)"):find("req/s", 1, true))
  T.ok(section(text, "Tokens"):find("In tok", 1, true))
  T.ok(section(text, "Latency"):find("TPOT p50", 1, true))
  T.ok(not text:find("~", 1, true), "exact counts: no mark")
end)

T.test("a time group shares one unit", function()
  -- TTFT p50 0.5 s but p99 12 s: both in s (each column alone would pick ms and s)
  local reqs = {}
  for i = 1, 100 do reqs[i] = ok_req(64, "usage", nil, { ttft_s = i < 99 and 0.5 or 12 }) end
  local text = report.table{ runs = { make("c=2", reqs) } }
  local hdr = section(text, "Latency"):match("^[^\n]+")
  T.ok(hdr:find("TTFT p50 s +p95 s +p99 s"), hdr)
end)

T.test("estimated counts: ~ on every figure built from them, one note", function()
  local est = make("est", { ok_req(10, "events", "stop"), ok_req(12, "events", "stop") })
  local exact = make("exact", { ok_req(64, "usage"), ok_req(64, "usage") })
  T.eq(est.tokens.token_source, "events")
  T.eq(est.tokens.prompt_token_source, "chars/4")
  T.eq(est.tokens.estimated, true)
  T.eq(exact.tokens.estimated, false)
  local text = report.table{ runs = { est, exact } }
  local thr = section(text, "Throughput (tok/s per request unless noted)")
  local est_row = thr:match("\nest [^\n]+")
  local _, marks = est_row:gsub("~", "")
  T.eq(marks, 4, est_row)
  T.ok(not thr:match("\nexact [^\n]+"):find("~", 1, true))
  local tok = section(text, "Tokens")
  T.ok(tok:match("\nest +~20 +~22 +~11%.0 +64 +2/2 +events ~, input chars/4 ~"), tok)
  for l in text:gmatch("[^\n]+") do T.ok(#l <= 120, "too wide: " .. l) end
  local _, notes = text:gsub("~ estimated:", "")
  T.eq(notes, 1, "one note")
  T.ok(text:find("stream_options.include_usage", 1, true))
  -- mixed sources: the counts per source, "mixed"
  local mixed = make("mix", { ok_req(10, "events"), ok_req(64, "usage") })
  T.eq(mixed.tokens.token_source, "mixed")
  T.eq(mixed.tokens.source.events, 1) T.eq(mixed.tokens.source.usage, 1)
  T.eq(mixed.tokens.estimated, true)
  -- Markdown too
  local md = report.markdown{ runs = { est } }
  T.ok(md:find("| ~20 |", 1, true) and md:find("~ estimated", 1, true), md)
end)

T.test("a run where nothing succeeded: '-' throughput, the reason, no saturation", function()
  local fail = { ok = false, status = 404, error = { kind = "http", message = "The model `x` does not exist." },
                 e2e_s = 0.002 }
  local run = make("c=1", { fail, { ok = false, status = 404, error = fail.error, e2e_s = 0.002 } })
  run.client = { threads = 1, wall_s = 0.004, cpu_s = 0.014, cpu_share = 3.5 }
  local text = report.table{ runs = { run } }
  local row = section(text, "Throughput (tok/s per request unless noted)"):match("\nc=1 [^\n]+")
  T.ok(row:match("0/2 +%- +%- +%- +%- +%-"), row)
  T.ok(text:find("c=1: 2 requests failed with http_404: The model `x` does not exist.", 1, true), text)
  T.ok(not text:find("saturated", 1, true), text)
  T.eq(#run.requests.error_messages, 1)
  T.eq(run.requests.error_messages[1].count, 2)
end)

T.test("error messages: the first five distinct ones, counted", function()
  local reqs = {}
  for i = 1, 20 do
    reqs[i] = { ok = false, status = 500 + (i % 7), error = { kind = "http", message = "boom " .. (i % 7) } }
  end
  local run = make("c=1", reqs)
  T.eq(#run.requests.error_messages, 5)
  local total = 0
  for _, m in ipairs(run.requests.error_messages) do total = total + m.count end
  T.ok(total >= 5 and total < 20)
end)

T.test("early stops: counted from finish reasons, noted with the mean length", function()
  local run = make("c=2", { ok_req(20, "usage", "stop"), ok_req(64, "usage", "length"), ok_req(30, "usage", "stop"),
                            ok_req(64, "usage", "max_tokens"), ok_req(40, "usage", "end_turn") })
  T.eq(run.requests.stopped_early, 3)
  T.eq(run.requests.finish_reasons.stop, 2)
  T.near(run.tokens.mean_output, (20 + 64 + 30 + 64 + 40) / 5, 1e-9)
  local text = report.table{ runs = { run } }
  local flat = text:gsub("\n%s+", " ")   -- notes fold at 120 columns
  T.ok(flat:find("c=2: 3 of 5 requests stopped before max_tokens (finish_reason stop; mean output 43.6 of 64 tokens)",
    1, true), text)
  T.ok(section(text, "Tokens"):match(" 64 +3/5 +usage"))
  -- no finish reason: an exact count below the max is an early stop
  T.eq(collect.stopped_early{ output_tokens = 5, max_tokens = 8, token_source = "usage" }, true)
  T.eq(collect.stopped_early{ output_tokens = 5, max_tokens = 8, token_source = "events" }, false,
       "events can hide several tokens each: not judged")
end)

T.test("open loop: a section with latency from the intended send", function()
  local reqs = {}
  for i = 1, 4 do reqs[i] = ok_req(64, "usage", nil, { scheduled_s = (i - 1) * 0.5, start_s = (i - 1) * 0.5 + 0.2 }) end
  local run = make("rate=2", reqs, { config = { max_tokens = 64, rate = 2, load = "open" } })
  local text = report.table{ runs = { run } }
  local sec = section(text, "Open loop (latency from the intended send time)")
  T.ok(sec:find("Latency p50", 1, true) and sec:find("Queue p50", 1, true), sec)
  T.ok(sec:match("\nrate=2 +2%.00 "), sec)
  T.ok(not report.table{ runs = { make("c=1", { ok_req(64) }) } }:find("Open loop", 1, true))
end)

T.test("read lag: per-request stamp sources counted, a note only over 1 ms p99", function()
  local run = make("c=2", { ok_req(64, "usage", nil, { stamp_source = "kernel" }),
                            ok_req(64, "usage", nil, { stamp_source = "user" }) })
  T.eq(run.per_request[1].stamp_source, "kernel")
  T.eq(run.per_request[2].stamp_source, "user")
  run.client = { read_lag_p50_s = 0.0002, read_lag_p99_s = 0.0009, read_lag_max_s = 0.004,
                 read_lag_count = 128, stamp_kernel_count = 2, stamp_user_count = 0 }
  T.eq(report.read_lag_note(run.client), nil, "p99 0.9 ms: no note")
  T.ok(not report.table{ runs = { run } }:find("read lag", 1, true))
  run.client.read_lag_p99_s = 0.0031
  local flat = report.table{ runs = { run } }:gsub("\n%s+", " ")
  T.ok(flat:find("c=2: the client read late: read lag p99 3.10 ms (p50 0.20 ms, max 4.00 ms, 128 events)",
    1, true), flat)
  T.ok(not flat:find("stamped in user space", 1, true))
  run.client.stamp_user_count = 3
  T.ok(report.read_lag_note(run.client):find("3 requests were stamped in user space", 1, true))
  T.eq(report.read_lag_note({}), nil, "no kernel stamps: no figures, no note")
  T.eq(report.read_lag_note(nil), nil)
  -- the markdown report carries the same note
  T.ok(report.markdown{ runs = { run } }:find("read lag p99 3.10 ms", 1, true))
end)

return T.run()
