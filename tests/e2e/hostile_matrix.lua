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
  -- usage that contradicts the stream, and usage that is right
  { "usage_contradicts", base .. "usage_contradicts" },
  { "usage_over_max", base .. "usage_over_max", { max_tokens = 8 } },
  { "usage_input_huge", base .. "usage_input_huge" },
  { "usage_multi", base .. "usage_multi" },
  -- errors as real servers send them, and worse
  { "error_flood", base .. "error_flood", { max_body = 1 << 20 } },
  { "echo_key_long", base .. "echo_auth_long", { target = { api_key = os.getenv("MATRIX_KEY") } } },
  { "ctrl_message", base .. "ctrl_message" },
  { "redirect", base .. "redirect" },
  { "empty_200", base .. "empty_200", { stream = false } },
  { "rate_limited", base .. "rate_limited" },
  { "html_401", base .. "html_401" },
  { "model_404", base .. "model_404" },
  { "stream_error_mid", base .. "stream_error_mid" },
  { "short_close", base .. "short_close", { stream = false } },
  { "chunk_huge", base .. "chunk_huge" },
  { "head_300k", base .. "head_300k" },
  -- framing a correct client must accept
  { "chunked_tiny", base .. "chunked_tiny" },
  { "keepalive", base .. "keepalive" },
  { "sse_fields", base .. "sse_fields" },
  { "sse_crlf", base .. "sse_crlf" },
  { "sse_cr", base .. "sse_cr" },
  { "done_partial", base .. "done_partial" },
  { "big_event", base .. "big_event" },
  { "events_5000", base .. "events_5000" },
  { "slow", base .. "slow" },
  { "gzip_bomb", base .. "gzip_bomb", { accept_encoding = "gzip", max_body = 512 * 1024 } },
}

local doc = results.new()
for _, c in ipairs(cases) do
  local name, url, extra = c[1], c[2], c[3] or {}
  local topts = { url = url, api = "openai", name = name }
  for k, v in pairs(extra.target or {}) do topts[k] = v end
  extra.target = nil
  local o = {
    name = name, target = mb.target(topts),
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
