// gen_unicode_tables.mjs: reads, from Hugging Face's tokenizers itself, the
// Unicode data each of its components uses, and writes them as C tables
// (src/tok/tok_unicode_ref.c). The reference mixes versions: Oniguruma's
// classes are Unicode 16.0, Rust's char methods newer, the normalization
// crate and the punctuation crate much older; the C side must agree with
// each one, whatever utf8proc and PCRE2 the build machine has.
//
//   cd tests/node && npm ci && node gen_unicode_tables.mjs > ../../src/tok/tok_unicode_ref.c
//
// Every assigned code point (per this Node's ICU) goes through a tiny
// tokenizer.json built for one component, and what comes out says how the
// reference classifies it:
//   numeric   Digits (individual) then Metaspace: a numeric char gets its own "▁"
//   punct     Punctuation (isolated) then Metaspace
//   mark      StripAccents: what it removes
//   lower     Lowercase: what it changes, and into what
//   unknown   characters Node's ICU normalizes (decomposes, reorders, or calls
//             a mark) that the reference's NFKD/NFD/StripAccents leave alone:
//             its normalization tables predate them
//   category  for each general category, the characters PCRE2 10.42 (Unicode
//             14.0, as Python 3.11's unicodedata) lacks that Oniguruma has.
import { createRequire } from 'module';
import { execFileSync } from 'node:child_process';
const require = createRequire(import.meta.url);
const { Tokenizer } = require('tokenizers');

const cps = [];
const cn = /\p{Cn}/u;
for (let c = 0x80; c < 0xF0000; c++) {
  if ((c >= 0xD800 && c <= 0xDFFF) || (c >= 0xE000 && c <= 0xF8FF)) continue;
  if (!cn.test(String.fromCodePoint(c))) cps.push(c);
}

const vocab = {};
{
  const bs = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const m = {};
  let n = 0;
  for (const b of bs) m[b] = b;
  for (let b = 0; b < 256; b++) if (!(b in m)) m[b] = 256 + n++;
  for (let b = 0; b < 256; b++) vocab[String.fromCodePoint(m[b])] = b;
}
const BL = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
const MS = { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: false };

async function run(normalizer, pre, lines) {
  const j = { version: '1.0', added_tokens: [], normalizer,
    pre_tokenizer: { type: 'Sequence', pretokenizers: [...pre, BL] }, post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    model: { type: 'BPE', vocab, merges: [] } };
  const tok = Tokenizer.fromString(JSON.stringify(j));
  const out = [];
  for (let i = 0; i < lines.length; i += 5000) {
    const enc = await tok.encodeBatch(lines.slice(i, i + 5000), { addSpecialTokens: false });
    out.push(...await tok.decodeBatch(enc.map((e) => e.getIds()), false));
  }
  return out;
}

const ch = (c) => String.fromCodePoint(c);
const aXa = cps.map((c) => 'a' + ch(c) + 'a');
const aXm = cps.map((c) => 'a' + ch(c) + '\u0316');

const numeric = [], punct = [], mark = [], lower = [], unknown = [];
{
  const d = await run(null, [{ type: 'Digits', individual_digits: true }, MS], aXa);
  cps.forEach((c, i) => { if (d[i].includes('\u2581' + ch(c))) numeric.push(c); });
  const p = await run(null, [{ type: 'Punctuation', behavior: 'Isolated' }, MS], aXa);
  cps.forEach((c, i) => { if (p[i].includes('\u2581' + ch(c) + '\u2581')) punct.push(c); });
  const s = await run({ type: 'StripAccents' }, [], aXa);
  cps.forEach((c, i) => { if (s[i] === 'aa') mark.push(c); });
  const l = await run({ type: 'Lowercase' }, [], aXa);
  cps.forEach((c, i) => { const x = l[i].slice(1, -1); if (x !== ch(c)) lower.push([c, x]); });
  const k = await run({ type: 'NFKD' }, [], aXa);
  const m = await run({ type: 'NFD' }, [], aXm);
  const mk = /\p{M}/u;
  cps.forEach((c, i) => {
    const icuActive = ch(c).normalize('NFKD') !== ch(c) || mk.test(ch(c)) ||
      aXm[i].normalize('NFD') !== aXm[i];
    const refIdle = k[i] === aXa[i] && m[i] === aXm[i] && s[i] === aXa[i];
    if (icuActive && refIdle) unknown.push(c);
  });
}

