-- One class of the soak test's paced traffic (bench/soak.sh), for wrk:
--
--   wrk -t1 -cC -dDs -s bench/soak.lua http://127.0.0.1:PORT -- CLASS DELAY_MS KEY
--
-- CLASS: valid (the key is known: 200), invalid (an unknown key: 401), missing (no key:
-- 401) or pipelined (valid, invalid, missing, valid written at once: 200 and 401). Each
-- connection waits DELAY_MS after each answer (each batch, pipelined), which paces the
-- class at about connections x 1000 / DELAY_MS requests (batches) a second. At the end
-- it prints one line per status seen: "status CLASS CODE COUNT".

local threads = {}
local pause, request_text

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  class = args[1]
  pause = tonumber(args[2])
  local key = args[3]
  local valid = wrk.format("GET", "/soak/valid", { ["Host"] = "soak", ["apikey"] = key })
  local invalid = wrk.format("GET", "/soak/invalid",
    { ["Host"] = "soak", ["apikey"] = "soak-unknown-key-0000000000" })
  local missing = wrk.format("GET", "/soak/missing", { ["Host"] = "soak" })
  if class == "valid" then
    request_text = valid
  elseif class == "invalid" then
    request_text = invalid
  elseif class == "missing" then
    request_text = missing
  else
    request_text = valid .. invalid .. missing .. valid
  end
  statuses = {}
end

function request()
  return request_text
end

function delay()
  return pause
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  -- done() runs outside the threads: their globals are fetched.
  local class = threads[1]:get("class")
  local total = {}
  for _, thread in ipairs(threads) do
    local seen = thread:get("statuses") or {}
    for status, count in pairs(seen) do
      total[status] = (total[status] or 0) + count
    end
  end
  for status, count in pairs(total) do
    io.write(string.format("status %s %d %d\n", class, status, count))
  end
  local errors = summary.errors
  io.write(string.format("errors %s connect=%d read=%d write=%d timeout=%d\n",
    class, errors.connect, errors.read, errors.write, errors.timeout))
end
