-- mlxbench.target: where requests go. A target is a base URL, an API shape
-- (openai | anthropic | completions), optional headers and a key. The key is
-- kept out of the target table itself (in a weak side table), so printing,
-- serialising or logging a target can never reveal it; every secret a target
-- holds (key, URL credentials, secret header values) is registered with the
-- redactor (mlxbench._redact), which every output of the process goes
-- through.
--
-- Which key goes where (one rule for every key; docs/RELIABILITY.md):
--   * api_key = "..." (the script's own) or api_key_env = "VAR" (named by
--     the user; --api-key-env VAR) is sent to this target's host; a named
--     variable that is not set is an error, never a silent "no key".
--   * otherwise an environment key goes only to its provider's host:
--     OPENAI_API_KEY to api.openai.com, ANTHROPIC_API_KEY to
--     api.anthropic.com -- a local server gets no key, and a 401 from it
--     says which variable to name.
--   * never over plain http:// to a host that is not loopback, unless
--     allow_http_key = true (--allow-http-key).
local redact = require "mlxbench._redact"

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

-- redact_url(url): a URL fit to show: no user info, the values of secret
-- query parameters (key, token, sig, signature, sas, access_token,
-- password, ...) replaced by REDACTED, known keys replaced.
function M.redact_url(url)
  return redact.url(tostring(url))
end

-- The provider each well-known key variable belongs to: that variable is
-- sent to that host only, unless the user names it for a target.
M.PROVIDER_HOSTS = { OPENAI_API_KEY = "api.openai.com", ANTHROPIC_API_KEY = "api.anthropic.com" }

-- the well-known variable for an API shape
local function provider_env(api)
  return api == "anthropic" and "ANTHROPIC_API_KEY" or "OPENAI_API_KEY"
end

-- is_loopback(host) -> true for localhost, 127.0.0.0/8 and ::1: traffic that
-- never leaves the machine.
function M.is_loopback(h)
  h = (h or ""):lower()
  return h == "localhost" or h:match("%.localhost$") ~= nil
    or h:match("^127%.%d+%.%d+%.%d+$") ~= nil or h == "::1" or h == "0:0:0:0:0:0:0:1"
end

-- register(url, headers, secret_headers): registers every secret in
-- request options with the redactor: the URL's user info and secret query
-- values, secret header values (and the names the user marks secret). For
-- targets, llm.request's and http.request's own headers and URLs.
local function register_secrets(url, headers, secret_headers)
  if type(url) ~= "string" then url = "" end
  local auth = url:match("^%a[%w+.-]*://([^/?#]*)@")
  if auth then
    redact.add(auth)
    for part in auth:gmatch("[^:]+") do redact.add(part) end
  end
  for name, value in url:gmatch("[?&;]([^=&#]+)=([^&#]*)") do
    if redact.is_secret_name(name) then redact.add(value) end
  end
  for _, n in ipairs(secret_headers or {}) do redact.add_name(tostring(n)) end
  for k, v in pairs(type(headers) == "table" and headers or {}) do
    local name, value = k, v
    if type(k) == "number" then name, value = tostring(v):match("^([^:]+):%s*(.*)$") end
    if type(name) == "string" and redact.is_secret_name(name) and value ~= nil then
      value = tostring(value)
      redact.add(value)
      local scheme_token = value:match("^%a+%s+(%S+)$")   -- "Bearer xyz"
      if scheme_token then redact.add(scheme_token) end
    end
  end
