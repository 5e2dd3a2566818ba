-- W8: wrk posts valid sensor readings to POST /sensor, one per request.
--
--   wrk -t2 -c64 -d30s -s tools/bench/w8_post_sensor.lua http://127.0.0.1:PORT/sensor
--
-- Each reading is unique and checkable: sensor_id "w8-<thread>-<n % 100>",
-- value = the thread's sequence number n (an integer), timestamp = the wall
-- clock (ms) when the request is built, so a consumer can tell how long the
-- reading took to become visible. done() prints one JSON line:
--   {"w8": {"requests": .., "status": {"202": ..}, "errors": ..}}
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_usec; } timeval;
  int gettimeofday(timeval *tv, void *tz);
]]
local tv = ffi.new("timeval")

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  seq = 0
  statuses = {}
  headers = { ["Content-Type"] = "application/json" }
end

function request()
  ffi.C.gettimeofday(tv, nil)
  local sec = tonumber(tv.tv_sec)
  local ms = math.floor(tonumber(tv.tv_usec) / 1000)
  local ts = os.date("!%Y-%m-%dT%H:%M:%S", sec) .. string.format(".%03dZ", ms)
  local body = string.format(
    '{"sensor_id":"w8-%d-%d","timestamp":"%s","type":"temperature","value":%d,"unit":"C","location":"lab-%d"}',
    tid, seq % 100, ts, seq, seq % 7)
  seq = seq + 1
  return wrk.format("POST", nil, headers, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for code, n in pairs(s) do
      total[code] = (total[code] or 0) + n
    end
  end
  local parts = {}
  for code, n in pairs(total) do
    table.insert(parts, string.format('"%d": %d', code, n))
  end
  local e = summary.errors
  io.write(string.format(
    '{"w8": {"requests": %d, "seconds": %.3f, "status": {%s}, "errors": %d, ' ..
    '"p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f}}\n',
    summary.requests, summary.duration / 1e6, table.concat(parts, ", "),
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
