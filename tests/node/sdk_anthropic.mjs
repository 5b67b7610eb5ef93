// The official @anthropic-ai/sdk against the emulated server: raw streamed
// events, the MessageStream helper, non-streamed messages, typed errors
// (401, 404, 429, 529) and the mid-stream `event: error`.
import Anthropic from "@anthropic-ai/sdk";
import { URL, KEY, expect, expectThrows, faults, words, done } from "./common.mjs";

const MODEL = "claude-3-5-haiku-latest";
const client = new Anthropic({ baseURL: URL, apiKey: KEY || "sk-none", maxRetries: 0 });
const system = "You are terse.";
const messages = [{ role: "user", content: "Tell me a story." }];
const inputTokens = Math.ceil((system + "Tell me a story.").length / 4);

await faults({ reset: true });

// raw stream
const raw = await client.messages.create({ model: MODEL, system, messages, max_tokens: 15, stream: true });
const types = [];
let text = "", outTokens = null, stop = null, inTok = null;
for await (const ev of raw) {
  types.push(ev.type);
  if (ev.type === "message_start") inTok = ev.message.usage.input_tokens;
  if (ev.type === "content_block_delta" && ev.delta.type === "text_delta") text += ev.delta.text;
  if (ev.type === "message_delta") { outTokens = ev.usage.output_tokens; stop = ev.delta.stop_reason; }
}
expect("raw stream: event order", types[0] === "message_start" && types[1] === "content_block_start" &&
  types.at(-1) === "message_stop" && types.at(-2) === "message_delta" && types.at(-3) === "content_block_stop" &&
  types.filter((t) => t === "content_block_delta").length === 15, types);
expect("raw stream: 15 words", words(text) === 15, text);
expect("raw stream: usage", inTok === inputTokens && outTokens === 15, { inTok, outTokens });
expect("raw stream: stop_reason max_tokens", stop === "max_tokens", stop);

// the MessageStream helper (enforces event order, accumulates)
const ms = client.messages.stream({ model: MODEL, system, messages, max_tokens: 15 });
let textEvents = 0;
ms.on("text", () => textEvents++);
const final = await ms.finalMessage();
expect("helper: final text == raw text", final.content[0].type === "text" && final.content[0].text === text);
expect("helper: usage + stop", final.usage.output_tokens === 15 && final.usage.input_tokens === inputTokens &&
  final.stop_reason === "max_tokens", final.usage);
expect("helper: text events", textEvents === 15, textEvents);

// non-streamed
const msg = await client.messages.create({ model: MODEL, system, messages, max_tokens: 15 });
expect("create: parses", msg.type === "message" && msg.role === "assistant" && msg.id.startsWith("msg_"));
expect("create: same text", msg.content[0].text === text);
expect("create: usage", msg.usage.output_tokens === 15 && msg.usage.input_tokens === inputTokens);

// typed errors
if (KEY) {
  const bad = new Anthropic({ baseURL: URL, apiKey: "wrong", maxRetries: 0 });
  await expectThrows("wrong key", Anthropic.AuthenticationError,
    () => bad.messages.create({ model: MODEL, messages, max_tokens: 2 }), (e) => e.status === 401);
}
await expectThrows("unknown model", Anthropic.NotFoundError,
  () => client.messages.create({ model: "claude-nope", messages, max_tokens: 2 }),
  (e) => e.status === 404 && e.error?.error?.type === "not_found_error");
await faults({ error_rate: 1, status: 429, retry_after: 0 });
await expectThrows("429", Anthropic.RateLimitError,
  () => client.messages.create({ model: MODEL, messages, max_tokens: 2 }), (e) => e.status === 429);
await faults({ status: 529 });
await expectThrows("529 overloaded", Anthropic.InternalServerError,
  () => client.messages.create({ model: MODEL, messages, max_tokens: 2, stream: true }),
  (e) => e.status === 529 && e.error?.error?.type === "overloaded_error");
if (Anthropic.OverloadedError) {
  await expectThrows("529 is OverloadedError", Anthropic.OverloadedError,
    () => client.messages.create({ model: MODEL, messages, max_tokens: 2 }));
}
await faults({ error_rate: 0, stream_error_rate: 1, stream_error_after: 4 });
let deltas = 0;
await expectThrows("mid-stream event: error", Anthropic.APIError, async () => {
  for await (const ev of await client.messages.create({ model: MODEL, messages, max_tokens: 10, stream: true })) {
    if (ev.type === "content_block_delta") deltas++;
  }
}, (e) => e.error?.error?.type === "overloaded_error");
expect("mid-stream error after 4 deltas", deltas === 4, deltas);
await faults({ reset: true });
const again = await client.messages.create({ model: MODEL, messages, max_tokens: 3 });
expect("faults off: next request ok", again.usage.output_tokens === 3);

done();
