-- wrk script for the login endpoints. Arguments after `--`:
--   mode  health | send | file
--   path  the endpoint
--   threads  the -t value (to split the bodies file between threads)
--   file  (mode file) one JSON body per line, each used once;
--         (mode send) a tag that makes this run's addresses its own
-- Every request carries its own CF-Connecting-IP so per-IP flood limits stay out
-- of the measurement. done() prints one JSON line with the figures.
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  mode = args[1]
  path = args[2]
  local nthreads = tonumber(args[3])
  bodies = {}
  tag = args[4] or ""
  if mode == "file" then
    local i = 0
    for line in io.lines(args[4]) do
      if i % nthreads == id then
        table.insert(bodies, line)
      end
      i = i + 1
    end
  end
  n = 0
end

function request()
  n = n + 1
  local headers = {
    ["Content-Type"] = "application/json",
    ["CF-Connecting-IP"] = string.format("10.%d.%d.%d", id, math.floor(n / 256) % 256, n % 256),
  }
  if mode == "health" then
    return wrk.format("GET", path, headers)
  end
  local body
  if mode == "send" then
    body = string.format('{"email":"bench-%s-%d-%d@example.com"}', tag, id, n)
  else
    -- Past the end of the file a body is reused and answers 4xx, counted as non2xx.
    body = bodies[((n - 1) % #bodies) + 1]
  end
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"durationUs":%d,"non2xx":%d,"socketErrors":%d,"p50Us":%d,"p99Us":%d,"meanUs":%.1f}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
