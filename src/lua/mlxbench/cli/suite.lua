-- mlxbench.cli.suite: `mlxbench suite` runs the embedded scripts/suite.lua
-- (the same file as in the repository), so the binary needs no checkout.
local M = {}

function M.main(...)
  local src, name = require("mlxbench._embed").get("scripts/suite.lua")
  if not src then
    io.stderr:write("mlxbench suite: this build has no embedded scripts/suite.lua\n")
    return 2
  end
  local chunk, err = load(src, name, "t")
  if not chunk then error(err, 0) end
  chunk(...)
  return 0
end

return M
