-- teamlib.chat_mix: a team's reusable prompt mix -- 70 % short chat turns,
-- 30 % long documents -- shared by every scenario that needs "our traffic".
-- Load it with `mlxbench -I examples my.lua` or MLXBENCH_PATH="examples/?.lua;;".
local prompts = require "mlxbench.prompts"

local M = {}

M.chat = { "What is 2+2?", "Name three uses of a hash map.", "Summarise TCP in one line.",
           "What does a mutex protect?" }

-- mix(doc_tokens) -> a weighted prompt list for mlxbench.bench{prompts = ...}
function M.mix(doc_tokens)
  return prompts.mix{
    { weight = 0.7, prompts = M.chat, max_tokens = 64 },
    { weight = 0.3, prompt = "Summarise this document: " .. prompts.synthetic(doc_tokens or 1500, 7),
      max_tokens = 256 },
  }
end

return M
