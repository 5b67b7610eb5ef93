-- suite.lua: the full routing matrix of an MLX inference manager.
--
--   mlxbench scripts/suite.lua --mock            against the embedded emulator
--   mlxbench scripts/suite.lua --url http://localhost:10242 [--models S,M,L]
--   mlxbench suite [--url URL] [--models S,M,L] [--fallback-url URL] [-n N]
--                  [-o FILE.json] [--html FILE.html] [--mock]
--
-- 1. the three model tiers on the local server, streaming and not (every
--    row rotates over the seed's three prompts);
-- 2. the OpenAI and Anthropic clouds (skipped, with the reason, without keys);
-- 3. a concurrency sweep 1/2/4/8: per-request vs aggregate tok/s (batching);
-- 4. failover: the primary backend starts failing mid-run and a fallback
--    serves; the row says which backend served which requests.
--
-- With --prices (or --price) and --watts / --power-cmd, every row has its
-- cost: the cloud rows at their API price, the local rows in electricity
-- (and at a price of your own, if the prices file names the local models):
-- the report's "Cost and energy" table puts local and cloud side by side.
-- The local server's /metrics (when it has one) and process (--server-pid)
-- are on the local rows' timelines.
--
-- Against a server of the user's, the tiers are the models it serves: give
-- them with --models, or the suite reads /v1/models and stops before
-- running when the seed's three mlx-community names are not there. The
-- failover row needs a second server (--fallback-url): the primary is put
-- behind the fault proxy, which starts refusing connections a third of the
-- way in. The suite exits 1 when a row it ran had no successful request.
local mb = require "mlxbench"
local args = require "mlxbench.cli.args"
local results = require "mlxbench.results"
local report = require "mlxbench.report"
local target_mod = require "mlxbench.target"
local progress = require "mlxbench.progress"
local cjson = require "cjson"

local SPEC = {
  url = { arg = "URL", help = "local server (default http://localhost:10242)" },
  models = { arg = "S,M,L", help = "the small, medium and large models the server serves "
                                   .. "(default: the seed's mlx-community names)" },
  ["fallback-url"] = { arg = "URL", help = "a second server for the failover row (serving the small model)" },
  runs = { short = "n", arg = "N", int = { 1, 100000 }, help = "requests per row (default 5; 3 with --mock)" },
  ["max-tokens"] = { arg = "N", int = { 1, 10000000 }, help = "max output tokens (default 256; 32 with --mock)" },
  ["ignore-eos"] = { help = "answers run to max tokens (vLLM, SGLang, llama.cpp, the emulator)" },
  output = { short = "o", arg = "FILE", help = "results file (default results.json)" },
  html = { arg = "FILE", help = "also write the HTML report (charts) to FILE" },
  mock = { help = "run everything against the embedded emulator (not with --url)" },
  format = { arg = "FMT", help = "table|md|csv|json (default table)" },
  quiet = { short = "q", help = "no progress lines" },
  progress = { arg = "MODE", help = "auto|plain|none (default auto)" },
  grace = { arg = "S", num = { 0, 3600 }, unit = "seconds",
            help = "on Ctrl-C/SIGTERM, seconds in-flight requests get before they are aborted (default 5)" },
  price = { arg = "IN/OUT[/CACHED]", help = "USD per 1M tokens for every row" },
  prices = { arg = "FILE", help = "USD per 1M tokens per model (JSON or CSV): cloud rows at their price" },
  watts = { arg = "W", num = { 0, 1e6, gt = true }, help = "the local machine's power: local rows' joules per token" },
  ["power-cmd"] = { arg = "CMD", help = "a command printing the local machine's watts, sampled during local rows" },
  ["kwh-price"] = { arg = "USD", num = { 0, 1000 }, help = "electricity per kWh: local rows' $ of energy" },
  ["server-pid"] = { arg = "PID|auto", help = "sample the local server's process on the local rows" },
  metrics = { help = "scrape the local server's /metrics when it has one (default); --no-metrics to skip" },
  help = { short = "h", help = "show this help" },
}
local ORDER = { "url", "models", "fallback-url", "runs", "max-tokens", "ignore-eos", "price", "prices",
                "watts", "power-cmd", "kwh-price", "server-pid", "metrics", "output", "html",
                "mock", "format", "progress", "grace", "quiet", "help" }

local cmd = args.command{ name = "mlxbench suite", synopsis = "[options]", spec = SPEC, order = ORDER,
                          exit = true }
local o, pos = cmd:parse({ ... })
if #pos > 0 then cmd:die("unexpected argument '" .. pos[1] .. "'", true) end
if o.mock and o.url then cmd:die("--mock runs against the embedded emulator; --url names another server: give one of them") end
for _, k in ipairs{ "url", "fallback-url" } do
  if o[k] and not o[k]:match("^https?://[^/]") then
    cmd:die(string.format("--%s: '%s' is not an http(s) URL%s", k, o[k],
      o[k]:match("^%a[%w+.-]*://") and "" or " (did you mean http://" .. o[k] .. " ?)"))
  end
end
local fmt = o.format or "table"
if not ({ table = 1, md = 1, csv = 1, json = 1 })[fmt] then cmd:die("--format must be table, md, csv or json") end
if o.progress and not ({ auto = 1, plain = 1, none = 1 })[o.progress] then
  cmd:die("--progress must be auto, plain or none")
end
-- The seed's defaults against a real server; smaller ones against the
-- emulator so the whole matrix runs in under a minute.
local n = o.runs or (o.mock and 3 or 5)
local max_tokens = o["max-tokens"] or (o.mock and 32 or 256)
local ignore_eos = o["ignore-eos"] or nil
local out_file = o.output or "results.json"
-- what every row is priced at, what the local rows' energy is
local cost = require "mlxbench.cost"
local priced = {}
if o.price and o.prices then cmd:die("give --price or --prices, not both") end
if o.price then
  local p, perr = cost.parse_price(o.price)
  if not p then cmd:die(perr) end
  priced.price = p
end
if o.prices then
  local p, perr = cost.load_prices(o.prices)
  if not p then cmd:die(perr) end
  priced.prices = p
end
if o.watts and o["power-cmd"] then cmd:die("give --watts or --power-cmd, not both") end
if o["kwh-price"] and not (o.watts or o["power-cmd"]) then
  cmd:die("--kwh-price needs the machine's power: --watts W or --power-cmd CMD")
end
if o.grace then require("mlxbench.interrupt").set_grace(o.grace) end
progress.set(o.quiet and "none" or o.progress or "auto")
local function say(...) progress.say(string.format(...)) end

-- The tiers: --models, or the seed's names
local tiers = { small = target_mod.tiers.small, medium = target_mod.tiers.medium, large = target_mod.tiers.large }
if o.models then
  local list = {}
  for m in o.models:gmatch("[^,]+") do list[#list + 1] = m:match("^%s*(.-)%s*$") end
  if #list ~= 3 or list[1] == "" or list[2] == "" or list[3] == "" then
    cmd:die("--models wants three names, small,medium,large (one may repeat), got '" .. o.models .. "'")
  end
  tiers.small, tiers.medium, tiers.large = list[1], list[2], list[3]
end

-- served_models(url) -> list of the ids the server lists | nil, message
local function served_models(url)
  local ok, r = pcall(mb.http.request, { url = url:gsub("/+$", ""):gsub("/v1$", "") .. "/v1/models",
                                         timeout = 10 })
  if not ok then return nil, tostring(r) end
  if not r.ok then return nil, (r.error and r.error.message) or ("HTTP " .. tostring(r.status)) end
  local jok, doc = pcall(cjson.decode, r.body or "")
  if not jok or type(doc) ~= "table" or type(doc.data) ~= "table" then
    return nil, "its /v1/models answer is not an OpenAI model list"
  end
  local names = {}
  for _, m in ipairs(doc.data) do
    if type(m) == "table" and type(m.id) == "string" then names[#names + 1] = m.id end
  end
  return names
end

local url = o.url or target_mod.DEFAULT_URL
if not o.mock and not o.models then
  -- a server of the user's: are the seed's tiers there? If not, stop
  -- before running anything, with what it serves and the flag to use
  local names, err = served_models(url)
  if not names then
    cmd:die(string.format("cannot list the models of %s (%s): is the server up? With --models S,M,L "
      .. "the suite runs without asking", target_mod.redact_url(url), err))
  end
  local have, missing = {}, {}
  for _, m in ipairs(names) do have[m] = true end
  for _, t in ipairs{ "small", "medium", "large" } do
    if not have[tiers[t]] then missing[#missing + 1] = tiers[t] end
  end
  if #missing > 0 then
    local shown = {}
    for i = 1, math.min(#names, 20) do shown[i] = names[i] end
    cmd:die(string.format("%s does not serve %s.\n  It serves: %s%s\n  Give the tiers with "
      .. "--models SMALL,MEDIUM,LARGE, e.g. --models %s", target_mod.redact_url(url),
      table.concat(missing, ", "), #names > 0 and table.concat(shown, ", ") or "(no model)",
      #names > 20 and string.format(" and %d more", #names - 20) or "",
      #names > 0 and table.concat({ names[1], names[math.min(2, #names)], names[math.min(3, #names)] }, ",")
        or "a,b,c"))
  end
end

-- The servers: the user's, or emulated ones in this process.
local local_srv, primary_srv, px
if o.mock then
  local_srv = mb.mock.start{ port = 0, seed = 1, profile = { model_defaults = { timings = true } } }
  url = local_srv.url
end

local local_t = mb.target{ name = o.mock and "local (emulated)" or "local", url = url }
-- the local server's side: its /metrics (the probe's silent part) and process
local local_watch = { watts = o.watts, power_cmd = o["power-cmd"], kwh_price = o["kwh-price"] }
if o.metrics ~= false then local_watch.metrics_url = require("mlxbench.probe").quick(local_t).metrics_url end
if o["server-pid"] then
  local pid, perr = require("mlxbench.observe").resolve_pid(o["server-pid"], url)
  if not pid then cmd:die(perr) end
  local_watch.server_pid = pid
end
local openai_t = mb.target{ name = "openai", url = "https://api.openai.com", api = "openai" }
local anthropic_t = mb.target{ name = "anthropic", url = "https://api.anthropic.com", api = "anthropic" }
say("suite: %s; tiers small=%s, medium=%s, large=%s; %d requests per row, max %d tokens%s",
  target_mod.redact_url(url), tiers.small, tiers.medium, tiers.large, n, max_tokens,
  ignore_eos and " ignoring EOS" or "")

-- Every row rotates over the seed's three prompts: a short question, a
-- one-sentence explanation, a long comparison. Answers differ in length
-- as they do on a real server (some stop before max_tokens: the report
-- counts them), and no row rests on one prompt.
local PROMPTS = { "short", "medium", "long" }

local doc = results.new()
local runs = {}
local function add(run)
  results.add(doc, run)
  runs[#runs + 1] = run
  if progress.active() and not run.skipped then return run end   -- progress said it
  if not o.quiet then
    io.stderr:write(string.format("  %-44s %s\n", run.name, run.skipped and ("skipped: " .. run.skipped)
      or string.format("%d/%d ok, %.1f tok/s", run.requests.ok, run.requests.total, run.summary.avg_tok_s)))
  end
  return run
end

local bench = require "mlxbench.bench"
mb.on_interrupt(require("mlxbench.interrupt").handler(bench.stop))

-- Runs one row unless the suite was interrupted (Ctrl-C, SIGTERM): then the
-- rows not yet started are left out, and what was measured is written.
local told = false
local function row(opts)
  if bench.stopping() then
    if not told and not o.quiet then io.stderr:write(cmd.name, ": interrupted: the remaining rows are not run\n") end
    told = true
    return nil
  end
  opts.ignore_eos = ignore_eos
  opts.price, opts.prices = priced.price, priced.prices
  if opts.target == local_t then
    for k, v in pairs(local_watch) do opts[k] = v end
  end
  return add(mb.bench(opts))
end

-- A row that cannot run says why, in the results and the report.
local function skipped_row(name, model, why, t)
  local c = require("mlxbench.collect").new{ name = name }
  local run = c:finish{ name = name, backend = t.backend, target = t:public(), model = model,
                        config = { max_tokens = max_tokens }, skipped = why }
  return add(setmetatable(run, bench.run_mt))
end

-- 1. Model tiers on the local server. One warm-up request per tier (an MLX
--    manager loads a model on its first request), before the streaming row.
say("tiers on %s", target_mod.redact_url(local_t.url))
for _, tier in ipairs{ "small", "medium", "large" } do
  for _, stream in ipairs{ true, false } do
    row{
      name = string.format("%s %s", tier, stream and "stream" or "no-stream"),
      target = local_t, model = tiers[tier], prompts = PROMPTS, max_tokens = max_tokens,
      stream = stream, requests = n, warmup = stream and 1 or 0, label = tier,
    }
  end
end

-- 2. Cloud APIs: each row needs its key in the environment
say("cloud")
row{ name = "openai gpt-4o-mini stream", target = openai_t, model = "gpt-4o-mini",
    prompts = PROMPTS, max_tokens = max_tokens, stream = true, requests = n }
row{ name = "anthropic claude-3-5-haiku stream", target = anthropic_t,
    model = "claude-3-5-haiku-latest", prompts = PROMPTS, max_tokens = max_tokens,
    stream = true, requests = n }

-- 3. Concurrency sweep on the small tier: does batching raise aggregate tok/s?
say("concurrency sweep")
local sweep = {}
for _, c in ipairs{ 1, 2, 4, 8 } do
  local run = row{
    name = string.format("small stream c=%d", c), target = local_t, model = tiers.small,
    prompts = PROMPTS, max_tokens = max_tokens, stream = true, concurrency = c,
    requests = math.max(n, 2 * c), warmup = 0,
  }
  if run then
    run.sweep = { concurrency = c }
    sweep[#sweep + 1] = run
  end
end

-- 4. Failover: after a third of the requests the primary fails every
--    request; the client fails over to the fallback. With --mock: an
--    emulated primary that answers 503, the local emulator as fallback.
--    Against real servers: the local server behind the fault proxy, which
--    starts refusing connections, and the --fallback-url server.
say("failover")
local total = math.max(6, 2 * n)
local served = 0
local primary, fallback, fault, name
if o.mock then
  primary_srv = mb.mock.start{ port = 0, seed = 2 }   -- the backend that will fail
  primary = mb.target{ name = "primary", url = primary_srv.url }
  fallback, name = local_t, "failover primary->local"
  fault = function()
    primary_srv:set_faults{ error_rate = 1.0, status = 503 }
    mb.mark("fault on: primary returns 503")
  end
elseif o["fallback-url"] then
  px = mb.proxy.start{ listen = "127.0.0.1:0", upstream = url }
  primary = mb.target{ name = "local", url = px.url }
  fallback = mb.target{ name = "fallback", url = o["fallback-url"] }
  name = "failover local->fallback"
  fault = function()
    px:set_faults{ refuse = "reset" }
    mb.mark("fault on: local refuses connections (fault proxy)")
  end
end
if primary then
  row{
    name = name, target = primary, fallback = fallback, model = tiers.small,
    prompts = PROMPTS, max_tokens = max_tokens, stream = true, requests = total, warmup = 0,
    on_result = function()
      served = served + 1
      if served == total // 3 then fault() end
    end,
  }
elseif not bench.stopping() then
  skipped_row("failover local->fallback", tiers.small, "needs a second server: give --fallback-url URL "
    .. "(it must serve " .. tiers.small .. ")", local_t)
end

-- the client's own floor beside the TTFT split of the rows that have one
local floor
for _, r in ipairs(runs) do
  if r.ttft_split then
    floor = floor or require("mlxbench.floor").ttft()
    r.ttft_split.client_floor = floor
  end
end

if px then px:stop() end
if primary_srv then primary_srv:stop() end
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
io.stdout:flush()
if not ok then cmd:die(tostring(err)) end
if o.html then
  local hok, herr = require("mlxbench.report.html").write(doc, o.html)
  if not hok then cmd:die(tostring(herr)) end
  if fmt == "table" then io.write("report: ", o.html, "\n") end
end
if bench.stopping() then os.exit(130) end
-- a row that ran and got nothing through is a failed suite
local dead = {}
for _, r in ipairs(runs) do
  if not r.skipped and (r.requests.total or 0) > 0 and (r.requests.ok or 0) == 0 then
    local m = r.requests.error_messages and r.requests.error_messages[1]
    dead[#dead + 1] = string.format("%s (%s)", r.name, m and (m.error .. ": " .. m.message) or "no request succeeded")
  end
end
if #dead > 0 then
  io.stdout:flush()
  io.stderr:write(cmd.name, ": ", #dead, " row(s) had no successful request:\n")
  for _, d in ipairs(dead) do io.stderr:write("  ", d, "\n") end
  os.exit(1)
end
