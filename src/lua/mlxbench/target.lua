-- mlxbench.target: where requests go. A target is a base URL, an API shape
-- (openai | anthropic | completions), optional headers and a key. The key is
-- kept out of the target table itself (in a weak side table), so printing,
-- serialising or logging a target can never reveal it.
local M = {}

M.DEFAULT_URL = "http://localhost:10242"
M.OPENAI_URL = "https://api.openai.com"
M.ANTHROPIC_URL = "https://api.anthropic.com"
M.tiers = {
  small = "mlx-community/Llama-3.2-3B-Instruct-4bit",
  medium = "mlx-community/Llama-3.1-8B-Instruct-4bit",
  large = "mlx-community/Llama-3.3-70B-Instruct-4bit",
}

local secrets = setmetatable({}, { __mode = "k" })
local APIS = { openai = true, anthropic = true, completions = true }

-- host of a URL, lower-cased, without userinfo and port
function M.host(url)
  local rest = url:match("^%a[%w+.-]*://(.*)$") or url
  local auth = rest:match("^([^/?#]*)") or ""
  auth = auth:gsub("^.*@", "")
  return (auth:gsub(":%d+$", ""):gsub("^%[(.*)%]$", "%1")):lower()
end

-- infer_api(url, model) -> api: from the cloud hosts, then the model name,
-- else "openai" (the shape every local server speaks).
function M.infer_api(url, model)
  local h = url and M.host(url) or ""
  if h == "api.openai.com" then return "openai" end
  if h == "api.anthropic.com" then return "anthropic" end
  local m = (model or ""):lower():gsub("^.*/", "")
  if m:match("^claude") then return "anthropic" end
  if m:match("^gpt") or m:match("^o1") or m:match("^o3") or m:match("^o4") then return "openai" end
  return "openai"
end

-- backend label of the results file: local | openai | anthropic
function M.backend_of(url)
  local h = M.host(url)
  if h == "api.openai.com" then return "openai" end
  if h == "api.anthropic.com" then return "anthropic" end
  return "local"
end

-- redact_url(url): drops userinfo and the values of key-like query params.
function M.redact_url(url)
  local s = url:gsub("^(%a[%w+.-]*://)[^/@?#]*@", "%1")
  s = s:gsub("([?&][%w_%-]*[Kk][Ee][Yy][%w_%-]*=)[^&#]*", "%1REDACTED")
  s = s:gsub("([?&][%w_%-]*[Tt][Oo][Kk][Ee][Nn][%w_%-]*=)[^&#]*", "%1REDACTED")
  return s
end

local function default_key_env(api, url)
  local h = M.host(url)
  if api == "anthropic" or h == "api.anthropic.com" then return "ANTHROPIC_API_KEY" end
  if h == "api.openai.com" then return "OPENAI_API_KEY" end
  return nil
end

-- endpoint(t) -> full URL of the API call for this target.
function M.endpoint(t)
  local suffix = ({ openai = "/chat/completions", completions = "/completions",
                    anthropic = "/messages" })[t.api]
  local base, query = t.url:match("^([^?#]*)(.*)$")
  local path = base:match("^%a[%w+.-]*://[^/]*(/.*)$") or ""
  if path:match("/chat/completions$") or path:match("/completions$") or path:match("/messages$") then
    return t.url
  end
  base = base:gsub("/+$", "")
  if not path:match("/v%d+/?$") then base = base .. "/v1" end
  return base .. suffix .. query
end

-- A group of targets tried by a policy:
--   failover    the first healthy member, in order; a member that fails at
--               the transport, with 5xx/429/529, is marked down for
--               `retry_after` seconds (default 1), then tried again, so
--               recovery after a fault is measured too;
--   round_robin members in turn (failing over to the next on failure).
M.group_mt = { __index = {} }
local gm = M.group_mt.__index

