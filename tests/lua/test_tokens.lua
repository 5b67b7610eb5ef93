-- test_tokens: the Lua side of exact token counts -- the tokenizer binding,
-- exact prompts, length specs, counts applied to results and aggregated
-- per run (including the exact merge across threads).
local T = require "harness"
local tokenizer = require "mlxbench.tokenizer"
local tokens = require "mlxbench.tokens"
local prompts = require "mlxbench.prompts"
local collect = require "mlxbench.collect"

local SRC = os.getenv("MB_SRC") or "."
local FILE = SRC .. "/tests/fixtures/tok/bl_roberta.json"

T.test("the binding: encode, count, decode, id, vocabulary, identity", function()
  local tok = assert(tokenizer.load(FILE))
  local ids = tok:encode("say hello!")
  T.eq(table.concat(ids, " "), "331 97 121 32 340 32 33")   -- Hugging Face tokenizers' ids
  T.eq(table.concat(tok:encode("say hello!", { special = true }), " "), "468 331 97 121 32 340 32 33 469")
  T.eq(tok:count("say hello!"), 7)
  T.eq(tok:decode(ids), " say hello !")
  T.eq(tok:decode({ 468, 470, 469 }, { skip_special = true }), "")
  T.eq(tok:id("<mask>"), 470)
  T.eq(tok:id("no such token"), nil)
  T.eq(tok:vocab_size(), 474)
  T.eq(#tok:sha256(), 64)
  T.eq(tok:kind(), "tokenizer.json")
  -- the same file loaded again shares the tokenizer, with its own encoder
  local again = assert(tokenizer.load(FILE))
  T.eq(again:path(), tok:path())
  T.eq(again:count("say hello!"), 7)
  tok:close()
  T.eq(again:count("say hello!"), 7)
  T.ok(not pcall(tok.count, tok, "x"), "a closed tokenizer raises")
  local none, err = tokenizer.load(SRC .. "/no/such/tokenizer.json")
  T.eq(none, nil)
  T.ok(err:find("cannot open", 1, true), err)
end)

T.test("exact prompts: real words, exactly n tokens, after a prefix", function()
  local tok = assert(tokenizer.load(FILE))
  for _, n in ipairs{ 1, 2, 3, 17, 100, 513 } do
    local text, got = prompts.exact(tok, n, 5)
    T.eq(got, n)
    T.eq(tok:count(text), n)
    T.ok(text:match("^[%a%s%p]+$"), "words: " .. text:sub(1, 40))
  end
  local pre = "You are a terse assistant."
  local text, got = prompts.exact(tok, 50, 9, pre)
  T.eq(got, 50)
  T.eq(tok:count(text), tok:count(pre) + 50)
  T.eq(text:sub(1, #pre), pre)
  -- deterministic for a seed, different across seeds
  T.eq(prompts.exact(tok, 30, 1), prompts.exact(tok, 30, 1))
  T.ok(prompts.exact(tok, 30, 1) ~= prompts.exact(tok, 30, 2))
  -- resolve: exact with a tokenizer, estimated without
  local p = prompts.resolve("synthetic:64", { tokenizer = tok })[1]
  T.eq(p.target_tokens, 64)
  T.eq(p.achieved_tokens, 64)
  T.eq(tok:count(p.prompt), 64)
  local e = prompts.resolve("synthetic:64")[1]
  T.eq(e.estimated, true)
  T.eq(#e.prompt, 256)
end)

T.test("length specs and the synthetic workload", function()
  T.eq(prompts.parse_length("512", "x"), 512)
  local s = prompts.parse_length("512:64", "x")
  T.eq(s.mean, 512) T.eq(s.sd, 64) T.eq(s.min, 1)
  s = prompts.parse_length("512,256-1024", "x")
  T.eq(s.min, 256) T.eq(s.max, 1024) T.eq(s.mean, nil)
  s = prompts.parse_length("100:10,50-150", "x")
  T.eq(s.mean, 100) T.eq(s.min, 50) T.eq(s.max, 150)
  for _, bad in ipairs{ "0", "x", "10:", "10,20-30", "10,5-", "-3" } do
    local v, err = prompts.parse_length(bad, "--input-tokens")
    T.eq(v, nil, bad)
    T.ok(err:find("--input-tokens", 1, true), err)
  end
  local tok = assert(tokenizer.load(FILE))
  local src = prompts.synthetic_spec{ input = { min = 20, max = 40 }, output = 8, prefix = 10, seed = 3,
                                      tokenizer = tok }
  local pre = prompts.exact(tok, 10, 3 * 7919 + 17)   -- the source's prefix: seeded by its seed
  T.eq(tok:count(pre), 10)
  for i = 1, 20 do
    local p = src:pick(i)
    T.ok(p.target_tokens >= 30 and p.target_tokens <= 50, tostring(p.target_tokens))
    T.eq(p.achieved_tokens, p.target_tokens)
    T.eq(tok:count(p.prompt), p.target_tokens)
    T.eq(p.max_tokens, 8)
    T.eq(p.prompt:sub(1, #pre + 1), pre .. " ", "the shared prefix")
  end
  -- the same draws without a tokenizer, estimated
  local est = prompts.synthetic_spec{ input = { min = 20, max = 40 }, seed = 3 }:pick(1)
  T.eq(est.estimated, true)
end)

T.test("counts applied to results, and per run", function()
  local tok = assert(tokenizer.load(FILE))
  local gen = "say hello!"
  -- no usage: the tokenizer counts, rates from its count
  local r = { ok = true, output_tokens = 2, token_source = "events", e2e_s = 1.0, content_span_s = 0.6,
              generated_text = gen, input_tokens = 99, input_source = "estimate" }
  tokens.apply(tok, r, { prompt = "say hello!" })
  T.eq(r.output_tokens, 7) T.eq(r.token_source, "tokenizer")
  T.near(r.tpot_s, 0.1, 1e-12) T.near(r.req_tok_s, 7, 1e-12) T.near(r.decode_tok_s, 10, 1e-12)
  T.eq(r.input_tokens, 7) T.eq(r.input_source, "tokenizer")
  T.eq(r.generated_text, nil)
  T.eq(tokens.prompt_source(r), "tokenizer")
  -- usage: kept, the tokenizer's count beside
  local u = { ok = true, output_tokens = 8, token_source = "usage", e2e_s = 1, generated_text = gen,
              input_tokens = 10, input_source = "usage" }
  tokens.apply(tok, u, { messages = { { role = "user", content = "say" }, { role = "user", content = "hello!" } } })
  T.eq(u.output_tokens, 8) T.eq(u.tokenizer_tokens, 7)
  T.eq(u.tokenizer_input_tokens, tok:count("say\nhello!"))
  -- per run, and merged from two collectors as threads are
  local a, b = collect.new{ name = "a" }, collect.new{ name = "b" }
  u.prompt_token_source = "usage"
  a:add(u)
  local u2 = { ok = true, output_tokens = 10, token_source = "usage", tokenizer_tokens = 5,
               input_tokens = 4, prompt_token_source = "usage", tokenizer_input_tokens = 4 }
  b:add(u2)
  r.prompt_token_source = "tokenizer"
  b:add(r)
  a:absorb(b:dump())
  local run = a:finish()
  local d = run.tokens.tokenizer_vs_usage
  T.eq(d.output.requests, 2)
  T.near(d.output.max_rel_diff, 0.5, 1e-12)
  T.near(d.output.mean_rel_diff, (1 / 8 + 0.5) / 2, 1e-12)
  T.eq(run.tokens.prompt_source.usage, 2)
  T.eq(run.tokens.prompt_source.tokenizer, 1)
  T.eq(run.tokens.source.tokenizer, 1)
end)

T.test("resolve: auto, none, paths, errors", function()
  local tok, info = tokens.resolve(FILE, "any")
  T.ok(tok) T.eq(info.kind, "tokenizer.json") T.eq(#info.sha256, 64)
  tok, info = tokens.resolve("none", "any")
  T.eq(tok, nil) T.ok(info.none:match("^disabled"))
  T.ok(tokens.warning(info, "m"):find("disabled", 1, true))
  local ok, err = pcall(tokens.resolve, SRC .. "/no/such.json", "m")
  T.eq(ok, false) T.ok(err:find("no such file", 1, true), err)
  tok, info = tokens.resolve("auto", "nobody/nothing-like-this-anywhere")
  T.eq(tok, nil) T.ok(info.none:find("no tokenizer found", 1, true))
  T.ok(tokens.warning(info, "nobody/x"):find("estimated", 1, true))
end)

return T.run()
