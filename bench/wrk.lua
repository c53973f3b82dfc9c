-- wrk script driven by bench/wrk.py: requests come from a file, one is picked per
-- request, and done() prints one machine-readable line so nothing parses wrk's text.
--
-- Environment (set by bench/wrk.py):
--   BENCH_REQUESTS_FILE  one request per line: METHOD \t PATH \t BODY [\t Header: value]...
--   BENCH_PICK           "first" (hot: the same request every time), "sequence" (cold:
--                        the lines in order from BENCH_START, threads interleaved, so no
--                        line repeats until all were sent), "random" (a random line per
--                        request) or "unique" (as "sequence", with every "@N@" replaced by
--                        a tag unique to this request)
--   BENCH_START          where "sequence" and "unique" start (carried on between runs)
--   BENCH_THREADS        wrk's thread count, for "sequence" to interleave threads
--   BENCH_MAX_REQUESTS   stop a thread after this many responses (0: only the duration)
--   BENCH_SEED           seeds the per-thread random generator (reproducible picks)
--   BENCH_NONCE          part of the "@N@" tag, so that separate runs never repeat one
--   BENCH_COUNT_CACHE    "1": count responses by their x-cache header, "hit", "shared"
--                        (a signed-in list built on a stored body) or "miss" (cold
--                        probes only: reading a header per response is not free)

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("bench_timespec")

local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) * 1e6 + tonumber(timespec.tv_nsec) / 1e3
end

local function split(line, separator)
  local fields = {}
  for field in (line .. separator):gmatch("(.-)" .. separator) do
    table.insert(fields, field)
  end
  return fields
end

-- Globals, not locals: done() reads them from each thread with thread:get().
bench_responses = 0
bench_non2xx = 0
bench_elapsed_us = 0
bench_hits = 0
bench_shared = 0
bench_misses = 0

local pick = os.getenv("BENCH_PICK") or "first"
local max_requests = tonumber(os.getenv("BENCH_MAX_REQUESTS") or "0")
local nonce = os.getenv("BENCH_NONCE") or "0"
local start = tonumber(os.getenv("BENCH_START") or "0")
local thread_count = tonumber(os.getenv("BENCH_THREADS") or "1")
local count_cache = os.getenv("BENCH_COUNT_CACHE") == "1"
local templates = {}
local requests = {}
local sent = 0
local started_us = 0

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("bench_thread_id", #threads)
end

function init(args)
  for line in io.lines(os.getenv("BENCH_REQUESTS_FILE")) do
    local fields = split(line, "\t")
    local headers = {}
    for index = 4, #fields do
      local name, value = fields[index]:match("^([^:]+):%s*(.*)$")
      headers[name] = value
    end
    local body = fields[3] ~= "" and fields[3] or nil
    table.insert(templates, { method = fields[1], path = fields[2], headers = headers, body = body })
  end
  -- Formatting a request is the expensive part: do it once, unless each one differs.
  if pick ~= "unique" then
    for index, t in ipairs(templates) do
      requests[index] = wrk.format(t.method, t.path, t.headers, t.body)
    end
  end
  math.randomseed(tonumber(os.getenv("BENCH_SEED") or "1") * 1000 + bench_thread_id)
  started_us = now_us()
end

local function next_index()
  return (start + (sent - 1) * thread_count + bench_thread_id - 1) % #templates + 1
end

function request()
  sent = sent + 1
  if pick == "sequence" then
    return requests[next_index()]
  elseif pick == "random" then
    return requests[math.random(#requests)]
  elseif pick == "unique" then
    local t = templates[next_index()]
    local tag = nonce .. "-" .. bench_thread_id .. "-" .. sent
    local body = t.body and t.body:gsub("@N@", tag) or nil
    return wrk.format(t.method, (t.path:gsub("@N@", tag)), t.headers, body)
  end
  return requests[1]
end

function response(status, headers, body)
  bench_responses = bench_responses + 1
  if status < 200 or status > 299 then
    bench_non2xx = bench_non2xx + 1
  end
  if count_cache then
    local cache = headers["x-cache"] or headers["X-Cache"]
    if cache == "hit" then
      bench_hits = bench_hits + 1
    elseif cache == "shared" then
      bench_shared = bench_shared + 1
    elseif cache == "miss" then
      bench_misses = bench_misses + 1
    end
  end
  if max_requests > 0 and bench_responses >= max_requests then
    -- wrk's own duration is always the full -d: remember when this thread was done.
    bench_elapsed_us = now_us() - started_us
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local non2xx, hits, shared, misses, capped_us, all_capped = 0, 0, 0, 0, 0, true
  for _, thread in ipairs(threads) do
    non2xx = non2xx + thread:get("bench_non2xx")
    hits = hits + thread:get("bench_hits")
    shared = shared + thread:get("bench_shared")
    misses = misses + thread:get("bench_misses")
    local elapsed = thread:get("bench_elapsed_us")
    if elapsed > 0 then
      capped_us = math.max(capped_us, elapsed)
    else
      all_capped = false
    end
  end
  local duration = all_capped and capped_us or summary.duration
  local cache = "null"
  if count_cache then
    cache = string.format('{"hits": %.0f, "shared": %.0f, "misses": %.0f}', hits, shared, misses)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %.0f, "duration_us": %.0f, "bytes": %.0f, "non2xx": %.0f, '
      .. '"capped": %s, "errors": {"connect": %.0f, "read": %.0f, "write": %.0f, '
      .. '"timeout": %.0f, "status": %.0f}, "latency_us": {"p50": %.0f, "p90": %.0f, '
      .. '"p99": %.0f, "max": %.0f, "mean": %.1f}, "cache": %s}\n',
    summary.requests, duration, summary.bytes, non2xx, tostring(all_capped),
    e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, cache
  ))
end
