-- mlxbench.estimate: the count used where nothing exact is known (no usage
-- from the server, no tokenizer): ceil(characters / 4), characters counted
-- as UTF-8 code points -- the emulator's own prompt-token rule, so a run
-- against it agrees with what it reports. Results mark such counts
-- estimated (docs/METRICS.md).
local M = {}

function M.tokens(s)
  local c = utf8.len(s) or #s
  return (c + 3) // 4
end

return M
