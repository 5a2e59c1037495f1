-- Cycles through prepared requests read from a file (one per line, tab-separated: METHOD, path, Cookie header,
-- form body; the last two may be empty). Each wrk thread starts at a different line.
-- Usage: wrk -s requests.lua URL -- /path/to/requests.tsv
local reqs = {}
local i = 0

local function split(line)
  local fields = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do
    fields[#fields + 1] = field
  end
  return fields
end

local threads_made = 0
function setup(thread)
  thread:set("tid", threads_made)
  threads_made = threads_made + 1
end

function init(args)
  for line in io.lines(args[1]) do
    local f = split(line)
    local headers = {}
    if f[3] ~= nil and f[3] ~= "" then headers["Cookie"] = f[3] end
    if f[4] ~= nil and f[4] ~= "" then
      headers["Content-Type"] = "application/x-www-form-urlencoded"
      headers["X-Requested-With"] = "XMLHttpRequest"
    end
    reqs[#reqs + 1] = wrk.format(f[1], f[2], headers, f[4] ~= "" and f[4] or nil)
  end
  i = ((tid or 0) * 7) % #reqs
end

function request()
  i = i % #reqs + 1
  return reqs[i]
end
