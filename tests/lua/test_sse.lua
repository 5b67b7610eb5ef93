-- mlxbench.sse: the Lua face of the SSE parser; same events under any
-- chunking for every wire fixture, plus hard expectations per fixture.
local T = require "harness"
local sse = require "mlxbench.sse"

-- events dispatched by feed, whether finish reports truncation, first/last data
local expect = {
  ["anthropic_docs_stream_basic.sse"] = { n = 8, truncated = false, last_event = "message_stop" },
  ["anthropic_docs_stream_thinking.sse"] = { n = 14, truncated = true, last_event = "message_delta" },
  ["anthropic_messages_stream.sse"] = { n = 9, truncated = false, last_event = "message_stop" },
  ["anthropic_messages_stream_thinking_padded.sse"] = { n = 14, truncated = false, last_event = "message_stop" },
  ["anthropic_messages_stream_tool_use.sse"] = { n = 15, truncated = false, last_event = "message_stop" },
  ["anthropic_stream_error_overloaded.sse"] = { n = 0, truncated = true },
  ["llamacpp_completion_stream.sse"] = { n = 8, truncated = false, last_event = "message" },
  ["nim_vllm_chat_stream_role_null.sse"] = { n = 48, truncated = false, last_data = "[DONE]" },
  ["openai_chat_stream_tool_calls.sse"] = { n = 11, truncated = false, last_data = "[DONE]" },
  ["openai_chat_stream_usage.sse"] = { n = 34, truncated = false, last_data = "[DONE]" },
  ["tgi_generate_stream.sse"] = { n = 19, truncated = true, last_event = "message" },
}

local function parse(bytes, cuts)
  local p = sse.parser{}
  local out = {}
  local pos = 1
  for _, c in ipairs(cuts) do
    for _, e in ipairs(assert(p:feed(bytes:sub(pos, c)))) do out[#out + 1] = e end
    pos = c + 1
  end
  for _, e in ipairs(assert(p:feed(bytes:sub(pos)))) do out[#out + 1] = e end
  local fin, truncated, partial = p:finish()
  T.eq(#fin, 0, "finish dispatches nothing")
  return out, truncated, partial
end

local function ser(evs)
  local t = {}
  for i, e in ipairs(evs) do
    t[i] = e.event .. "\0" .. e.data .. "\0" .. tostring(e.id) .. "\0" .. tostring(e.retry)
  end
  return table.concat(t, "\1")
end

for name, ex in pairs(expect) do
  T.test("fixture " .. name .. " under any chunking", function()
    local bytes = T.slurp(T.fixture(name))
    local whole, trunc = parse(bytes, {})
    T.eq(#whole, ex.n, "events")
    T.eq(trunc, ex.truncated, "truncated")
    if ex.last_data then T.eq(whole[#whole].data, ex.last_data) end
    if ex.last_event then T.eq(whole[#whole].event, ex.last_event) end
    local ref = ser(whole)
    local bytewise = {}
    for i = 1, #bytes - 1 do bytewise[i] = i end
    local b, tb = parse(bytes, bytewise)
    T.eq(ser(b), ref, "byte by byte")
    T.eq(tb, trunc)
    math.randomseed(#bytes)
    for _ = 1, 50 do
      local cuts, c = {}, 0
      while true do
        c = c + math.random(1, 40)
        if c >= #bytes then break end
        cuts[#cuts + 1] = c
      end
      local r, tr = parse(bytes, cuts)
      T.eq(ser(r), ref, "random split")
      T.eq(tr, trunc)
    end
  end)
end

T.test("spec details: comments, no-space data, multi-line, id, retry", function()
  local p = sse.parser{}
  local ev = assert(p:feed(": keep-alive\n\ndata:x\ndata:  y\nid: 7\nretry: 250\nevent: tick\n\n"))
  T.eq(#ev, 1)
  T.eq(ev[1].event, "tick")
  T.eq(ev[1].data, "x\n y")
  T.eq(ev[1].id, "7")
  T.eq(ev[1].retry, 250)
  ev = assert(p:feed("data: z\r\n\r\n"))
  T.eq(ev[1].event, "message")
  T.eq(ev[1].id, "7", "id persists")
  T.eq(ev[1].retry, nil, "retry only on the event that set it")
end)

T.test("CR at the end of one chunk and LF at the start of the next", function()
  local p = sse.parser{}
  local a = assert(p:feed("data: a\r"))
  local b = assert(p:feed("\n\r"))
  local c = assert(p:feed("\ndata: b\n\n"))
  T.eq(#a + #b, 1)
  T.eq(#c, 1)
  T.eq(c[1].data, "b")
end)

T.test("over-long line is an error value, sticky", function()
  local p = sse.parser{ max_line = 16 }
  local ev, err = p:feed("data: " .. string.rep("x", 100) .. "\n\n")
  T.eq(ev, nil)
  T.ok(err:find("max_line"), err)
  local ev2, err2 = p:feed("data: ok\n\n")
  T.eq(ev2, nil)
  T.ok(err2)
end)

T.test("finish hands over a partial event for lenient callers", function()
  local p = sse.parser{}
  T.eq(#assert(p:feed("data: [DONE]")), 0)
  local fin, truncated, partial = p:finish()
  T.eq(#fin, 0)
  T.eq(truncated, true)
  T.eq(partial.data, "[DONE]")
  T.raises(function() p:finish() end, "twice")
end)

return T.run()