local function new_group(opts)
  local members = {}
  for i, m in ipairs(opts) do
    members[i] = (getmetatable(m) == M.mt) and m or M.new(m)
  end
  if #members == 0 then error("mlxbench.target: a target list needs at least one member", 3) end
  local policy = opts.policy or "failover"
  if policy ~= "failover" and policy ~= "round_robin" then
    error("mlxbench.target: policy must be failover or round_robin, got " .. tostring(policy), 3)
  end
  local names = {}
  for _, m in ipairs(members) do names[#names + 1] = m.name end
  return setmetatable({
    name = opts.name or table.concat(names, "+"), members = members, policy = policy,
    retry_after = opts.retry_after or 1.0, down_until = {}, backend = members[1].backend,
    api = members[1].api, url = members[1].url, is_group = true,
  }, M.group_mt)
end

-- order(i, now) -> members to try for request i, best first
function gm:order(i, now)
  local out, later = {}, {}
  local n = #self.members
  for k = 1, n do
    local idx = self.policy == "round_robin" and ((i - 1 + k - 1) % n + 1) or k
    local m = self.members[idx]
    if (self.down_until[m] or 0) <= now then out[#out + 1] = m else later[#later + 1] = m end
  end
  for _, m in ipairs(later) do out[#out + 1] = m end   -- all down: still try, best first
  return out
end

function gm:mark(t, ok, now)
  if ok then self.down_until[t] = nil else self.down_until[t] = now + self.retry_after end
end

function gm:public()
  local ms = {}
  for i, m in ipairs(self.members) do ms[i] = m:public() end
  return { name = self.name, url = M.redact_url(self.url), api = self.api, policy = self.policy,
           members = ms }
end

function gm:needs_key() return false end
function gm:has_key() return true end

-- group(t) -> a group view of a target or group (a single target is a
-- failover group of one)
function M.group(t, fallback)
  if getmetatable(t) == M.group_mt then return t end
  local list = { t, policy = "failover" }
  if fallback then list[2] = fallback end
  local g = new_group(list)
  g.name = t.name
  return g
end

-- target{name, url, api, api_key | api_key_env, headers, model?, tokenizer?} -> target
--   (model with serves = true: this target always serves that model, e.g. a
--    fallback running another tier)
-- target{ {url=...}, {url=...}, policy = "failover" | "round_robin" } -> group
function M.new(opts)
  if type(opts) == "string" then opts = { url = opts } end
  if type(opts) ~= "table" then error("mlxbench.target: expected a table of options", 2) end
  if type(opts[1]) == "table" then return new_group(opts) end
  local url = opts.url or M.DEFAULT_URL
  if type(url) ~= "string" or not url:match("^https?://[^/]") then
    error("mlxbench.target: url must be an http(s) URL, got " .. tostring(url), 2)
  end
  local api = opts.api or M.infer_api(url, opts.model)
  if not APIS[api] then
    error("mlxbench.target: api must be openai, anthropic or completions, got " .. tostring(api), 2)
  end
  if opts.headers ~= nil and type(opts.headers) ~= "table" then
    error("mlxbench.target: headers must be a table", 2)
  end
  if opts.tokenizer ~= nil and type(opts.tokenizer) ~= "string" then
    error("mlxbench.target: tokenizer must be \"auto\", \"none\", a path or a model name", 2)
  end
  local t = {
    name = opts.name or M.backend_of(url),
    url = url:gsub("/+$", ""),
    api = api,
    headers = opts.headers or {},
    backend = opts.backend or M.backend_of(url),
    key_env = opts.api_key_env or default_key_env(api, url),
    timeout = opts.timeout,
    model = opts.model_override or (opts.serves and opts.model) or nil,
    tokenizer = opts.tokenizer,   -- "auto" | "none" | a path or model name (mlxbench.tokens)
  }
  local key = opts.api_key
  if key == nil and t.key_env then key = os.getenv(t.key_env) end
  if key == "" then key = nil end
  secrets[t] = key
  return setmetatable(t, M.mt)
end

M.mt = { __index = {} }
local methods = M.mt.__index

-- has_key() -> whether a key is configured (from the options or environment)
function methods:has_key() return secrets[self] ~= nil end

-- needs_key() -> true for the cloud hosts, which reject anonymous calls
function methods:needs_key() return self.backend == "openai" or self.backend == "anthropic" end

-- public() -> what results and reports may show: never the key
function methods:public()
  return { name = self.name, url = M.redact_url(self.url), api = self.api }
end

-- auth_headers() -> list of "Name: value" strings carrying the key
function methods:auth_headers()
  local key = secrets[self]
  local h = {}
  if self.api == "anthropic" then
    if key then h[#h + 1] = "x-api-key: " .. key end
    h[#h + 1] = "anthropic-version: 2023-06-01"
  elseif key then
    h[#h + 1] = "Authorization: Bearer " .. key
  end
  return h
end

-- secret() -> the key, for redaction of server messages that echo it
function methods:secret() return secrets[self] end

function methods:endpoint() return M.endpoint(self) end

M.mt.__tostring = function(t) return "target " .. t.name .. " (" .. M.redact_url(t.url) .. ")" end

-- redact(s, ...) -> s with every given secret and anything shaped like an API
-- key (sk-..., sk-ant-...) replaced, for messages that reach results or logs.
function M.redact(s, ...)
  if type(s) ~= "string" then return s end
  for i = 1, select("#", ...) do
    local k = select(i, ...)
    if type(k) == "string" and #k >= 4 then
      local from = 1
      while true do
        local a, b = s:find(k, from, true)
        if not a then break end
        s = s:sub(1, a - 1) .. "[REDACTED]" .. s:sub(b + 1)
        from = a + 10
      end
    end
  end
  s = s:gsub("sk%-[%w_%-%*%.]+", "sk-[REDACTED]")
  s = s:gsub("([Bb]earer%s+)[%w_%-%.=]+", "%1[REDACTED]")
  return s
end

return M
