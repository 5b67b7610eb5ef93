-- mlxbench.cli.traffic: the `mlxbench run` options that shape realistic
-- traffic (docs/LOAD.md) -- model mixes, shared prefixes, conversations,
-- trace replay, cancellation -- checked and turned into bench{} options.
-- cli/run.lua merges SPEC into its own and calls options().
local prefix = require "mlxbench.prefix"
local replay = require "mlxbench.replay"
local session = require "mlxbench.session"

local M = {}

local MAX_N = 10000000

M.SPEC = {
  ["model-mix"] = { arg = "MIX", help = "with -m A,B,C: uniform (default), zipf[:S] or weights W1,W2,W3" },
  ["prefix-tokens"] = { arg = "N", int = { 1, MAX_N },
    help = "every prompt starts with a shared system prompt of exactly N tokens (a prefix cache's target)" },
  ["prefix-count"] = { arg = "K", int = { 1, 100000 }, help = "with --prefix-tokens: K distinct prefixes (default 1)" },
  ["prefix-dist"] = { arg = "D", help = "with --prefix-count: round_robin (default) or zipf[:S] over the K prefixes" },
  dataset = { arg = "FILE", help = "conversations: each user a multi-turn chat from FILE (see --dataset-format)" },
  ["dataset-format"] = { arg = "F", help = "conversations (JSONL of turns or messages) | sharegpt (default: by content)" },
  turns = { arg = "N", int = { 1, 10000 }, help = "with --dataset: at most N turns a conversation" },
  ["think-time"] = { arg = "T", help = "with --dataset: seconds between a reply and the next turn: S, S:SD, MIN-MAX, exp:MEAN" },
  sessions = { arg = "N", int = { 1, MAX_N }, help = "with --dataset: conversations to run (instead of -n)" },
  replay = { arg = "FILE", help = "send a trace's requests at its timestamps: Mooncake JSONL, BurstGPT CSV, JSONL" },
  ["replay-speed"] = { arg = "X", num = { 0, 1000000, gt = true }, help = "with --replay: X times as fast (default 1)" },
  ["replay-format"] = { arg = "F", help = "with --replay: auto (default) | mooncake | burstgpt | jsonl" },
  ["cancel-rate"] = { arg = "P", num = { 0, 1 }, help = "cancel this share of requests mid-stream (client closes), 0..1" },
  ["cancel-after"] = { arg = "S|tokens:N", help = "with --cancel-rate: when: S seconds after the send, or after N streamed chunks" },
}
M.ORDER = { "model-mix", "prefix-tokens", "prefix-count", "prefix-dist", "dataset", "dataset-format",
            "turns", "think-time", "sessions", "replay", "replay-speed", "replay-format", "cancel-rate",
            "cancel-after" }

