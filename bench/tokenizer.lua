-- bench/tokenizer.lua: mlxbench's side of bench/tokenizer.sh.
--   mlxbench bench/tokenizer.lua load FILE RUNS
--   mlxbench bench/tokenizer.lua encode FILE CORPUS.jsonl RUNS
-- load: prints the milliseconds of one load (a fresh process per call:
-- the process shares a loaded file); encode: MB/s of count() over the
-- whole corpus as one text, then over each text apart, per run.
local cjson = require "cjson"
local time = require "mlxbench.time"
local tokenizer = require "mlxbench.tokenizer"

local mode, file = ...
if mode == "load" then
  local t0 = time.now()
  local tok = assert(tokenizer.load(file))
  print(string.format("%.1f", (time.now() - t0) * 1e3))
  tok:close()
  return
end

local corpus, runs = select(3, ...)
local texts, bytes = {}, 0
for line in io.lines(corpus) do
  if line ~= "" then
    texts[#texts + 1] = cjson.decode(line)
    bytes = bytes + #texts[#texts]
  end
end
local whole = table.concat(texts, "\n")
local tok = assert(tokenizer.load(file))
for _ = 1, tonumber(runs) do
  local t0 = time.now()
  local n = tok:count(whole)
  local t1 = time.now()
  local m = 0
  for i = 1, #texts do m = m + tok:count(texts[i]) end
  local t2 = time.now()
  print(string.format("%.3f %.3f %d %d", #whole / 1e6 / (t1 - t0), bytes / 1e6 / (t2 - t1), n, m))
end