end
M.register = register_secrets

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
  if type(url) ~= "string" or not url:match("^[Hh][Tt][Tt][Pp][Ss]?://[^/]") then
    error("mlxbench.target: url must be an http(s) URL, got " .. M.redact_url(tostring(url)), 2)
  end
  local api = opts.api or M.infer_api(url, opts.model)
  if not APIS[api] then
    error("mlxbench.target: api must be openai, anthropic or completions, got " .. tostring(api), 2)
  end
  if opts.headers ~= nil and type(opts.headers) ~= "table" then
    error("mlxbench.target: headers must be a table", 2)
  end
  if opts.secret_headers ~= nil and type(opts.secret_headers) ~= "table" then
    error("mlxbench.target: secret_headers must be a list of header names", 2)
  end
  if opts.api_key ~= nil and type(opts.api_key) ~= "string" then
    error("mlxbench.target: api_key must be a string", 2)
  end
  register_secrets(url, opts.headers, opts.secret_headers)
  local host = M.host(url)
  if opts.tokenizer ~= nil and type(opts.tokenizer) ~= "string" then
    error("mlxbench.target: tokenizer must be \"auto\", \"none\", a path or a model name", 2)
  end
  local t = {
    name = opts.name or M.backend_of(url),
    url = url:gsub("/+$", ""),
    api = api,
    headers = opts.headers or {},
    backend = opts.backend or M.backend_of(url),
    timeout = opts.timeout,
    model = opts.model_override or (opts.serves and opts.model) or nil,
    allow_http_key = opts.allow_http_key or nil,
    secret_headers = opts.secret_headers,
    tokenizer = opts.tokenizer,   -- "auto" | "none" | a path or model name (mlxbench.tokens)
  }
  local key = opts.api_key
  if key == "" then key = nil end
  if key == nil and opts.api_key_env ~= nil then
    -- named by the user: sent to this host; unset is an error, not "no key"
    local var = opts.api_key_env
    if type(var) ~= "string" or var == "" then
      error("mlxbench.target: api_key_env must be the name of an environment variable", 2)
    end
    key = os.getenv(var)
    if key == nil or key == "" then
      error(string.format("mlxbench.target: api_key_env names %s, which is not set (or is empty) "
        .. "in the environment: export it, or drop the option to send no key", var), 2)
    end
    t.key_env = var
  elseif key == nil then
    -- a provider's variable goes to that provider's host only
    local var = provider_env(api)
    local v = os.getenv(var)
    if v == "" then v = nil end
    if host == M.PROVIDER_HOSTS[var] then
      key, t.key_env = v, var
    elseif v ~= nil then
      t.key_hint_env = var   -- set, not sent: a 401 says so
    end
    if t.backend ~= "local" then t.key_env = t.key_env or var end
  end
  if key ~= nil then
    redact.add(key)
    if url:match("^[Hh][Tt][Tt][Pp]://") and not M.is_loopback(host) and not opts.allow_http_key then
      error(string.format("mlxbench.target: refusing to send the API key over plain http:// to %s "
        .. "(anyone on the way can read it): use https://, or allow_http_key = true "
        .. "(--allow-http-key) on a network you trust", host), 2)
    end
  end
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

-- key_hint() -> nil, or one line for a 401/403 from a target that got no
-- key although a provider's variable is set (it goes only to its provider)
function methods:key_hint()
  local var = self.key_hint_env
  if not var or secrets[self] then return nil end
  return string.format("%s is set but is sent only to %s; to send it to %s, name it: "
    .. "--api-key-env %s (api_key_env = \"%s\" in a script)", var, M.PROVIDER_HOSTS[var],
    M.host(self.url), var, var)
end

function methods:endpoint() return M.endpoint(self) end

M.mt.__tostring = function(t) return "target " .. t.name .. " (" .. M.redact_url(t.url) .. ")" end

-- warn_insecure(url): one line on stderr, once per host and process, when
-- a request skips TLS verification (insecure = true): it must never be
-- silent (the results' config records it too).
local warned = {}
function M.warn_insecure(url)
  if type(url) ~= "string" or not url:match("^[Hh][Tt][Tt][Pp][Ss]://") then return end
  local h = M.host(url)
  if warned[h] then return end
  warned[h] = true
  io.stderr:write("mlxbench: warning: TLS certificate verification is off (insecure) for ", h,
    ": the server's identity is not checked; prefer --cacert FILE\n")
end

-- redact(s, ...) -> s for a message: the given secrets (registered), every
-- known key and anything shaped like a credential replaced (redact.h).
function M.redact(s, ...)
  if type(s) ~= "string" then return s end
  for i = 1, select("#", ...) do
    local k = select(i, ...)
    if type(k) == "string" then redact.add(k) end
  end
  return redact.text(s)
end

return M
