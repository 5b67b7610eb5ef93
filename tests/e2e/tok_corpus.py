"""tok_corpus.py: the mixed corpus the tokenizer is checked (and benched)
on, generated deterministically, plus the hand-written files under
tests/fixtures/tok/corpus_*.txt.

    python3 tests/e2e/tok_corpus.py OUT.jsonl [--lines N] [--seed S]

writes one JSON string per line (a text sample; samples contain newlines,
tabs and every kind of character, so they travel as JSON). The samples
cover English prose, code, CJK, Arabic and other scripts, emoji with skin
tones and ZWJ sequences, combining marks (composed and decomposed), long
runs of whitespace and digits, strings that look like special tokens, and
unusual but valid Unicode (private use, noncharacters, controls, tags,
astral letters, characters new in recent Unicode versions)."""
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures", "tok")

WORDS = ("the of and to in is was for that with as on by at from his it an were are which be this "
         "has or had not their but have one first new also after who its they two been more time "
         "model token stream latency server batch prompt cache decode prefill request throughput "
         "quantized weights layer attention vector context window benchmark result metric however "
         "because through between during without against government university international "
         "approximately Transformer's don't won't it's we'll they've I'd you're O'Neill rock'n'roll "
         "state-of-the-art e-mail co-operate naïve café résumé façade coöperate Zürich São Paulo "
         "Kraków Ångström").split()

CODE = [
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "for (int i = 0; i < n; i++) {\n\tsum += a[i] * b[i];\n}\n",
    "const x = await fetch(`https://example.com/api?q=${encodeURIComponent(q)}`);\n",
    "{\"model\": \"mlx-community/Llama-3.2-3B-Instruct-4bit\", \"max_tokens\": 256, \"stream\": true}",
    "<html>\n  <body class=\"main\">\n    <p>Hello &amp; welcome</p>\n  </body>\n</html>\n",
    "SELECT id, name FROM users WHERE created_at >= '2024-01-01' ORDER BY id DESC LIMIT 10;",
    "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); return 0; }\n",
    "    if self._cache is not None and key in self._cache:\n        return self._cache[key]\n",
    "x = [i**2 for i in range(10) if i % 3 == 0]  # squares\n",
    "fn main() -> Result<(), Box<dyn Error>> { let v: Vec<u8> = vec![0xFF; 16]; Ok(()) }",
    "$ git log --oneline | head -n 5 && echo \"done\" >> /tmp/log.txt 2>&1",
    "  \t  indented\twith\ttabs and    spaces   \n\n\n\t\t\n",
    "a==b!=c<=d>=e&&f||g->h::i...j---k+++l//m/*n*/o",
]

SCRIPTS = [
    "日本語のテキストです。東京は日本の首都であり、人口は約1400万人です。",
    "中文文本：我们今天去公园散步，天气很好。人工智能正在改变世界。",
    "한국어 문장입니다. 서울은 대한민국의 수도입니다.",
    "مرحبا بالعالم! هذه جملة باللغة العربية، والأرقام ١٢٣٤٥٦٧٨٩٠.",
    "שלום עולם, זה משפט בעברית.",
    "नमस्ते दुनिया। यह हिन्दी में एक वाक्य है।",
    "สวัสดีชาวโลก นี่คือประโยคภาษาไทย",
    "Привет, мир! Это предложение на русском языке.",
    "Γειά σου κόσμε! Αυτή είναι μια πρόταση στα ελληνικά. ΣΊΣΥΦΟΣ σίσυφος",
    "Xin chào thế giới! Đây là một câu tiếng Việt có dấu.",
    "ሰላም ለዓለም። ይህ በአማርኛ የተጻፈ ዓረፍተ ነገር ነው።",
    "Բարեւ աշխարհ, ქართული ენა, ᏣᎳᎩ, ᠮᠣᠩᠭᠣᠯ",
    "தமிழ் மொழி, తెలుగు భాష, ಕನ್ನಡ, മലയാളം, বাংলা, ગુજરાતી, ਪੰਜਾਬੀ, ଓଡ଼ିଆ, සිංහල",
    "ひらがな カタカナ ﾊﾝｶｸｶﾀｶﾅ 漢字 ㈱ ㍻ ｱｲｳｴｵ",
    "İstanbul ıslak IŞIK ışık, Straße STRASSE ß ẞ, ﬁne ﬂow ﬀ",
]

