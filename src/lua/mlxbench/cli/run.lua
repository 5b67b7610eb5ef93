-- mlxbench.cli.run: `mlxbench run` -- one ad-hoc benchmark run.
--
-- Every option is checked before the first request (ranges, names, files,
-- the server's shape); a bad one is a one- or two-line error and exit 2.
-- Then a one-line banner says what will run, the run goes, the report is
-- printed (stdout), and a run whose every request failed says why.
local args = require "mlxbench.cli.args"
local bench = require "mlxbench.bench"
local target_mod = require "mlxbench.target"
local results = require "mlxbench.results"
local report = require "mlxbench.report"
local checks = require "mlxbench.checks"
local prompts = require "mlxbench.prompts"
local progress = require "mlxbench.progress"
local traffic_cli = require "mlxbench.cli.traffic"
local cjson = require "cjson"

local M = {}

local MAX_N = 10000000

M.SPEC = {
  model = { short = "m", arg = "MODEL", help = "model name (required); small|medium|large name the seed tiers; A,B,C a mix (--model-mix)" },
  runs = { short = "n", arg = "N", int = { 1, MAX_N }, help = "measured requests (default 5; warm-up not included)" },
  ["max-tokens"] = { arg = "N", int = { 1, MAX_N }, help = "max output tokens per request (default 256)" },
  ["max-completion-tokens"] = { arg = "N", int = { 1, MAX_N },
    help = "as --max-tokens, sent as max_completion_tokens (OpenAI's o-series and gpt-5 need it)" },
  ["min-tokens"] = { arg = "N", int = { 0, MAX_N }, help = "ask for at least N output tokens (vLLM, SGLang min_tokens)" },
  ["ignore-eos"] = { help = "generate up to max tokens whatever the model says (vLLM, SGLang, llama.cpp ignore_eos)" },
  prompt = { arg = "P", help = "short|medium|long|synthetic:N|TEXT|@FILE[.jsonl] (default medium)" },
  tokenizer = { arg = "T", help = "PATH|MODEL|auto|none: the tokenizer for exact counts (default auto: found on this machine)" },
  ["input-tokens"] = { arg = "N[:SD|,MIN-MAX]", help = "random workload: prompts of N tokens (normal with SD, or uniform in MIN-MAX), seeded" },
  ["output-tokens"] = { arg = "N[:SD|,MIN-MAX]", help = "with --input-tokens: max_tokens drawn the same way" },
  warmup = { arg = "N", int = { 0, MAX_N }, help = "warm-up requests, finished before the measured ones (default 1; 0 with --rate)" },
  stream = { help = "stream the response (default; --no-stream to disable)" },
  url = { arg = "URL", help = "server base URL (default " .. target_mod.DEFAULT_URL .. ")" },
  api = { arg = "API", help = "openai|anthropic|completions (default: from URL or model)" },
  header = { arg = "'K: V'", multi = true, help = "an extra request header (repeatable)" },
  ["extra-body"] = { arg = "JSON", help = "a JSON object merged into every request body, e.g. '{\"top_k\":1}'" },
  concurrency = { short = "c", arg = "N", int = { 1, 100000 }, help = "concurrent virtual users (default 1)" },
  duration = { arg = "S", num = { 0, 604800, gt = true }, unit = "seconds",
               help = "run for S seconds instead of -n requests" },
  seed = { arg = "N", int = { 0, 2 ^ 53 }, help = "seed for prompts and the emulator (default 1)" },
  slo = { arg = "LIST", help = "per-request SLO, e.g. ttft=0.5,tpot=0.05,e2e=10[,latency=2][,attainment=0.9]" },
  threshold = { arg = "EXPR", multi = true, help = "fail (exit 1) unless EXPR holds, e.g. 'ttft_s.p95<500ms'" },
  timeout = { arg = "S", num = { 0, 86400, gt = true }, unit = "seconds", help = "per-request timeout in seconds (default "
              .. require("mlxbench._sys").defaults.timeout .. ")" },
  ["api-key-env"] = { arg = "VAR", help = "send the key in $VAR (must be set) to the --url host; by default "
    .. "OPENAI_API_KEY/ANTHROPIC_API_KEY go only to api.openai.com/api.anthropic.com" },
  ["allow-http-key"] = { help = "allow sending the key over plain http:// to a host that is not loopback" },
  insecure = { help = "do not verify the server's TLS certificate (warned, recorded in the results)" },
  cacert = { arg = "FILE", help = "trust the CA certificate(s) in FILE (PEM), e.g. a local server's self-signed one" },
  ["max-request-bytes"] = { arg = "BYTES", int = { 1024, 2 ^ 31 },
    help = "largest request body (and prompt) built (default 16777216)" },
  grace = { arg = "S", num = { 0, 3600 }, unit = "seconds", help = "on Ctrl-C/SIGTERM, seconds in-flight requests get before they are aborted (default 5)" },
  ["max-line"] = { arg = "BYTES", int = { 16, 2 ^ 31 }, help = "longest SSE line accepted (default 1048576); longer: error kind protocol" },
  ["max-body"] = { arg = "BYTES", int = { 1024, 2 ^ 40 }, help = "largest response accepted (default 67108864); larger: error kind protocol" },
  mock = { help = "start the embedded emulator and run against it (not with --url)" },
  ["mock-trace"] = { arg = "FILE", help = "with --mock: write the emulator's ground-truth trace (JSON)" },
  usage = { help = "ask streaming servers for usage (default); --no-usage: count stream events instead (estimates)" },
  output = { short = "o", arg = "FILE", help = "write the results file (JSON)" },
  format = { arg = "FMT", help = "table|md|csv|json (default table)" },
  verbose = { short = "v", help = "one line per request on stderr" },
  quiet = { short = "q", help = "no progress and no banner: stdout has only the report" },
  name = { arg = "NAME", help = "run name in the report (default: the load, e.g. c=4)" },
  rate = { arg = "R", num = { 0, 100000, gt = true }, unit = "requests per second", help = "open-loop arrival rate (req/s)" },
  arrival = { arg = "KIND", help = "poisson|constant|gamma (default poisson)" },
  burstiness = { arg = "K", num = { 0, 1000, gt = true }, help = "gamma shape: 1 Poisson, <1 burstier, >1 smoother" },
  ["max-inflight"] = { arg = "N", int = { 1, 1000000 }, help = "open loop: at most N requests in flight (sends wait, lateness recorded)" },
  threads = { arg = "N", int = { 1, 256 }, help = "engine threads sharing the load (default 1; see docs/SCALING.md)" },
  shard = { arg = "I/N", help = "run shard I of N: its share of users, requests, arrivals (mlxbench merge)" },
  html = { arg = "FILE", help = "write an HTML report" },
  ["metrics-url"] = { arg = "URL", help = "scrape this Prometheus /metrics during the run (default: the target's "
                      .. "/metrics when it has one; --no-metrics: none)" },
  metrics = { help = "scrape the server's /metrics (default when found); --no-metrics to skip" },
  ["metrics-interval"] = { arg = "S", num = { 0.05, 3600 }, unit = "seconds",
                           help = "seconds between scrapes and process samples (default 0.5)" },
  ["metrics-keep"] = { arg = "REGEX", help = "also keep the raw series whose names match (anchored, PCRE)" },
  ["server-pid"] = { arg = "PID|auto", help = "sample this process (auto: the one listening on the target's "
                     .. "loopback port) for CPU %, RSS, threads" },
  price = { arg = "IN/OUT[/CACHED]", help = "USD per 1M input/output (cached input) tokens: $ per run and per 1M "
            .. "output tokens" },
  prices = { arg = "FILE", help = "prices per model (JSON or CSV: model,input,output[,cached_input])" },
  ["power-cmd"] = { arg = "CMD", help = "a shell command printing the machine's watts, sampled during the run "
                    .. "(docs/METRICS.md has recipes)" },
  watts = { arg = "W", num = { 0, 1e6, gt = true }, help = "the machine's power if constant: joules per token" },
  ["kwh-price"] = { arg = "USD", num = { 0, 1000 }, help = "electricity price per kWh: $ of energy per run" },
  calibration = { arg = "FILE", help = "a `mlxbench calibrate -o` file: its TTFT floor beside the TTFT split "
                  .. "(default: measured in 0.3 s when the split exists)" },
  progress = { arg = "MODE", help = "auto (live line on a terminal, a line every 10 s otherwise) | plain | none" },
  help = { short = "h", help = "show this help" },
}
M.ORDER = { "model", "runs", "max-tokens", "max-completion-tokens", "min-tokens", "ignore-eos",
            "prompt", "input-tokens", "output-tokens", "tokenizer", "warmup", "stream", "url", "api", "api-key-env",
            "allow-http-key", "insecure", "cacert", "header", "extra-body",
            "concurrency", "rate", "arrival", "burstiness", "max-inflight", "duration", "seed", "shard",
            "threads" }
-- realistic traffic: model mixes, shared prefixes, conversations, replay,
-- cancellation (mlxbench.cli.traffic)
for k, v in pairs(traffic_cli.SPEC) do M.SPEC[k] = v end
for _, k in ipairs(traffic_cli.ORDER) do M.ORDER[#M.ORDER + 1] = k end
for _, k in ipairs{ "slo", "threshold", "timeout", "grace", "max-line", "max-body", "max-request-bytes", "mock",
                    "mock-trace", "usage", "metrics-url", "metrics", "metrics-interval", "metrics-keep", "server-pid",
                    "price", "prices", "power-cmd", "watts", "kwh-price", "calibration", "output", "html", "format",
                    "progress", "verbose", "quiet", "name", "help" } do
  M.ORDER[#M.ORDER + 1] = k
end

local cmd = args.command{ name = "mlxbench run", synopsis = "-m MODEL [options]", spec = M.SPEC, order = M.ORDER }

-- Prints one line per finished request (stderr) for --verbose.
local function verbose_line(r)
  local ms = function(v) return v and string.format("%.1fms", v * 1000) or "-" end
  io.stderr:write(string.format("[%d] %s %s ttft=%s e2e=%s tokens=%s%s\n", r.i or 0,
    r.ok and "ok" or "FAIL", tostring(r.status), ms(r.ttft_s), ms(r.e2e_s),
    tostring(r.output_tokens or r.tokens_received or 0),
    r.error and (" " .. r.error.kind .. ": " .. tostring(r.error.message)) or
      (r.token_source and (" (" .. r.token_source .. (r.finish_reason and (", " .. r.finish_reason) or "")
        .. ")") or "")))
end

-- check_url(u) -> u | nil, message: a base URL with its scheme
local function check_url(u)
  if u:match("^https?://[^/]") then return u end
  if u:match("^%a[%w+.-]*://") then
    return nil, "--url: '" .. u .. "': only http:// and https:// URLs are supported"
  end
  return nil, "--url: '" .. u .. "' has no scheme; did you mean http://" .. u .. " ?"
end

-- user_error(e) -> the message of an error caused by the input (options,
-- prompt files, the target), without the traceback; nil for a bug
local USER_PREFIXES = { "mlxbench%.bench: ", "prompts: ", "dataset: ", "mlxbench%.target: ",
                        "llm%.request: " }
local function user_error(e)
  if type(e) ~= "string" then return nil end
  local msg = e:gsub("\nstack traceback:.*$", ""):gsub("^%[?[^%s:]*%]?[^%s:]*:%d+: ", "")
  for _, p in ipairs(USER_PREFIXES) do
    if msg:match("^" .. p) then return (msg:gsub("^mlxbench%.bench: ", "")) end
  end
  return nil
end

-- validate_prompt(spec, n) -> nil | message: the prompt resolves, and a
-- data file's first n records (all without n) read as prompts
local function validate_prompt(spec, n)
  local function say(e)
    return "--prompt: " .. ((user_error(e) or tostring(e)):gsub("^prompts: ", ""):gsub("^dataset: ", ""))
  end
  local ok, res = pcall(prompts.resolve, spec)
  if not ok then return say(res) end
  if res.check then
    local cok, cerr = pcall(res.check, res, n)
    res:close()
    if not cok then return say(cerr) end
  end
  return nil
end

-- parse_headers(list) -> {"K: V", ...} | nil, message
local function parse_headers(list)
  local out = {}
  for _, h in ipairs(list or {}) do
    local k, v = h:match("^%s*([!#$%%&'*+%-.^_`|~%w]+)%s*:%s*(.-)%s*$")
    if not k then return nil, "--header: '" .. h .. "' is not 'Name: value'" end
    out[#out + 1] = k .. ": " .. v
  end
  return out
end

-- watch_options(o) -> what watches the server and prices the run, checked
-- | nil, message
local function watch_options(o)
  local cost = require "mlxbench.cost"
  local w = {}
  if o["metrics-url"] then
    if o.metrics == false then return nil, "give --metrics-url or --no-metrics, not both" end
    local u, uerr = check_url(o["metrics-url"])
    if not u then return nil, (uerr:gsub("^%-%-url", "--metrics-url")) end
    w.metrics_url = o["metrics-url"]
  end
  if o["metrics-keep"] then
    local m, merr = require("mlxbench.scrape").matcher(o["metrics-keep"])
    if not m then return nil, merr end
    w.keep = o["metrics-keep"]
  end
  if o.price and o.prices then return nil, "give --price or --prices, not both" end
  if o.price then
    local p, perr = cost.parse_price(o.price)
    if not p then return nil, perr end
    w.price = p
  end
  if o.prices then
    local p, perr = cost.load_prices(o.prices)
    if not p then return nil, perr end
    w.prices = p
  end
  if o.watts and o["power-cmd"] then return nil, "give --watts or --power-cmd, not both" end
  if o["kwh-price"] and not (o.watts or o["power-cmd"]) then
    return nil, "--kwh-price needs the machine's power: --watts W or --power-cmd CMD"
  end
  if o.calibration then
    local doc, cerr = require("mlxbench.results").read_json(o.calibration)
    if not doc then return nil, "--calibration: " .. cerr end
    local r1 = type(doc) == "table" and type(doc.resolution) == "table" and doc.resolution[1]
    if doc.schema ~= "mlxbench.calibrate/1" or type(r1) ~= "table" or type(r1.ttft_error) ~= "table" then
      return nil, "--calibration: " .. o.calibration .. " is not a `mlxbench calibrate -o` file"
    end
    w.calibration = { p50_s = r1.ttft_error.p50_s, p99_s = r1.ttft_error.p99_s, source = o.calibration }
  end
  return w
end

-- options(o) -> the bench options and the run's settings | nil, message.
-- Everything the user gave is checked here, before any request.
local function options(o)
  if not o.model then return nil, "-m MODEL is required" end
  local ok, err = args.check(o, M.SPEC)
  if not ok then return nil, err end
  if o["mock-trace"] and not o.mock then return nil, "--mock-trace needs --mock" end
  if o.mock and o.url then
    return nil, "--mock runs against the embedded emulator; --url names another server: give one of them"
  end
  if o.url then
    local u, uerr = check_url(o.url)
    if not u then return nil, uerr end
  end
  if o.cacert then
    local f = io.open(o.cacert, "rb")
    if not f then return nil, "--cacert: cannot read " .. o.cacert end
    f:close()
  end
  -- the request limit bounds prompt files too: set before they are read
  if o["max-request-bytes"] then require("mlxbench.limits").MAX_REQUEST_BYTES = o["max-request-bytes"] end
  local rate = o.rate
  if rate and o.concurrency then return nil, "give --rate (open loop) or -c (closed loop), not both" end
  if o.arrival and not ({ poisson = 1, constant = 1, gamma = 1 })[o.arrival] then
    return nil, "--arrival must be poisson, constant or gamma"
  end
  if (o.arrival or o.burstiness or o["max-inflight"]) and not rate then
    return nil, "--arrival, --burstiness and --max-inflight need --rate"
  end
  if rate and o.duration and rate * o.duration > MAX_N then
    return nil, string.format("--rate %g for --duration %g is %.0f arrivals; at most %d are scheduled",
      rate, o.duration, rate * o.duration, MAX_N)
  end
  if o.verbose and (o.threads or 1) > 1 then
    return nil, "--verbose prints from the requesting thread: use it with --threads 1"
  end
  if o["max-tokens"] and o["max-completion-tokens"] then
    return nil, "give --max-tokens or --max-completion-tokens, not both"
  end
  local maxt = o["max-completion-tokens"] or o["max-tokens"] or 256
  if o["min-tokens"] and o["min-tokens"] > maxt then
    return nil, string.format("--min-tokens %d is above the max tokens (%d)", o["min-tokens"], maxt)
  end
  local shard
  if o.shard then
    shard, err = require("mlxbench.load").shard(o.shard)
    if not shard then return nil, "--shard: " .. err end
    if not rate and (o.concurrency or 1) < shard.count then
      return nil, string.format("--shard %d/%d: -c %d gives some shards no virtual user "
        .. "(the concurrency is split among the shards)", shard.index, shard.count, o.concurrency or 1)
    end
  end
  local slo
  if o.slo then
    slo, err = args.kv_numbers(o.slo, "--slo")
    if not slo then return nil, err end
    slo, err = checks.check_slo(slo)
    if not slo then return nil, "--" .. err end
  end
  for _, e in ipairs(o.threshold or {}) do
    local th, terr = checks.parse_threshold(e)
    if not th then return nil, "--threshold: " .. terr end
  end
  local fmt = o.format or "table"
  if not ({ table = 1, md = 1, csv = 1, json = 1 })[fmt] then
    return nil, "--format must be table, md, csv or json"
  end
  if o.api and not ({ openai = 1, anthropic = 1, completions = 1 })[o.api] then
    return nil, "--api must be openai, anthropic or completions"
  end
  if o.progress and not ({ auto = 1, plain = 1, none = 1 })[o.progress] then
    return nil, "--progress must be auto, plain or none"
  end
  local headers, herr = parse_headers(o.header)
  if not headers then return nil, herr end
  -- the server's side and the cost (mlxbench.observe, mlxbench.cost)
  local watch, werr = watch_options(o)
  if not watch then return nil, werr end
  local extra
  if o["extra-body"] then
    local jok, v = pcall(cjson.decode, o["extra-body"])
    if not jok or type(v) ~= "table" or (next(v) ~= nil and v[1] ~= nil) then
      return nil, "--extra-body: want a JSON object such as '{\"top_k\": 1}', got '" .. o["extra-body"] .. "'"
    end
    extra = v
  end
  local models = traffic_cli.models(o.model, target_mod.tiers)
  if #models == 0 then return nil, "-m MODEL is required" end
  local model = models[1]
  local api = o.api or target_mod.infer_api(o.url or target_mod.DEFAULT_URL, model)
  local backend = o.mock and "local" or target_mod.backend_of(o.url or target_mod.DEFAULT_URL)
  -- the length controls, where the API has them
  if api == "anthropic" and (o["ignore-eos"] or o["min-tokens"] or o["max-completion-tokens"]) then
    return nil, "--ignore-eos, --min-tokens and --max-completion-tokens are OpenAI-compatible "
      .. "fields; the Anthropic API has none of them"
  end
  if backend == "openai" and (o["ignore-eos"] or o["min-tokens"]) then
    return nil, "--ignore-eos and --min-tokens are read by vLLM, SGLang and llama.cpp; the OpenAI "
      .. "API rejects them (it always stops where the model does)"
  end
  local field = o["max-completion-tokens"] and "max_completion_tokens" or nil
  -- OpenAI's reasoning models refuse max_tokens: spell it their way
  if not field and backend == "openai" and api ~= "completions"
     and (model:match("^o%d") or model:match("^gpt%-5")) then
    field = "max_completion_tokens"
  end
  -- an explicit tokenizer is loaded here: a wrong one is a user error
  -- before anything runs (bench{} takes the loaded one)
  local tok = o.tokenizer
  if tok and tok ~= "auto" and tok ~= "none" then
    local tok_ok, loaded = pcall(require("mlxbench.tokens").resolve, tok, model)
    if not tok_ok then return nil, "--tokenizer: " .. tostring(loaded):gsub("^tokenizer ", "") end
    tok = loaded
  end
  local n = o.runs
  local warm = o.warmup or ((rate or o.replay) and 0 or 1)
  -- a random workload (--input-tokens), or prompts
  local synthetic
  if o["input-tokens"] then
    if o.prompt then return nil, "give --prompt or --input-tokens, not both" end
    local inl, outl
    inl, err = prompts.parse_length(o["input-tokens"], "--input-tokens")
    if not inl then return nil, err end
    if o["output-tokens"] then
      outl, err = prompts.parse_length(o["output-tokens"], "--output-tokens")
      if not outl then return nil, err end
    end
    synthetic = { input = inl, output = outl }
  elseif o["output-tokens"] then
    return nil, "--output-tokens needs --input-tokens"
  elseif not o.dataset and not o.replay then
    local perr = validate_prompt(o.prompt or "medium", (not o.duration or o.runs) and ((n or 5) + warm) or nil)
    if perr then return nil, perr end
  end
  local b = {
    model = models, prompt = (not synthetic) and (o.prompt or "medium") or nil, synthetic = synthetic,
    tokenizer = tok, max_tokens = maxt, max_tokens_field = field,
    min_tokens = o["min-tokens"], ignore_eos = o["ignore-eos"] or nil, extra = extra,
    headers = #headers > 0 and headers or nil,
    stream = o.stream ~= false, requests = (not o.duration or o.runs) and (n or 5) or nil,
    duration = o.duration, warmup = warm, concurrency = (not rate) and (o.concurrency or 1) or nil,
    rate = rate, arrival = o.arrival or (rate and (o.burstiness and "gamma" or "poisson")) or nil,
    burstiness = o.burstiness, max_inflight = o["max-inflight"], seed = o.seed, slo = slo,
    thresholds = o.threshold, timeout = o.timeout, shard = shard, threads = o.threads,
    include_usage = o.usage ~= false, max_line = o["max-line"], max_body = o["max-body"],
    name = o.name, on_result = o.verbose and verbose_line or nil,
    insecure = o.insecure or nil, cacert = o.cacert, max_request_bytes = o["max-request-bytes"],
    metrics_url = watch.metrics_url, metrics_interval = o["metrics-interval"], metrics_keep = watch.keep,
    power_cmd = o["power-cmd"], watts = o.watts, kwh_price = o["kwh-price"], price = watch.price,
    prices = watch.prices,
  }
  local info
  info, err = traffic_cli.options(o, b)
  if not info then return nil, err end
  return b, { api = api, backend = backend, fmt = fmt, replay = info.records and info or nil,
              calibration = watch.calibration }
end

-- banner(b, t) -> the one line that says what is about to run
local function banner(b, t, how)
  local load_text
  if b.replay then
    load_text = string.format("trace replay of %s, %d requests over %.1f s%s", b.replay.path, how.replay.records,
      how.replay.span_s, b.replay.speed and b.replay.speed ~= 1 and string.format(" (x%g)", b.replay.speed) or "")
  elseif b.rate then
    load_text = string.format("open loop, %s arrivals at %g req/s", b.arrival, b.rate)
  else
    load_text = string.format("closed loop, %d user%s", b.concurrency, b.concurrency == 1 and "" or "s")
  end
  load_text = load_text .. (b.requests and not b.replay and string.format(", %d request%s", b.requests,
      b.requests == 1 and "" or "s") or "")
    .. (b.sessions and string.format(", %d conversation%s of %s", b.sessions, b.sessions == 1 and "" or "s",
      b.conversations.path) or "")
    .. (b.duration and string.format(", %g s", b.duration) or "")
    .. (b.warmup > 0 and string.format(" + %d warm-up", b.warmup) or "")
  local tokens = string.format("max %d tokens%s%s%s", b.max_tokens,
    b.min_tokens and string.format(" (min %d)", b.min_tokens) or "",
    b.ignore_eos and " ignoring EOS" or "",
    b.stream and (b.include_usage and ", streamed, usage requested" or ", streamed, counting events")
      or ", not streamed")
  local watch = {}
  if b.metrics_url then watch[#watch + 1] = "metrics " .. target_mod.redact_url(b.metrics_url) end
  if b.server_pid then watch[#watch + 1] = "server pid " .. b.server_pid end
  if b.power_cmd or b.watts then watch[#watch + 1] = b.watts and (b.watts .. " W") or "power sampled" end
  local model = type(b.model) == "table" and table.concat(b.model, ",") or b.model
  return string.format("mlxbench run: %s (%s, %s) model %s; %s; %s%s", target_mod.redact_url(t.url),
    t.api, t.backend, model, load_text, tokens, #watch > 0 and ("; " .. table.concat(watch, ", ")) or "")
end

-- warmup_notices(b, t) -> the hook that reads the first warm-up answer
-- and says, before the measured part, what it means for the figures: the
-- counts will be estimates (no usage, no tokenizer) -- said here instead
-- of before the run, and only when true --, or the server ignored
-- --ignore-eos / --min-tokens.
local STOPPED = { stop = true, end_turn = true, eos = true, eos_token = true, stop_sequence = true }
local function warmup_notices(b, t)
  local seen = false
  return function(r)
    if seen or not r.ok then return end
    seen = true
    local say = function(msg)
      if progress.notices() then io.stderr:write("mlxbench run: ", msg, "\n") end
    end
    local exact = r.token_source == "usage" or r.token_source == "tokenizer"
    if not exact then
      say(string.format("%s sent no usage for the warm-up request and there is no tokenizer for %s: this "
        .. "run's token counts are estimates (~); give --tokenizer PATH|MODEL for exact counts",
        target_mod.redact_url(t.url), type(b.model) == "table" and table.concat(b.model, ",") or b.model))
    end
    local maxt = r.max_tokens or b.max_tokens
    local stopped = r.finish_reason and STOPPED[r.finish_reason] and r.output_tokens and maxt
      and r.output_tokens < maxt
    if stopped and b.ignore_eos then
      say(string.format("the server ignored --ignore-eos: the warm-up answer stopped at %d of %d tokens "
        .. "(finish_reason %s); `mlxbench probe` tells which length controls it honours",
        r.output_tokens, maxt, r.finish_reason))
    elseif stopped and b.min_tokens and r.output_tokens < b.min_tokens then
      say(string.format("the server ignored --min-tokens %d: the warm-up answer stopped at %d tokens",
        b.min_tokens, r.output_tokens))
    end
  end
end

-- served_models(t) -> "a, b, c" from the server's /v1/models, or nil
local function served_models(t)
  local ok, r = pcall(require("mlxbench.http").request, {
    url = t.url:gsub("/v1/?$", "") .. "/v1/models", timeout = 5, headers = t:auth_headers() })
  if not ok or not r or r.status ~= 200 or not r.body then return nil end
  local jok, doc = pcall(cjson.decode, r.body)
  if not jok or type(doc) ~= "table" or type(doc.data) ~= "table" then return nil end
  local names = {}
  for _, m in ipairs(doc.data) do
    if type(m) == "table" and type(m.id) == "string" then names[#names + 1] = m.id end
  end
  return #names > 0 and table.concat(names, ", ") or nil
end

-- why_failed(run, t) -> the lines a run whose every request failed prints
local function why_failed(run, t)
  local kinds = {}
  for k, n in pairs(run.requests.errors or {}) do kinds[#kinds + 1] = k .. "=" .. n end
  table.sort(kinds)
  local out = { string.format("every request failed (%s)", table.concat(kinds, ", ")) }
  for _, m in ipairs(run.requests.error_messages or {}) do
    out[#out + 1] = string.format("  %s: %s", m.error, m.message ~= "" and m.message or "(no message)")
  end
  if (run.requests.errors or {}).http_404 then
    local served = served_models(t)
    if served then
      out[#out + 1] = string.format("  the server serves: %s (give one with -m)", served)
    end
  end
  return out
end

function M.main(...)
  local o, pos = cmd:parse({ ... })
  if not o then return pos end
  if #pos > 0 then return cmd:die("unexpected argument '" .. pos[1] .. "'", true) end
  local b, how = options(o)
  if not b then return cmd:die(how) end
  if o.grace then require("mlxbench.interrupt").set_grace(o.grace) end
  progress.set(o.quiet and "none" or o.progress or "auto")

  local srv
  local url = o.url
  if o.mock then
    -- the emulator reports its own timings (llama.cpp's `timings`), so a
    -- --mock run shows the TTFT split too
    srv = require("mlxbench.mock").start{ port = 0, seed = b.seed or 1,
                                          profile = { model_defaults = { timings = true } } }
    url = srv.url
  end
  local tok, t = pcall(target_mod.new, { url = url, api = o.api,
                                         model = type(b.model) == "table" and b.model[1] or b.model,
                                         name = o.mock and "mock" or nil, api_key_env = o["api-key-env"],
                                         allow_http_key = o["allow-http-key"] })
  if not tok then
    if srv then srv:stop() end
    return cmd:die(user_error(t) or tostring(t))
  end
  b.target = t
  -- the server's side: its process, and its /metrics when it has one (the
  -- silent part of mlxbench probe, once per URL)
  if o["server-pid"] then
    local pid, perr = require("mlxbench.observe").resolve_pid(o["server-pid"], t.url)
    if not pid then
      if srv then srv:stop() end
      return cmd:die(perr)
    end
    b.server_pid = pid
  end
  if o.metrics ~= false and not b.metrics_url then
    b.metrics_url = require("mlxbench.probe").quick(t).metrics_url
  end
  b._on_warmup = warmup_notices(b, t)
  b._defer_token_notice = (b.warmup or 0) > 0 or nil
  progress.say(banner(b, t, how))
  require("mlxbench").on_interrupt(require("mlxbench.interrupt").handler(bench.stop))
  -- a run that cannot start (descriptor limit, bad input found on the way)
  -- says why in one line; anything else is a bug and keeps its traceback
  local bok, run = xpcall(bench.bench, function(e)
    local msg = user_error(e)
    if msg then return { msg = msg } end
    return debug.traceback(e, 2)
  end, b)
  if not bok then
    if srv then srv:stop() end
    if type(run) == "table" then return cmd:die(run.msg) end
    error(run, 0)
  end
  if srv then
    if o["mock-trace"] then
      local trace = srv:trace{ limit = 1000000 }
      local wok, werr = require("mlxbench.json").write_atomic(o["mock-trace"],
        require("mlxbench.json").encode(trace, { indent = "  " }) .. "\n")
      if not wok then io.stderr:write("mlxbench run: ", werr, "\n") end
    end
    srv:stop()
  end
  run.config.mock = o.mock or nil
  -- the client's own floor beside the TTFT split: is the rest the client?
  if run.ttft_split then
    run.ttft_split.client_floor = how.calibration or require("mlxbench.floor").ttft()
  end
  local doc = results.new()
  results.add(doc, run)
  local failures = run.checks and run.checks.failures or {}
  -- a results file that cannot be written is an error (exit 2) naming the
  -- path, but the figures measured are printed first all the same
  local write_err
  if o.output then
    local ok, werr = pcall(results.write, doc, o.output)
    if not ok then write_err = tostring(werr) end
  end
  local fmt = how.fmt
  if run.skipped then io.stderr:write("mlxbench run: skipped: ", run.skipped, "\n") end
  io.stdout:write(report.format(doc, write_err and fmt == "json" and "table" or fmt))
  if o.output and fmt == "table" and not write_err then io.stdout:write("results: ", o.output, "\n") end
  io.stdout:flush()
  if write_err then return cmd:die(write_err) end
  if o.html then
    local hok, herr = require("mlxbench.report.html").write(doc, o.html)
    if not hok then return cmd:die(herr) end
  end
  for _, f in ipairs(failures) do io.stderr:write("FAILED: ", f, "\n") end
  if bench.stopping() then return 130 end
  if run.requests.total > 0 and run.requests.ok == 0 then
    for _, l in ipairs(why_failed(run, t)) do io.stderr:write("mlxbench run: ", l, "\n") end
    return 1
  end
  return #failures > 0 and 1 or 0
end

return M
