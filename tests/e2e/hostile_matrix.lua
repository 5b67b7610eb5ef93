-- hostile_matrix.lua PORT TLSPORT CERT OUT.json: one mlxbench.bench{} run
-- per bad-input case against tests/e2e/hostile_server.py, every run in one
-- results file. test_hostile.py checks each run's error kinds.
local mb = require "mlxbench"
local results = require "mlxbench.results"

local port, tlsport, cert, out = ...
assert(out, "usage: hostile_matrix.lua PORT TLSPORT CERT OUT.json")
local base = "http://127.0.0.1:" .. port .. "/"

-- a port nobody listens on: bind, read the number, close
local function closed_port()
  local srv = mb.mock.start{ port = 0 }
  local p = srv.port
  srv:stop()
  return p
end

-- name, url, options over the defaults (3 requests, 3 users, streaming)
local cases = {
  { "ok", base .. "ok" },
  { "refused", "http://127.0.0.1:" .. closed_port() },
  { "dns", "http://no-such-host.invalid:8080" },
  { "tls_mismatch", "https://127.0.0.1:" .. tlsport .. "/ok", { cacert = cert } },
  { "reset_head", base .. "reset_head" },
  { "reset_body", base .. "reset_body", { stream = false } },
  { "reset_stream", base .. "reset_stream" },
  { "stall", base .. "stall", { timeout = 1.5 } },
  { "drip", base .. "drip", { timeout = 2.5 } },
  { "html200", base .. "html200" },
  { "html200_body", base .. "html200", { stream = false } },
  { "noline", base .. "noline", { max_line = 65536 } },
  { "endless", base .. "endless", { max_body = 1 << 20 } },
  { "bad_utf8", base .. "bad_utf8" },
  { "bad_json", base .. "bad_json" },
  { "deep_json", base .. "deep_json" },
  { "deep_body", base .. "deep_body", { stream = false } },
  { "usage_negative", base .. "usage_negative" },
  { "usage_huge", base .. "usage_huge" },
  { "usage_string", base .. "usage_string" },
  { "done_first", base .. "done_first" },
  { "done_twice", base .. "done_twice" },
  { "gzip", base .. "gzip" },
  { "gzip_decoded", base .. "gzip", { accept_encoding = "gzip" } },
  { "br", base .. "br" },
  { "br_decoded", base .. "br", { accept_encoding = true } },
  { "gzip_corrupt", base .. "gzip_corrupt", { accept_encoding = "gzip" } },
  { "chunk_bad", base .. "chunk_bad" },
  { "chunk_cut", base .. "chunk_cut" },
  { "headers_10k", base .. "headers_10k" },
  { "mixed", base .. "mixed", { requests = 6, concurrency = 1 } },
}

local doc = results.new()
for _, c in ipairs(cases) do
  local name, url, extra = c[1], c[2], c[3] or {}
  local o = {
    name = name, target = mb.target{ url = url, api = "openai", name = name },
    model = "m", prompt = "short", max_tokens = 8, stream = true,
    requests = 3, concurrency = 3, timeout = 10, connect_timeout = 5,
  }
  for k, v in pairs(extra) do o[k] = v end
  local t0 = mb.time.now()
  local run = mb.bench(o)
  run.case_s = mb.time.now() - t0
  results.add(doc, run)
end
results.write(doc, out)
