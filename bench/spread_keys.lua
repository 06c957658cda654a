-- wrk script for bench/spread_keys.sh: every request carries the next key of the file
-- named by KEYS_FILE (one key per line), in the file's order, starting again at the end.
-- With a file of every valid key of a key set, the gateway's index is read all over, as
-- under load from many clients, instead of one key that stays in the CPU's caches.
--
-- The requests are formatted once, in init: a request then costs wrk no new string, so
-- its garbage collector never pauses a run (with half a million keys, formatting each
-- request as it goes made pauses that showed as tens of milliseconds of p99 latency).

local requests = {}
local next_request = 0

init = function(args)
  local path = os.getenv("KEYS_FILE")
  for line in io.lines(path) do
    if #line > 0 then
      requests[#requests + 1] = wrk.format("GET", "/", { ["apikey"] = line })
    end
  end
  if #requests == 0 then
    error("no keys in " .. tostring(path))
  end
  collectgarbage()
end

request = function()
  next_request = next_request % #requests + 1
  return requests[next_request]
end
