-- mlxbench.tokenizer: the model's own tokenizer, for exact token counts and
-- prompts of an exact length.
--
--   local tokenizer = require "mlxbench.tokenizer"
--   local path = tokenizer.find("mlx-community/Llama-3.2-3B-Instruct-4bit")
--   local tok = assert(tokenizer.load(path))
--   print(tok:count("Hello world"), #tok:encode("Hello", { special = true }))
--
-- Loading is C (src/tok): Hugging Face tokenizer.json files (BPE models) and
-- OpenAI tiktoken rank files, encoded exactly as the reference libraries do.
-- find() looks only on this machine -- never on the network.
local core = require "mlxbench._tokenizer"
local sys = require "mlxbench._sys"

local M = {}

-- load(path) -> tokenizer | nil, message. path: a tokenizer.json, a folder
-- holding one, or a .tiktoken rank file.
function M.load(path)
  if type(path) ~= "string" or path == "" then
    error("tokenizer.load: path must be a string", 2)
  end
  return core.load(path)
end

local function is_file(p)
  return p ~= nil and sys.file_kind(p) == "file"
end

local function join(...)
  return table.concat({ ... }, "/")
end

local function home()
  return os.getenv("HOME") or ""
end

-- The folder entry of dir whose name equals name ignoring case (an exact
-- match first): model names from an API are often lower-cased.
local function entry_ci(dir, name)
  local names = core.dir(dir)
  if not names then return nil end
  local lname, found = name:lower(), nil
  for _, n in ipairs(names) do
    if n == name then return n end
    if not found and n:lower() == lname then found = n end
  end
  return found
end

-- Splits "org/name" (a Hugging Face repo id); a plain name has no org.
local function split_model(model)
  local org, name = model:match("^([^/]+)/([^/]+)$")
  if org then return org, name end
  return nil, model:match("([^/]+)$") or model
end

-- Hugging Face's cache: $HF_HUB_CACHE, else $HF_HOME/hub, else
-- $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
function M.hf_cache()
  local hub = os.getenv("HF_HUB_CACHE")
  if hub and hub ~= "" then return hub end
  local hf = os.getenv("HF_HOME")
  if hf and hf ~= "" then return join(hf, "hub") end
  local xdg = os.getenv("XDG_CACHE_HOME")
  if xdg and xdg ~= "" then return join(xdg, "huggingface", "hub") end
  return join(home(), ".cache", "huggingface", "hub")
end

-- tokenizer.json of a cached repo folder: the snapshot refs/main names,
-- else the most recently modified snapshot that has one.
local function from_snapshots(repo)
  local ref = io.open(join(repo, "refs", "main"), "r")
  if ref then
    local commit = (ref:read("l") or ""):match("^%s*(%x+)%s*$")
    ref:close()
    if commit and is_file(join(repo, "snapshots", commit, "tokenizer.json")) then
      return join(repo, "snapshots", commit, "tokenizer.json")
    end
  end
  local best, best_t
  for _, snap in ipairs(core.dir(join(repo, "snapshots")) or {}) do
    local p = join(repo, "snapshots", snap, "tokenizer.json")
    if is_file(p) then
      local t = core.mtime(p) or 0
      if not best_t or t > best_t then best, best_t = p, t end
    end
  end
  return best
end

local function in_hf_cache(org, name, tried)
  local hub = M.hf_cache()
  tried[#tried + 1] = hub
  local names = core.dir(hub)
  if not names then return nil end
  local want = org and ("models--" .. org .. "--" .. name):lower() or nil
  local suffix = ("--" .. name):lower()
  for _, d in ipairs(names) do
    local l = d:lower()
    if (want and l == want) or (not want and l:sub(1, 8) == "models--" and l:sub(-#suffix) == suffix) then
      local p = from_snapshots(join(hub, d))
      if p then return p end
    end
  end
  return nil
end

-- LM Studio keeps models as ORG/NAME folders (~/.lmstudio/models, older
-- versions ~/.cache/lm-studio/models); its API often names a model without
-- the org, lower-cased.
local function in_lmstudio(org, name, tried)
  for _, root in ipairs{ join(home(), ".lmstudio", "models"), join(home(), ".cache", "lm-studio", "models") } do
    tried[#tried + 1] = root
    local orgs = org and { entry_ci(root, org) } or core.dir(root) or {}
    for _, o in ipairs(orgs) do
      local n = entry_ci(join(root, o), name)
      if n and is_file(join(root, o, n, "tokenizer.json")) then
        return join(root, o, n, "tokenizer.json")
      end
    end
  end
  return nil
end

-- A folder of tokenizers ($MLXBENCH_TOKENIZERS): ORG/NAME/, ORG--NAME/ or
-- NAME/ holding tokenizer.json, or NAME.json.
local function in_folder(root, org, name, tried)
  tried[#tried + 1] = root
  local cands = {}
  if org then
    local o = entry_ci(root, org)
    if o then cands[#cands + 1] = join(root, o, entry_ci(join(root, o), name) or name, "tokenizer.json") end
    local on = entry_ci(root, org .. "--" .. name)
    if on then cands[#cands + 1] = join(root, on, "tokenizer.json") end
  end
  local n = entry_ci(root, name)
  if n then cands[#cands + 1] = join(root, n, "tokenizer.json") end
  local nj = entry_ci(root, name .. ".json")
  if nj then cands[#cands + 1] = join(root, nj) end
  for _, p in ipairs(cands) do
    if is_file(p) then return p end
  end
  return nil
end

-- OpenAI's model names and the tiktoken encoding each uses.
local OPENAI = {
  { "^gpt%-4o", "o200k_base" }, { "^chatgpt%-4o", "o200k_base" }, { "^gpt%-4%.1", "o200k_base" },
  { "^gpt%-4%.5", "o200k_base" }, { "^gpt%-5", "o200k_base" }, { "^o%d", "o200k_base" },
  { "^gpt%-oss", "o200k_base" }, { "^gpt%-4", "cl100k_base" }, { "^gpt%-3%.5", "cl100k_base" },
  { "^text%-embedding%-3", "cl100k_base" }, { "^text%-embedding%-ada%-002", "cl100k_base" },
}

-- tiktoken caches rank files under the SHA-1 of their URL.
local TIKTOKEN_SHA1 = {
  o200k_base = "fb374d419588a4632f3f557e76b4b70aebbca790",
  cl100k_base = "9b5ad71b2ce5302211f9c61530b329a4922fc6a4",
}

function M.openai_encoding(model)
  local m = (model:match("([^/]+)$") or model):lower()
  for _, e in ipairs(OPENAI) do
    if m:find(e[1]) then return e[2] end
  end
  return nil
end

local function tiktoken_file(enc, tried)
  local dirs = {}
  local mt = os.getenv("MLXBENCH_TOKENIZERS")
  if mt and mt ~= "" then
    for _, f in ipairs{ enc .. ".tiktoken", enc .. ".json" } do
      tried[#tried + 1] = join(mt, f)
      if is_file(join(mt, f)) then return join(mt, f) end
    end
  end
  for _, v in ipairs{ "TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR" } do
    local d = os.getenv(v)
    if d and d ~= "" then dirs[#dirs + 1] = d end
  end
  dirs[#dirs + 1] = join(os.getenv("TMPDIR") or "/tmp", "data-gym-cache")
  for _, d in ipairs(dirs) do
    tried[#tried + 1] = d
    if is_file(join(d, TIKTOKEN_SHA1[enc])) then return join(d, TIKTOKEN_SHA1[enc]) end
  end
  return nil
end

-- find(model) -> path | nil, searched. model: a path (file or folder), a
-- Hugging Face repo id ("org/name"), a bare model name as an API serves it,
-- or an OpenAI model name. Looks in $MLXBENCH_TOKENIZERS, the Hugging Face
-- cache, LM Studio's model folders and tiktoken's cache; no network.
function M.find(model)
  if type(model) ~= "string" or model == "" then return nil, {} end
  local tried = {}
  if is_file(model) then return model end
  if sys.file_kind(model) == "dir" and is_file(join(model, "tokenizer.json")) then
    return join(model, "tokenizer.json")
  end
  local org, name = split_model(model)
  local mt = os.getenv("MLXBENCH_TOKENIZERS")
  local p = (mt and mt ~= "" and in_folder(mt, org, name, tried))
    or in_hf_cache(org, name, tried)
    or in_lmstudio(org, name, tried)
  if p then return p end
  local enc = M.openai_encoding(model)
  if enc then
    p = tiktoken_file(enc, tried)
    if p then return p end
  end
  return nil, tried
end

return M