// Categories: every assigned code point through Split(\p{Xx}, Removed).
const cats = ['Lu', 'Ll', 'Lt', 'Lm', 'Lo', 'Mn', 'Mc', 'Me', 'Nd', 'Nl', 'No', 'Pc', 'Pd', 'Ps', 'Pe',
  'Pi', 'Pf', 'Po', 'Sm', 'Sc', 'Sk', 'So', 'Zs', 'Zl', 'Zp', 'Cc', 'Cf', 'Co'];
const py14 = JSON.parse(execFileSync('python3', ['-c', `
import json, unicodedata, sys
assert unicodedata.unidata_version == "14.0.0", unicodedata.unidata_version
print(json.dumps({c: unicodedata.category(chr(c)) for c in range(0x80, 0xF0000)
                  if not 0xD800 <= c <= 0xDFFF and unicodedata.category(chr(c)) != "Cn"}))`],
  { maxBuffer: 1 << 28 }).toString());
const catOf = new Map();
{
  const text = cps.map(ch);
  for (const cat of cats) {
    const r = await run(null, [{ type: 'Split', pattern: { Regex: `\\p{${cat}}` }, behavior: 'Removed', invert: false }], text);
    cps.forEach((c, i) => { if (r[i] === '') catOf.set(c, cat); });
  }
}
const category = [];
for (const [c, cat] of catOf) if (py14[c] !== cat) category.push([c, cat]);
category.sort((a, b) => a[0] - b[0]);

function ranges(list) {
  const r = [];
  for (const c of [...list].sort((a, b) => a - b)) {
    if (r.length && r[r.length - 1][1] === c - 1) r[r.length - 1][1] = c;
    else r.push([c, c]);
  }
  return r;
}
const hex = (c) => '0x' + c.toString(16).toUpperCase().padStart(5, '0');
function rangeTable(name, list) {
  const rows = ranges(list).map(([a, b]) => `{${hex(a)}, ${hex(b)}}`);
  const lines = [];
  for (let i = 0; i < rows.length; i += 5) lines.push('    ' + rows.slice(i, i + 5).join(', ') + ',');
  return `const tok_range ${name}[] = {\n${lines.join('\n')}\n};\nconst size_t ${name}_n = sizeof ${name} / sizeof ${name}[0];\n`;
}
const utf8 = (s) => [...Buffer.from(s, 'utf8')].map((b) => '\\x' + b.toString(16).toUpperCase().padStart(2, '0')).join('');
const catRows = [];
{
  let cur = null;
  for (const [c, cat] of category) {
    if (cur && cur[1] === c - 1 && cur[2] === cat) cur[1] = c;
    else { cur = [c, c, cat]; catRows.push(cur); }
  }
}

process.stdout.write(`/* tok_unicode_ref.c: GENERATED by tests/node/gen_unicode_tables.mjs from
 * Hugging Face's tokenizers ${require('tokenizers/package.json').version} -- do not edit. The Unicode data each
 * of the reference's components uses (see tok_unicode.c). */
#include "tok_int.h"

/* Characters the reference's Digits pre-tokenizer calls numeric. */
${rangeTable('tok_ref_numeric', numeric)}
/* Characters its Punctuation pre-tokenizer calls punctuation. */
${rangeTable('tok_ref_punct', punct)}
/* Characters its StripAccents removes (combining marks). */
${rangeTable('tok_ref_mark', mark)}
/* Characters its normalizers (NFC, NFD, NFKC, NFKD) do not know: left as
 * they are, combining class 0. */
${rangeTable('tok_ref_norm_unknown', unknown)}
/* Its Lowercase: every character it changes, and into what (UTF-8). */
const tok_lower tok_ref_lower[] = {
${lower.map(([c, s]) => `    {${hex(c)}, "${utf8(s)}"},`).join('\n')}
};
const size_t tok_ref_lower_n = sizeof tok_ref_lower / sizeof tok_ref_lower[0];

/* General categories Oniguruma uses that differ from Unicode 14.0's (the
 * tables of PCRE2 10.42): characters assigned since, and recategorized. */
const tok_catrange tok_ref_category[] = {
${catRows.map(([a, b, c]) => `    {${hex(a)}, ${hex(b)}, "${c}"},`).join('\n')}
};
const size_t tok_ref_category_n = sizeof tok_ref_category / sizeof tok_ref_category[0];
`);
