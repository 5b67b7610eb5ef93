-- mlxbench.cli.tokenize: `mlxbench tokenize` -- counts or ids of a text with
-- a model's tokenizer, for checking against other tools.
--
--   mlxbench tokenize --tokenizer PATH|MODEL [--ids|--count] [--special] [TEXT|@FILE|-]
--   mlxbench tokenize --tokenizer PATH|MODEL --decode ID...
local args = require "mlxbench.cli.args"
local tokenizer = require "mlxbench.tokenizer"

local M = {}

M.SPEC = {
  tokenizer = { short = "t", arg = "T", help = "a tokenizer.json (or its folder), a .tiktoken file, or a model name to find one for" },
  ids = { help = "print the ids, separated by spaces" },
  count = { help = "print the number of tokens (the default)" },
  special = { help = "add the tokenizer's special tokens (BOS...); tiktoken: allow special tokens in the text" },
  decode = { help = "the arguments are ids: print their text" },
  verbose = { short = "v", help = "name the tokenizer used on stderr" },
  help = { short = "h", help = "show this help" },
}
M.ORDER = { "tokenizer", "ids", "count", "special", "decode", "verbose", "help" }

local cmd = args.command{ name = "mlxbench tokenize",
  synopsis = "--tokenizer PATH|MODEL [--ids|--count] [--special] [TEXT|@FILE|-]\n"
    .. "       mlxbench tokenize --tokenizer PATH|MODEL --decode ID...",
  about = "Without TEXT, or with -, the text is read from standard input; @FILE reads a file.\n"
    .. "A model name is looked up on this machine ($MLXBENCH_TOKENIZERS, the Hugging Face\n"
    .. "cache, LM Studio's models, tiktoken's cache); never on the network.",
  spec = M.SPEC, order = M.ORDER }

function M.main(...)
  local o, pos = cmd:parse({ ... })
  if not o then return pos end
  if not o.tokenizer then return cmd:die("--tokenizer PATH|MODEL is required", true) end
  if o.ids and o.count then return cmd:die("give --ids or --count, not both") end
  local path, tried = tokenizer.find(o.tokenizer)
  if not path then
    return cmd:die(string.format("no tokenizer found for %s (looked in %s)", o.tokenizer,
      #(tried or {}) > 0 and table.concat(tried, ", ") or "nothing: give a path"))
  end
  local tok, err = tokenizer.load(path)
  if not tok then return cmd:die(err) end
  if o.verbose then io.stderr:write("tokenizer: ", tok:kind(), " ", tok:path(), " sha256 ", tok:sha256(), "\n") end
  if o.decode then
    local ids = {}
    for _, a in ipairs(pos) do
      for w in a:gmatch("[^%s,]+") do
        local v = math.tointeger(tonumber(w))
        if not v or v < 0 then return cmd:die("--decode: '" .. w .. "' is not a token id") end
        ids[#ids + 1] = v
      end
    end
    io.stdout:write(tok:decode(ids), "\n")
    return 0
  end
  if #pos > 1 then return cmd:die("give one TEXT (quote it), @FILE or -") end
  local text = pos[1]
  if text == nil or text == "-" then
    text = io.stdin:read("a") or ""
  elseif text:sub(1, 1) == "@" then
    local f, ferr = io.open(text:sub(2), "rb")
    if not f then return cmd:die("cannot open " .. text:sub(2) .. ": " .. tostring(ferr)) end
    text = f:read("a") or ""
    f:close()
  end
  local opts = o.special and { special = true } or nil
  if o.ids then
    io.stdout:write(table.concat(tok:encode(text, opts), " "), "\n")
  else
    io.stdout:write(tok:count(text, opts), "\n")
  end
  return 0
end

return M
