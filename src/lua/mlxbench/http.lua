-- mlxbench.http: asynchronous HTTP for tasks (virtual users).
--
--   local http = require "mlxbench.http"
--   local r = http.request{url = "http://127.0.0.1:8080/", timeout = 5}
--   if r.ok then print(r.status, #r.body, r.timings.ttfb) end
--
-- The calling task is suspended while the request runs; other tasks go on.
-- Network failures are values (r.error = {kind=, message=}); wrong
-- arguments raise. See docs/LUA_API.md for every option and field.
local C = require "mlxbench._http"
local redact = require "mlxbench._redact"

local M = {}

--- request{method, url, headers, body, timeout, connect_timeout, stream,
--- on_event, http2, insecure, cacert, max_body, max_line, accept_encoding,
--- proxy} -> response
function M.request(opts)
  if type(opts) ~= "table" then
    error("http.request: expected a table of options, got " .. type(opts), 2)
  end
  local on_event = opts.on_event
  local target = require "mlxbench.target"
  if opts.insecure then target.warn_insecure(opts.url) end
  target.register(opts.url, opts.headers)   -- credentials here are redacted everywhere
  local h <close>, err = C.start(opts)
  if not h then error("http.request: " .. redact.url(err), 2) end
  if not on_event then
    C.wait(h)
    return C.response(h)
  end
  -- Per-event callbacks run here, in the task, never from a libcurl
  -- callback: wait for news, hand every new event over, repeat until done.
  -- `done` is read together with the events, so none is missed even when
  -- on_event itself sleeps while the transfer goes on.
  local events = {}
  while true do
    C.wait(h)
    local done, new = C.events(h)
    if new then
      for i = 1, #new do
        local ev = new[i]
        events[#events + 1] = ev
        on_event(ev)
      end
    end
    if done then break end
  end
  return C.response(h, events)
end

local function with(opts, fields)
  local o = {}
  if opts ~= nil then
    if type(opts) ~= "table" then
      error("http: options must be a table, got " .. type(opts), 3)
    end
    for k, v in pairs(opts) do o[k] = v end
  end
  for k, v in pairs(fields) do o[k] = v end
  return o
end

--- get(url [, opts]) -> response
function M.get(url, opts)
  return M.request(with(opts, { method = "GET", url = url }))
end

--- post(url, body [, opts]) -> response
function M.post(url, body, opts)
  return M.request(with(opts, { method = "POST", url = url, body = body }))
end

return M