EMOJI = ["👍", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷", "🇯🇵", "1️⃣", "❤️", "🧑🏿‍🚀", "👩‍❤️‍💋‍👨", "🤖", "😀",
         "🫠", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "☺︎", "✌🏻", "🐈‍⬛", "🧔🏾‍♂️", "©️", "®", "™"]

COMBINING = ["e\u0301", "a\u0308", "n\u0303", "Z\u0335\u0330\u0347\u0352\u0351a\u0337\u0325l\u0334\u0353g\u0336o\u0338",
             "\u1100\u1161\u11a8", "\u0915\u094d\u0937", "o\u0302\u0323", "\u00e9", "\u212b", "\u0041\u030a",
             "\u0627\u064b", "\u05e9\u05c1", "q\u0307\u0323", "\u1e9b\u0323"]

WHITESPACE = [" ", "  ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u3000", "\u2028", "\u2029", "\u200b",
              "\ufeff", "\u180e", "\u2003", "\u2009", "\u202f", "\u205f", "\u0085", "\u000b", "\u000c",
              "\u1680"]

SPECIAL_LIKE = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>user<|end_header_id|>",
                "<s>", "</s>", "<unk>", "<pad>", "<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>",
                "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|endofprompt|>", "<|fim_prefix|>",
                "<think>", "</think>", "<tool_call>", "[INST]", "[/INST]", "<<SYS>>", "<0x0A>", "<0xFF>",
                "▁", "▁▁", "Ġ", "Ċ", "<|begin_of", "<|eot_id", "<<|eot_id|>>", "<|reserved_special_token_7|>",
                "<image>", "<|python_tag|>", "<mask>", "<|place▁holder▁no▁1|>", "<｜begin▁of▁sentence｜>"]

UNUSUAL = ["\ue000\uf8ff", "\U000f0000", "\U0010fffd", "\ufdd0", "\ufffe", "\uffff", "\U0010ffff",
           "\ud7ff", "\ue001", "\u0000", "\u0001\u0002\u001b[31m", "\u007f", "\u0080\u009f",
           "\ufffd", "\u200e\u200f\u202a\u202e", "\ufe0f", "\U000e0041\U000e007f",
           "\U0001d400\U0001d44e\U0001d7d8", "\u212a", "\u017f", "\u1e9e", "\u0130\u0131",
           "\U0001e030\U0001e04f", "\U00011f00\U00011f04", "\U00031350\U0003134a", "\U0001f6dc\U0001fa75",
           "\u2066\u2069", "\u00ad", "\u034f", "\u2060", "\U0001f1e6", "\u0e33", "\uff10\uff11\uff12",
           "\u00b2\u00b3\u00b9\u2075", "\u2160\u2161\u2169", "\u0660\u0661", "\u06f4\u06f5", "\u0966\u0967",
           "\u3007\u4e00", "\u1d00\u1d2c", "\u02b0\u02b1", "\u2070"]


def prose(r):
    n = r.randint(3, 40)
    ws = [r.choice(WORDS) for _ in range(n)]
    if r.random() < 0.5:
        ws[0] = ws[0].capitalize()
    s = " ".join(ws)
    for _ in range(r.randint(0, 3)):
        i = r.randint(0, len(s))
        s = s[:i] + r.choice([",", ".", ";", ":", "!", "?", " —", " (", ")", "\"", "'", "...", " -"]) + s[i:]
    if r.random() < 0.3:
        s = s.upper()
    return s + r.choice([".", "!", "?", "", "\n", ".\n\n"])


