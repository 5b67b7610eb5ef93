-- suite.lua: the full routing matrix of an MLX inference manager.
--
--   mlxbench scripts/suite.lua --mock            against the embedded emulator
--   mlxbench scripts/suite.lua --url http://localhost:10242
--   mlxbench suite [--url URL] [-n N] [-o FILE.json] [--html FILE.html] [--mock]
--
-- 1. the three model tiers on the local server, streaming and not;
-- 2. the OpenAI and Anthropic clouds (skipped, with the reason, without keys);
-- 3. a concurrency sweep 1/2/4/8: per-request vs aggregate tok/s (batching);
-- 4. failover: the primary backend starts failing mid-run and a fallback
--    serves; what users see is in the row.
local mb = require "mlxbench"
local args = require "mlxbench.cli_args"
local results = require "mlxbench.results"
local report = require "mlxbench.report"
local tiers = require("mlxbench.target").tiers

local SPEC = {
  url = { arg = "URL", help = "local server (default http://localhost:10242)" },
  runs = { short = "n", arg = "N", help = "requests per row (default 5; 3 with --mock)" },
  ["max-tokens"] = { arg = "N", help = "max output tokens (default 256; 32 with --mock)" },
  output = { short = "o", arg = "FILE", help = "results file (default results.json)" },
  html = { arg = "FILE", help = "also write the HTML report (charts) to FILE" },
  mock = { help = "run everything against the embedded emulator" },
  format = { arg = "FMT", help = "table|md|csv|json (default table)" },
  quiet = { short = "q", help = "no progress lines" },
  progress = { arg = "MODE", help = "auto|plain|none (default auto)" },
  grace = { arg = "S", help = "on Ctrl-C/SIGTERM, seconds in-flight requests get before they are aborted (default 5)" },
  help = { short = "h", help = "show this help" },
}
local ORDER = { "url", "runs", "max-tokens", "output", "html", "mock", "format", "progress", "grace", "quiet", "help" }

local o, pos = args.parse({ ... }, SPEC)
if not o or #pos > 0 then
  io.stderr:write("suite: ", o and ("unexpected argument '" .. pos[1] .. "'") or pos, "\n",
    "usage: mlxbench suite [options]\n", args.help(SPEC, ORDER), "\n")
  os.exit(2)
end
if o.help then
  print("usage: mlxbench suite [options]\n" .. args.help(SPEC, ORDER))
  return
end
-- The seed's defaults against a real server; smaller ones against the
-- emulator so the whole matrix runs in under a minute.
local n = args.int(o, "runs", 1) or (o.mock and 3 or 5)
local max_tokens = args.int(o, "max-tokens", 1) or (o.mock and 32 or 256)
local out_file = o.output or "results.json"
local fmt = o.format or "table"
local grace, gerr = args.num(o, "grace", 0)
if gerr then
  io.stderr:write("suite: ", gerr, "\n")
  os.exit(2)
end
if grace then require("mlxbench.interrupt").set_grace(grace) end

local progress = require "mlxbench.progress"
progress.set(o.quiet and "none" or o.progress or "auto")
local function say(...)
  if not o.quiet then io.stderr:write(string.format(...), "\n") end
end

-- The servers: the user's, or emulated ones in this process.
local local_srv, primary_srv
local url = o.url
if o.mock then
  local_srv = mb.mock.start{ port = 0, seed = 1 }
  url = local_srv.url
end
primary_srv = mb.mock.start{ port = 0, seed = 2 }   -- the backend that will fail

local local_t = mb.target{ name = o.mock and "local (emulated)" or "local", url = url }
local openai_t = mb.target{ name = "openai", url = "https://api.openai.com", api = "openai" }
local anthropic_t = mb.target{ name = "anthropic", url = "https://api.anthropic.com", api = "anthropic" }

