// tok_oracle.mjs: the reference side of tests/e2e/test_tokenizer_oracle.py.
//
//   node tok_oracle.mjs hf|tiktoken TOKENIZER CORPUS.jsonl OUT.jsonl
//
// For every text of CORPUS (one JSON string per line) writes one JSON line:
//   a: ids with special tokens (HF: add_special_tokens; tiktoken:
//      allowed_special "all"), b: ids without (tiktoken: encode_ordinary),
//   d: decode(a), s: decode(b), k: decode(a, skip_special_tokens) (HF only).
// HF is Hugging Face's tokenizers (Rust, Node binding) loading the
// tokenizer.json; tiktoken is OpenAI's (Rust compiled to WASM) on the npm
// package's rank JSON.
import { createRequire } from 'module';
import fs from 'node:fs';
const require = createRequire(import.meta.url);
const [kind, file, corpus, outPath] = process.argv.slice(2);
const texts = fs.readFileSync(corpus, 'utf8').split('\n').filter((l) => l.length).map((l) => JSON.parse(l));
const out = fs.openSync(outPath, 'w');

if (kind === 'hf') {
  const { Tokenizer } = require('tokenizers');
  const tok = Tokenizer.fromFile(file);
  for (let i = 0; i < texts.length; i += 2000) {
    const chunk = texts.slice(i, i + 2000);
    const ea = (await tok.encodeBatch(chunk, { addSpecialTokens: true })).map((e) => e.getIds());
    const eb = (await tok.encodeBatch(chunk, { addSpecialTokens: false })).map((e) => e.getIds());
    const d = await tok.decodeBatch(ea, false);
    const s = await tok.decodeBatch(eb, false);
    const k = await tok.decodeBatch(ea, true);
    const lines = chunk.map((_, j) => JSON.stringify({ a: ea[j], b: eb[j], d: d[j], s: s[j], k: k[j] }));
    fs.writeSync(out, lines.join('\n') + '\n');
  }
} else {
  const { Tiktoken } = require('tiktoken/lite');
  const j = JSON.parse(fs.readFileSync(file, 'utf8'));
  const enc = new Tiktoken(j.bpe_ranks, j.special_tokens, j.pat_str);
  const td = new TextDecoder('utf-8', { ignoreBOM: true });
  const lines = [];
  for (const text of texts) {
    const a = Array.from(enc.encode(text, 'all'));
    const b = Array.from(enc.encode_ordinary(text));
    lines.push(JSON.stringify({ a, b, d: td.decode(enc.decode(Uint32Array.from(a))),
                                s: td.decode(enc.decode(Uint32Array.from(b))) }));
    if (lines.length >= 2000) fs.writeSync(out, lines.splice(0).join('\n') + '\n');
  }
  if (lines.length) fs.writeSync(out, lines.join('\n') + '\n');
  enc.free();
}
fs.closeSync(out);
