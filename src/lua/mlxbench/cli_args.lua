-- mlxbench.cli_args: option parsing for the subcommands. A spec maps each
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
          return nil, "unknown option '--" .. name .. "'"
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

-- Converters that give a clear message for bad values.
function M.int(opts, name, min, max)
  local v = opts[name]
  if v == nil then return nil end
  local n = math.tointeger(tonumber(v))
  if not n or (min and n < min) or (max and n > max) then
    return nil, string.format("--%s must be an integer%s, got '%s'", name,
      min and (" >= " .. min) or "", tostring(v))
  end
  return n
end

function M.num(opts, name, min)
  local v = opts[name]
  if v == nil then return nil end
  local n = tonumber(v)
  if not n or n ~= n or (min and n < min) then
    return nil, string.format("--%s must be a number%s, got '%s'", name,
      min and (" >= " .. min) or "", tostring(v))
  end
  return n
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

-- help(spec, order) -> option lines for a usage message
function M.help(spec, order)
  local out = {}
  for _, name in ipairs(order) do
    local s = spec[name]
    local left = (s.short and ("-" .. s.short .. ", ") or "    ") .. "--" .. name
      .. (s.arg and (" " .. s.arg) or "")
    out[#out + 1] = string.format("  %-28s %s", left, s.help or "")
  end
  return table.concat(out, "\n")
end

return M
