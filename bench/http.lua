-- wrk script of bench/http.sh: posts usage batches over keep-alive connections.
-- Arguments (after --): TEMPLATE TOKEN RUN
--   TEMPLATE  an NDJSON batch whose event ids hold the placeholder @P@
--   TOKEN     a host token
--   RUN       a label making this run's ids differ from every other run's
-- HTTP_BENCH_PAUSE_MS in the environment: the pause of each connection between its
-- batches (unset: none; wrk decides whether a script paces when it loads it).
-- Each request puts "<RUN>t<thread>b<counter>" in place of the placeholder, so every
-- batch holds new events (the template is split once; a batch is one concatenation).

local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local parts = {}
local run = "r"
local counter = 0

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local template = file:read("*a")
  file:close()
  local position = 1
  while true do
    local first, last = string.find(template, "@P@", position, true)
    if not first then
      parts[#parts + 1] = string.sub(template, position)
      break
    end
    parts[#parts + 1] = string.sub(template, position, first - 1)
    position = last + 1
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-ndjson"
  wrk.headers["Authorization"] = "Bearer " .. args[2]
  run = args[3] or run
end

function request()
  counter = counter + 1
  local prefix = run .. "t" .. tid .. "b" .. counter
  return wrk.format(nil, nil, nil, table.concat(parts, prefix))
end

local pause = tonumber(os.getenv("HTTP_BENCH_PAUSE_MS") or "0")
if pause > 0 then
  function delay()
    return pause
  end
end
