-- mlxbench.cli: the subcommands of the mlxbench binary. Each command lives in
-- its own module mlxbench.cli.<name> with a main(...) returning an exit code.
local M = {}

local function die(msg)
  io.stderr:write("mlxbench: ", msg, "\n")
  os.exit(2)
end

function M.main(command, ...)
  local ok, mod = pcall(require, "mlxbench.cli." .. command)
  if not ok then
    if tostring(mod):find("module 'mlxbench.cli." .. command .. "' not found", 1, true) then
      die("command '" .. command .. "' is not available in this build")
    end
    error(mod, 0)
  end
  local code = mod.main(...)
  -- a command that stopped because of a signal exits 130, whatever ended it
  if type(code) == "number" and code ~= 0 and require("mlxbench._sched").interrupted() > 0 then
    code = 130
  end
  if type(code) == "number" and code ~= 0 then
    io.stdout:flush()
    os.exit(code)
  end
end

return M
