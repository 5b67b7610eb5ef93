-- common: the target every example runs against -- `--url URL` for a real
-- server, else the embedded emulator (also with `--mock`).
local mb = require "mlxbench"

local M = {}

-- target(argv) -> target, server|nil, options
function M.target(argv)
  local url, opts = nil, {}
  local i = 1
  while argv[i] do
    local a = argv[i]
    if a == "--url" then
      url = argv[i + 1]
      i = i + 1
    elseif a == "--mock" then
      url = nil
    elseif a:match("^%-%-") then
      opts[a:sub(3)] = argv[i + 1]
      i = i + 1
    end
    i = i + 1
  end
  local srv
  if not url then
    srv = mb.mock.start{ port = 0, seed = 1 }
    url = srv.url
  end
  return mb.target{ name = srv and "emulated" or "local", url = url }, srv, opts
end

return M