-- models(text, tiers) -> list of model names: -m a,b,c (tier aliases
-- resolved)
function M.models(text, tiers)
  local out = {}
  for m in text:gmatch("[^,]+") do
    m = m:gsub("^%s+", ""):gsub("%s+$", "")
    if m ~= "" then out[#out + 1] = tiers[m] or m end
  end
  return out
end

-- mix(text, n) -> a bench model_mix | nil, message
local function mix(text, n)
  if text:match("^[%d.,%s]+$") then
    local w = {}
    for x in text:gmatch("[^,]+") do w[#w + 1] = tonumber(x) end
    if #w ~= n then return nil, string.format("--model-mix: %d weights for %d models", #w, n) end
    for _, x in ipairs(w) do
      if not x or x <= 0 then return nil, "--model-mix: weights must be numbers > 0" end
    end
    return w
  end
  local d, err = prefix.parse_dist(text)
  if not d then return nil, "--model-mix " .. err end
  return text
end

-- options(o, b) -> info | nil, message: the traffic options of the parsed
-- command line o (numbers range-checked already) into the bench options b
-- (b.model is the list of models; b.prompt / b.synthetic / b.requests
-- set); info has what the banner says of a replay (records, span_s)
function M.options(o, b)
  local info = {}
  local models = b.model
  if o["model-mix"] then
    if #models < 2 then return nil, "--model-mix needs several models: -m A,B[,C...]" end
    local m, err = mix(o["model-mix"], #models)
    if not m then return nil, err end
    b.model_mix = m
  end
  if #models == 1 then b.model = models[1] end
  if o["prefix-tokens"] then
    local d, err = prefix.parse_dist(o["prefix-dist"])
    if not d then return nil, "--prefix-dist " .. err end
    b.prefix = { tokens = o["prefix-tokens"], count = o["prefix-count"] or 1, dist = o["prefix-dist"] }
  elseif o["prefix-count"] or o["prefix-dist"] then
    return nil, "--prefix-count and --prefix-dist need --prefix-tokens"
  end
  if o["cancel-rate"] or o["cancel-after"] then
    if not (o["cancel-rate"] and o["cancel-after"]) then
      return nil, "give --cancel-rate P and --cancel-after S|tokens:N together"
    end
    local after = tonumber(o["cancel-after"]) or o["cancel-after"]
    local c, err = require("mlxbench.traffic").cancel_spec(after)
    if not c then return nil, "--" .. err:gsub("_", "-") end
    b.cancel_rate, b.cancel_after = o["cancel-rate"], after
    if not b.stream then return nil, "--cancel-rate stops streams mid-way: drop --no-stream" end
  end
  local conv = o.dataset
  if conv then
    if o.prompt or o["input-tokens"] or o.replay then
      return nil, "give --dataset (conversations) or --prompt / --input-tokens / --replay, not both"
    end
    if o.runs then return nil, "--dataset runs conversations: count them with --sessions N, not -n" end
    local fmt = o["dataset-format"]
    if fmt and fmt ~= "conversations" and fmt ~= "sharegpt" then
      return nil, "--dataset-format must be conversations or sharegpt"
    end
    if o["think-time"] then
      local t, err = session.parse_think(o["think-time"])
      if not t then return nil, (err:gsub("^think time", "--think-time")) end
      b.think_time = tonumber(o["think-time"]) or o["think-time"]
    end
    local ok, src = pcall(session.open, { path = conv, format = fmt, turns = o.turns })
    if not ok then return nil, "--dataset: " .. tostring(src):gsub("^dataset: ", ""):gsub("^session: ", "") end
    local cok, cerr = pcall(src.check, src, o.sessions and (o.sessions + (b.warmup or 0)) or nil)
    src:close()
    if not cok then return nil, "--dataset: " .. tostring(cerr):gsub("^dataset: ", "") end
    b.conversations = { path = conv, format = fmt, turns = o.turns }
    b.prompt, b.requests = nil, (not o.duration or o.sessions) and (o.sessions or 5) or nil
    b.sessions, b.requests = b.requests, nil
  elseif o["dataset-format"] or o.turns or o["think-time"] or o.sessions then
    return nil, "--dataset-format, --turns, --think-time and --sessions need --dataset"
  end
  if o.replay then
    if o.prompt or o["input-tokens"] then
      return nil, "--replay synthesises each request from the trace: give no --prompt or --input-tokens"
    end
    if o.rate or o.concurrency then
      return nil, "--replay sends at the trace's own times: give no --rate or -c (--replay-speed scales them)"
    end
    local fmt = o["replay-format"]
    if fmt and fmt ~= "auto" and not replay.FORMATS[fmt] then
      return nil, "--replay-format must be auto, mooncake, burstgpt or jsonl"
    end
    local ok, tr = pcall(replay.load, { path = o.replay, format = fmt, speed = o["replay-speed"] })
    if not ok then return nil, "--replay: " .. tostring(tr):gsub("^replay: ", "") end
    b.replay = { path = o.replay, format = fmt, speed = o["replay-speed"] }
    b.prompt, b.concurrency, b.arrival = nil, nil, nil
    b.requests = o.runs
    info.records, info.span_s = o.runs and math.min(o.runs, #tr.records) or #tr.records, tr:span()
  elseif o["replay-speed"] or o["replay-format"] then
    return nil, "--replay-speed and --replay-format need --replay"
  end
  return info
end

return M
