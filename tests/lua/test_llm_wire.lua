-- mlxbench.llm over real HTTP: every OpenAI/Anthropic wire fixture replayed
-- by a server that fragments it at random byte positions; exact token
-- counts, finish reasons and text, and error kinds.
local T = require "harness"
local llm = require "mlxbench.llm"
local mb = require "mlxbench"

local pipe = assert(io.popen("exec python3 tests/e2e/replay_server.py --lifetime 60", "r"))
local port, pid = pipe:read("n", "n")
assert(port, "replay server did not start")
local base = "http://127.0.0.1:" .. math.tointeger(port)

local function call(fixture, api, extra)
  local o = {
    target = { url = base .. "/" .. fixture, api = api }, model = "m", prompt = "hi",
    -- the captures answered larger requests: a max_tokens below their usage
    -- would (rightly) make that usage implausible
    max_tokens = 4096, stream = true, capture = true, timeout = 10,
  }
  for k, v in pairs(extra or {}) do o[k] = v end
  return llm.request(o)
end

local cases = {
  { "openai_chat_stream_usage.sse", "openai", 30, "usage", 14, "stop", 30, 159 },
  { "openai_chat_stream_tool_calls.sse", "openai", 16, "usage", 44, "tool_calls", 7, 0 },
  { "nim_vllm_chat_stream_role_null.sse", "openai", 45, "events", nil, "stop", 45, 164 },
  { "anthropic_docs_stream_basic.sse", "anthropic", 15, "usage", 25, "end_turn", 2, 6 },
  { "anthropic_docs_stream_thinking.sse", "anthropic", 7, "events", nil, "end_turn", 7, 17 },
  { "anthropic_messages_stream.sse", "anthropic", 6, "usage", 11, "end_turn", 3, 12 },
  { "anthropic_messages_stream_thinking_padded.sse", "anthropic", 106, "usage", 28, "refusal", 4, 2 },
  { "anthropic_messages_stream_tool_use.sse", "anthropic", 65, "usage", 377, "tool_use", 6, 48 },
}

for _, c in ipairs(cases) do
  T.test("fixture over HTTP: " .. c[1], function()
    local r = call(c[1], c[2])
    T.ok(r.ok, r.error and (r.error.kind .. ": " .. r.error.message))
    T.eq(r.output_tokens, c[3], "output_tokens")
    T.eq(r.token_source, c[4], "token_source")
    if c[5] then T.eq(r.input_tokens, c[5], "input_tokens") end
    T.eq(r.finish_reason, c[6], "finish_reason")
    T.eq(r.content_events, c[7], "content events")
    T.eq(#r.text, c[8], "text length")
    T.ok(r.ttft_s > 0 and r.ttft_s <= r.e2e_s, "ttft within e2e")
    T.ok(r.ttfb_s <= r.ttft_s, "ttfb before ttft")
    if c[3] >= 2 and c[7] >= 2 then T.ok(r.tpot_s > 0, "tpot") end
  end)
end

T.test("known text arrives byte-exact", function()
  local r = call("anthropic_messages_stream_tool_use.sse", "anthropic")
  T.eq(r.text, "I'll check the current weather in Paris for you.")
  r = call("openai_chat_stream_usage.sse", "openai")
  T.eq(r.text:sub(1, 50), "I'm unable to provide real-time weather updates. T")
end)

T.test("Anthropic error event fails the request as `stream`", function()
  local r = call("anthropic_stream_error_overloaded.sse", "anthropic")
  T.eq(r.ok, false)
  T.eq(r.error.kind, "stream")
  T.ok(r.error.message:find("overloaded_error: Overloaded", 1, true), r.error.message)
  T.eq(r.output_tokens, nil)
end)

T.test("non-2xx is kind http with the body's message", function()
  local r = call("anthropic_stream_error_overloaded.sse?status=529", "anthropic")
  T.eq(r.ok, false)
  T.eq(r.status, 529)
  T.eq(r.error.kind, "http")
end)

T.test("non-streamed body: usage, text, finish", function()
  local r = call("openai_chat_completion.json", "openai", { stream = false })
  T.ok(r.ok, r.error and r.error.message)
  T.eq(r.output_tokens, 37)
  T.eq(r.input_tokens, 14)
  T.eq(r.finish_reason, "stop")
  T.eq(r.ttft_s, r.e2e_s)
end)

T.test("ITL recorded in C into a histogram; event times match the server's pacing", function()
  local h = mb.stats.histogram{}
  local r = call("anthropic_messages_stream.sse?delay_ms=20", "anthropic", { itl_hist = h, itl = true })
  T.ok(r.ok, r.error and r.error.message)
  T.eq(h:count(), 2)        -- 3 content events -> 2 gaps
  T.eq(#r.itl, 2)
  for _, g in ipairs(r.itl) do T.near(g, 0.020, 0.008, "gap") end
end)

T.test("on_token runs in the task for each content event", function()
  local seen = {}
  local r = call("openai_chat_stream_usage.sse", "openai", {
    on_token = function(t) seen[#seen + 1] = t end })
  T.ok(r.ok)
  T.eq(#seen, 30)
  for i = 2, #seen do T.ok(seen[i] >= seen[i - 1]) end
end)

T.test("concurrent requests from many tasks", function()
  local tasks = {}
  for i = 1, 20 do tasks[i] = mb.spawn(call, "openai_chat_stream_usage.sse", "openai") end
  for _, r in ipairs(mb.wait(tasks)) do
    T.ok(r.ok)
    T.eq(r.output_tokens, 30)
  end
end)

T.test("connection refused is kind connect", function()
  local r = llm.request{ target = { url = "http://127.0.0.1:1" }, model = "m", prompt = "x", stream = true }
  T.eq(r.ok, false)
  T.eq(r.error.kind, "connect")
end)

T.test("misuse raises", function()
  T.raises(llm.request, "model must be a string", { prompt = "x" })
  T.raises(llm.request, "needs messages or prompt", { model = "m" })
  T.raises(llm.request, "max_tokens must be a positive integer", { model = "m", prompt = "x", max_tokens = 0 })
end)

T.run()
os.execute("kill " .. math.tointeger(pid) .. " 2>/dev/null")
pipe:close()