def digits(r):
    k = r.choice(["plain", "sep", "dec", "long", "mixed"])
    if k == "plain":
        return str(r.randint(0, 10 ** r.randint(1, 12)))
    if k == "sep":
        return f"{r.randint(0, 10**9):,}"
    if k == "dec":
        return f"{r.random() * 10 ** r.randint(0, 6):.{r.randint(1, 8)}f}"
    if k == "long":
        return "".join(r.choice("0123456789") for _ in range(r.randint(20, 200)))
    return "".join(r.choice(["1", "22", "333", "٤٥", "６７", "²", " ", "-", "."]) for _ in range(r.randint(5, 30)))


def spaces(r):
    parts = []
    for _ in range(r.randint(1, 6)):
        parts.append(r.choice(WHITESPACE) * r.choice([1, 2, 3, 7, 16, 33, 100, 257]))
        if r.random() < 0.5:
            parts.append(r.choice(WORDS))
    return "".join(parts)


def random_chars(r):
    blocks = [(0x20, 0x7e), (0xa0, 0x24f), (0x300, 0x36f), (0x370, 0x3ff), (0x400, 0x4ff), (0x590, 0x6ff),
              (0x900, 0x97f), (0xe00, 0xe7f), (0x1100, 0x11ff), (0x2000, 0x206f), (0x2190, 0x23ff),
              (0x3040, 0x30ff), (0x4e00, 0x9fff), (0xac00, 0xd7a3), (0xff00, 0xffef), (0x1f300, 0x1faff),
              (0x10000, 0x1007f), (0x1d400, 0x1d7ff), (0x20000, 0x2a6df)]
    out = []
    for _ in range(r.randint(1, 60)):
        a, b = r.choice(blocks)
        out.append(chr(r.randint(a, b)))
    return "".join(out)


def mixed(r):
    gens = [prose, digits, spaces, random_chars,
            lambda r: r.choice(CODE), lambda r: r.choice(SCRIPTS), lambda r: r.choice(EMOJI),
            lambda r: r.choice(COMBINING), lambda r: r.choice(SPECIAL_LIKE), lambda r: r.choice(UNUSUAL)]
    return "".join(r.choice(gens)(r) + r.choice([" ", "", "\n", "  "]) for _ in range(r.randint(1, 8)))


def samples(lines, seed):
    r = random.Random(seed)
    out = []
    # every listed item once, alone and in a sentence
    for group in (CODE, SCRIPTS, EMOJI, COMBINING, WHITESPACE, SPECIAL_LIKE, UNUSUAL):
        for x in group:
            out.append(x)
            out.append("Say " + x + " and" + x + "twice" + x)
    for n in (1, 2, 3, 4, 5, 8, 16, 64, 255, 256, 257, 1000, 4096):
        out.append(" " * n + "x")
        out.append("x" + " " * n)
        out.append("9" * n)
        out.append("\n" * n + "end")
        out.append("ab" * n)
    gens = [prose, prose, prose, digits, spaces, random_chars, mixed, mixed, mixed,
            lambda r: r.choice(CODE) * r.randint(1, 3)]
    while len(out) < lines:
        out.append(r.choice(gens)(r))
    # the hand-written files, whole and by paragraph
    for name in sorted(os.listdir(FIXTURES)):
        if name.startswith("corpus_") and name.endswith(".txt"):
            with open(os.path.join(FIXTURES, name), encoding="utf-8") as f:
                text = f.read()
            out.append(text)
            out.extend(p for p in text.split("\n\n") if p)
    return out


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    lines, seed = 3000, 16
    if "--lines" in args:
        lines = int(args[args.index("--lines") + 1])
    if "--seed" in args:
        seed = int(args[args.index("--seed") + 1])
    with open(args[0], "w", encoding="utf-8") as f:
        for s in samples(lines, seed):
            f.write(json.dumps(s, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