local doc = results.new()
local runs = {}
local function add(run)
  results.add(doc, run)
  runs[#runs + 1] = run
  if progress.active() and not run.skipped then return run end   -- progress said it
  say("  %-44s %s", run.name, run.skipped and ("skipped: " .. run.skipped)
    or string.format("%d/%d ok, %.1f tok/s", run.requests.ok, run.requests.total, run.summary.avg_tok_s))
  return run
end

local bench = require "mlxbench.bench"
mb.on_interrupt(require("mlxbench.interrupt").handler(bench.stop))

-- Runs one row unless the suite was interrupted (Ctrl-C, SIGTERM): then the
-- rows not yet started are left out, and what was measured is written.
local told = false
local function row(opts)
  if bench.stopping() then
    if not told then say("interrupted: the remaining rows are not run") end
    told = true
    return nil
  end
  return add(mb.bench(opts))
end

-- 1. Model tiers on the local server. One warm-up request per tier (an MLX
--    manager loads a model on its first request), before the streaming row.
say("tiers on %s", local_t.url)
for _, tier in ipairs{ "small", "medium", "large" } do
  for _, stream in ipairs{ true, false } do
    row{
      name = string.format("%s %s", tier, stream and "stream" or "no-stream"),
      target = local_t, model = tiers[tier], prompt = "medium", max_tokens = max_tokens,
      stream = stream, requests = n, warmup = stream and 1 or 0, label = tier,
    }
  end
end

-- 2. Cloud APIs: each row needs its key in the environment
say("cloud")
row{ name = "openai gpt-4o-mini stream", target = openai_t, model = "gpt-4o-mini",
    prompt = "medium", max_tokens = max_tokens, stream = true, requests = n }
row{ name = "anthropic claude-3-5-haiku stream", target = anthropic_t,
    model = "claude-3-5-haiku-latest", prompt = "medium", max_tokens = max_tokens,
    stream = true, requests = n }

-- 3. Concurrency sweep on the small tier: does batching raise aggregate tok/s?
say("concurrency sweep")
local sweep = {}
for _, c in ipairs{ 1, 2, 4, 8 } do
  local run = row{
    name = string.format("small stream c=%d", c), target = local_t, model = tiers.small,
    prompt = "medium", max_tokens = max_tokens, stream = true, concurrency = c,
    requests = math.max(n, 2 * c), warmup = 0,
  }
  if run then
    run.sweep = { concurrency = c }
    sweep[#sweep + 1] = run
  end
end

-- 4. Failover: after a third of the requests the primary refuses every
--    request with 503; the client fails over to the local server.
say("failover")
local primary = mb.target{ name = "primary", url = primary_srv.url }
local total = math.max(6, 2 * n)
local served = 0
row{
  name = "failover primary->local", target = primary, fallback = local_t, model = tiers.small,
  prompt = "medium", max_tokens = max_tokens, stream = true, requests = total, warmup = 0,
  on_result = function()
    served = served + 1
    if served == total // 3 then
      primary_srv:set_faults{ error_rate = 1.0, status = 503 }
      mb.mark("fault on: primary returns 503")
    end
  end,
}

primary_srv:stop()
if local_srv then local_srv:stop() end

-- a results file that cannot be written is an error (exit 2) naming the
-- path; the figures are printed all the same
local ok, err = pcall(results.write, doc, out_file)

if fmt == "table" or not ok then
  io.write(report.table(doc), "\n")
  io.write("Concurrency sweep (small tier, streaming)\n", report.sweep_table(sweep, "concurrency"), "\n")
  if ok then io.write("results: ", out_file, "\n") end
else
  io.write(report.format(doc, fmt))
end
if not ok then
  io.stdout:flush()
  io.stderr:write("suite: ", tostring(err), "\n")
  os.exit(2)
end
if o.html then
  local hok, herr = require("mlxbench.html").write(doc, o.html)
  if not hok then
    io.stderr:write("suite: ", tostring(herr), "\n")
    os.exit(2)
  end
  if fmt == "table" then io.write("report: ", o.html, "\n") end
end
if require("mlxbench.bench").stopping() then os.exit(130) end
