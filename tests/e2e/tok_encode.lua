-- tok_encode.lua: mlxbench's side of tests/e2e/test_tokenizer_oracle.py
-- (what tests/node/tok_oracle.mjs writes, from mlxbench.tokenizer).
--   mlxbench tests/e2e/tok_encode.lua hf|tiktoken TOKENIZER CORPUS.jsonl OUT.jsonl
local cjson = require "cjson"
local tokenizer = require "mlxbench.tokenizer"

local kind, file, corpus, out_path = ...
local tok = assert(tokenizer.load(file))
local out = assert(io.open(out_path, "w"))
local special, skip = { special = true }, { skip_special = true }
for line in io.lines(corpus) do
  if line ~= "" then
    local text = cjson.decode(line)
    local a, b = tok:encode(text, special), tok:encode(text)
    -- (an empty list comes out as {}: the comparison reads it as [])
    local r = { a = a, b = b, d = tok:decode(a), s = tok:decode(b) }
    if kind == "hf" then r.k = tok:decode(a, skip) end
    out:write(cjson.encode(r), "\n")
  end
end
out:close()
