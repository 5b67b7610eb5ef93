-- mlxbench.tokens: exact token counts for a run, with the model's own
-- tokenizer (mlxbench.tokenizer) when one is known.
--
--   output tokens: the server's usage when it reports it, the tokenizer's
--     count recorded beside it (tokenizer_tokens); without usage, the
--     tokenizer's count of everything generated (content, reasoning,
--     tool-call arguments), without special tokens: token_source
--     "tokenizer". Without a tokenizer: content events ("events").
--   input tokens: likewise from the prompt text (the messages' contents
--     joined by newlines, without the chat template): prompt_token_source
--     "usage", "tokenizer" or "chars/4".
local tokenizer = require "mlxbench.tokenizer"
local prompts = require "mlxbench.prompts"

local M = {}

-- resolve(spec, model) -> tokenizer | nil, info. spec: nil or "auto" (find
-- one for model on this machine), "none", a file or folder, a model name
-- to look up, or a loaded tokenizer. info is what the results record:
-- {path, sha256, kind} or {none = "why"}. An explicit spec that cannot be
-- loaded is an error (raised, one line).
function M.resolve(spec, model)
  if spec == "none" or spec == false then
    return nil, { none = "disabled (tokenizer = none)" }
  end
  if type(spec) == "userdata" then
    return spec, { path = spec:path(), sha256 = spec:sha256(), kind = spec:kind() }
  end
  local auto = spec == nil or spec == "auto"
  if not auto and type(spec) ~= "string" then
    error("tokenizer must be \"auto\", \"none\", a path or a model name", 0)
  end
  local path, tried = tokenizer.find(auto and model or spec)
  if not path then
    if auto then
      return nil, { none = "no tokenizer found for " .. tostring(model), searched = tried }
    end
    error("tokenizer " .. spec .. ": no such file, and no tokenizer found for that model name", 0)
  end
  local tok, err = tokenizer.load(path)
  if not tok then
    if auto then return nil, { none = "found " .. path .. " but cannot use it: " .. err } end
    error("tokenizer: " .. err, 0)
  end
  return tok, { path = tok:path(), sha256 = tok:sha256(), kind = tok:kind() }
end

-- The line a run prints, once, when it counts without a tokenizer.
function M.warning(info, model)
  if info.none and info.none:match("^disabled") then
    return "tokenizer disabled: token counts are estimated (events, chars/4)"
  end
  local where = ""
  if info.searched and #info.searched > 0 then
    where = " (looked in " .. table.concat(info.searched, ", ") .. ")"
  end
  return string.format("no tokenizer for %s: token counts are estimated (events, chars/4)%s; "
    .. "give --tokenizer PATH or put it in $MLXBENCH_TOKENIZERS", tostring(model), where)
end

-- Rates that depend on the output count, recomputed for a new count.
local function rerate(r, n)
  r.output_tokens = n
  if r.e2e_s and r.e2e_s > 0 then r.req_tok_s = n / r.e2e_s end
  local span = r.content_span_s
  if n >= 2 and span and span > 0 then
    r.tpot_s = span / (n - 1)
    r.decode_tok_s = (n - 1) / span
  else
    r.tpot_s, r.decode_tok_s = nil, nil
  end
end

-- apply(tok, r, req): exact counts into the result r of request req (its
-- messages or prompt); r.generated_text is consumed.
function M.apply(tok, r, req)
  local gen = r.generated_text
  r.generated_text = nil
  if r.ok and gen then
    local n = tok:count(gen)
    if r.token_source == "usage" then
      r.tokenizer_tokens = n
    elseif n > 0 then
      r.token_source = "tokenizer"
      rerate(r, n)
    end
  end
  local text = prompts.as_text(req)
  if type(text) == "string" then
    local n = tok:count(text)
    if r.input_source == "usage" then
      r.tokenizer_input_tokens = n
    else
      r.input_tokens, r.input_source = n, "tokenizer"
    end
  end
end

-- The prompt's count source, by issue 14's names.
function M.prompt_source(r)
  if r.input_source == "estimate" then return "chars/4" end
  return r.input_source
end

-- Accumulators of usage-vs-tokenizer differences, mergeable across threads.
function M.diff_new() return { n = 0, sum = 0, max = 0 } end

function M.diff_add(d, usage, counted)
  if not usage or not counted or usage <= 0 then return end
  local rel = math.abs(counted - usage) / usage
  d.n, d.sum = d.n + 1, d.sum + rel
  if rel > d.max then d.max = rel end
end

function M.diff_merge(d, e)
  if not e then return end
  d.n, d.sum = d.n + e.n, d.sum + e.sum
  if e.max > d.max then d.max = e.max end
end

-- {requests, mean_rel_diff, max_rel_diff} or nil when nothing to compare
function M.diff_summary(d)
  if d.n == 0 then return nil end
  return { requests = d.n, mean_rel_diff = d.sum / d.n, max_rel_diff = d.max }
end

return M
