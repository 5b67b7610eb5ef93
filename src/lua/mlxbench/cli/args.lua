-- mlxbench.cli.args: option parsing for the subcommands. A spec maps each
-- long option to {short=, arg="NAME"|nil, multi=true|nil, help=}; flags
-- without `arg` are booleans. Accepts --opt=value, --opt value, -x value,
-- -xVALUE and `--` to end options. Errors are values: nil, message.
local M = {}

-- parse(argv, spec) -> opts, positionals | nil, message
function M.parse(argv, spec)
  local short = {}
  for name, s in pairs(spec) do
    if s.short then short[s.short] = name end
  end
  local opts, pos = {}, {}
  local i = 1
  while i <= #argv do
    local a = argv[i]
    local name, value
    if a == "--" then
      for j = i + 1, #argv do pos[#pos + 1] = argv[j] end
      break
    elseif a:sub(1, 2) == "--" then
      name, value = a:match("^%-%-([^=]+)=(.*)$")
      name = name or a:sub(3)
    elseif a:sub(1, 1) == "-" and #a > 1 and not a:match("^%-%d") then
      local s = a:sub(2, 2)
      name = short[s]
      if not name then return nil, "unknown option '-" .. s .. "'" end
      if #a > 2 then value = a:sub(3) end
    else
      pos[#pos + 1] = a
      name = nil
    end
    if name then
      local s = spec[name]
      if not s then
        -- --no-X for boolean X
        local base = name:match("^no%-(.+)$")
        if base and spec[base] and not spec[base].arg then
          opts[base] = false
        else
          local names = {}
          for k in pairs(spec) do names[#names + 1] = k end
          table.sort(names)
          return nil, "unknown option '--" .. name .. "'" .. M.did_you_mean(name, names, "--")
        end
      elseif s.arg then
        if value == nil then
          i = i + 1
          value = argv[i]
          if value == nil then return nil, "option --" .. name .. " needs a value (" .. s.arg .. ")" end
        end
        if s.multi then
          opts[name] = opts[name] or {}
          opts[name][#opts[name] + 1] = value
        else
          opts[name] = value
        end
      else
        if value ~= nil then return nil, "option --" .. name .. " takes no value" end
        opts[name] = true
      end
    end
    i = i + 1
  end
  return opts, pos
end

-- distance(a, b) -> the Levenshtein distance (small strings: option names)
local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

-- suggest(word, candidates) -> the closest candidate within a third of its
-- length (at least 2 edits), or nil: "did you mean ttft?"
function M.suggest(word, candidates)
  local best, bd
  for _, c in ipairs(candidates) do
    local d = distance(word:lower(), c:lower())
    if d <= math.max(2, #c // 3) and (not bd or d < bd) then best, bd = c, d end
  end
  return best
end

-- " (did you mean X?)" or ""
function M.did_you_mean(word, candidates, prefix)
  local s = M.suggest(word, candidates)
  return s and string.format(" (did you mean %s%s?)", prefix or "", s) or ""
end

local function fmt_bound(v)
  if v == math.huge then return "inf" end
  if math.type(v) == "integer" or (v == math.floor(v) and math.abs(v) < 2 ^ 53) then
    return string.format("%d", math.floor(v))
  end
  return string.format("%g", v)
end

-- Converters that give a clear message for bad values: an integer (or a
-- number) in [min, max]; `gt` makes the lower bound exclusive.
function M.int(opts, name, min, max, unit)
  local v = opts[name]
  if v == nil then return nil end
  if math.type(v) == "integer" and (not min or v >= min) and (not max or v <= max) then return v end
  local n = math.tointeger(tonumber(v))
  if not n or (min and n < min) or (max and n > max) then
    local range = (min and max) and string.format(" in %s..%s", fmt_bound(min), fmt_bound(max))
      or min and (" >= " .. fmt_bound(min)) or ""
    return nil, string.format("--%s must be an integer%s%s, got '%s'", name, range,
      unit and (" (" .. unit .. ")") or "", tostring(v))
  end
  return n
end

function M.num(opts, name, min, max, gt, unit)
  local v = opts[name]
  if v == nil then return nil end
  local n = tonumber(v)
  if not n or n ~= n or (min and (n < min or (gt and n == min))) or (max and n > max) then
    local lo = min and ((gt and " > " or " >= ") .. fmt_bound(min)) or ""
    local hi = max and ((min and " and" or "") .. " <= " .. fmt_bound(max)) or ""
    return nil, string.format("--%s must be a number%s%s%s, got '%s'", name, lo, hi,
      unit and (" (" .. unit .. ")") or "", tostring(v))
  end
  return n
end

-- check(opts, spec) -> true | nil, message: converts every numeric option
-- in place, as its spec says: int = {min, max} or num = {min, max, gt}
-- (gt: the minimum itself is refused). Each numeric option of a command
-- is range-checked here, so a value such as --rate 1e308 is one clear
-- line, never a failure deep inside a run.
function M.check(opts, spec)
  for name, s in pairs(spec) do
    if opts[name] ~= nil and opts[name] ~= false and (s.int or s.num) then
      local v, err
      if s.int then
        v, err = M.int(opts, name, s.int[1], s.int[2], s.unit)
      else
        v, err = M.num(opts, name, s.num[1], s.num[2], s.num.gt, s.unit)
      end
      if err then return nil, err end
      opts[name] = v
    end
  end
  return true
end

-- kv("ttft=0.5,tpot=0.05") -> {ttft=0.5, tpot=0.05} | nil, message
function M.kv_numbers(s, what)
  local t = {}
  for part in s:gmatch("[^,]+") do
    local k, v = part:match("^%s*([%w_]+)%s*=%s*([^%s]+)%s*$")
    local n = v and tonumber((v:gsub("ms$", "")))
    if n and v:match("ms$") then n = n / 1000 end
    if not k or not n then return nil, string.format("%s: cannot read '%s' (want name=seconds)", what, part) end
    t[k] = n
  end
  return t
end

-- command{name=, synopsis=, about=, spec=, order=, exit=} -> cmd, the
-- plumbing every command repeats:
--   cmd:usage()       -> "usage: NAME SYNOPSIS\n\nABOUT\n\noptions..."
--   cmd:parse(argv)   -> opts, positionals (int/num options range-checked,
--                        args.check); or nil, exit code after printing the
--                        error with a --help hint (2) or the usage (--help: 0)
--   cmd:die(msg [, hint]) -> 2 after "NAME: msg" on stderr (and the --help
--                        hint when asked)
-- With exit = true (scenario scripts) parse and die end the process instead
-- of returning the code.
local Cmd = {}
Cmd.__index = Cmd

function M.command(c)
  assert(c.name and c.spec, "command{} needs name and spec")
  if not c.order then
    c.order = {}
    for k in pairs(c.spec) do c.order[#c.order + 1] = k end
    table.sort(c.order)
  end
  return setmetatable(c, Cmd)
end

function Cmd:usage()
  return "usage: " .. self.name .. (self.synopsis and (" " .. self.synopsis) or "") .. "\n\n"
    .. (self.about and (self.about .. "\n\n") or "") .. M.help(self.spec, self.order) .. "\n"
end

local function leave(self, code)
  if self.exit then
    io.stdout:flush()
    os.exit(code)
  end
  return code
end

function Cmd:die(msg, hint)
  io.stderr:write(self.name, ": ", tostring(msg), "\n")
  if hint then io.stderr:write("(", self.name, " --help lists the options)\n") end
  return leave(self, 2)
end

function Cmd:parse(argv)
  local o, pos = M.parse(argv, self.spec)
  if not o then return nil, self:die(pos, true) end
  if o.help then
    io.stdout:write(self:usage())
    return nil, leave(self, 0)
  end
  local ok, err = M.check(o, self.spec)
  if not ok then return nil, self:die(err, true) end
  return o, pos
end

-- help(spec, order) -> option lines for a usage message
function M.help(spec, order)
  local out = {}
  for _, name in ipairs(order) do
    local s = spec[name]
    local left = (s.short and ("-" .. s.short .. ", ") or "    ") .. "--" .. name
      .. (s.arg and (" " .. s.arg) or "")
    out[#out + 1] = string.format("  %-30s %s", left, s.help or "")
  end
  return table.concat(out, "\n")
end

return M
