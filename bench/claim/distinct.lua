-- bench/claim/distinct.lua — wrk script for bench/claim/run.sh: every
-- request books a slot no other request asks for.
-- usage: wrk ... -s distinct.lua URL -- EVENT_TYPE FIRST_START_UTC STEP_S NTHREADS
-- Thread k of n books the slots FIRST + (k + j*n) * STEP for j = 0, 1, ...
-- (POST /api/v1/bookings, as the booking page does: no key), the attendee
-- one of 1,000 emails. Each thread counts its 201, 409 and other answers;
-- done() prints the sums and the latency percentiles as "CLAIM key value".

local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

local slug, first, step, nthreads
local j = 0
created, conflict, other = 0, 0, 0

function init(args)
   slug = args[1]
   first = tonumber(args[2])
   step = tonumber(args[3])
   nthreads = tonumber(args[4]) or 1
   if not (slug and first and step) then
      error("distinct.lua: usage: -- EVENT_TYPE FIRST_START_UTC STEP_S NTHREADS")
   end
end

function request()
   local k = id + j * nthreads
   j = j + 1
   local body = string.format(
      '{"event_type":"%s","start":"%s","attendee":' ..
      '{"name":"Bench Client %d","email":"client%d@example.com",' ..
      '"timezone":"Europe/Berlin"}}',
      slug, os.date("!%Y-%m-%dT%H:%M:%SZ", first + k * step),
      k % 1000, k % 1000)
   return wrk.format("POST", "/api/v1/bookings",
                     {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
   if status == 201 then
      created = created + 1
   elseif status == 409 then
      conflict = conflict + 1
   else
      other = other + 1
      if other <= 3 then
         io.stderr:write(string.format("distinct.lua: HTTP %d %s\n", status,
                                       (body or ""):sub(1, 300)))
      end
   end
end

function done(summary, latency, requests)
   local s_created, s_conflict, s_other = 0, 0, 0
   for _, t in ipairs(threads) do
      s_created = s_created + t:get("created")
      s_conflict = s_conflict + t:get("conflict")
      s_other = s_other + t:get("other")
   end
   local secs = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format("CLAIM seconds %.2f\n", secs))
   io.write(string.format("CLAIM created %d\n", s_created))
   io.write(string.format("CLAIM conflict %d\n", s_conflict))
   io.write(string.format("CLAIM other %d\n", s_other))
   io.write(string.format("CLAIM socket_errors %d\n",
                          e.connect + e.read + e.write + e.timeout))
   io.write(string.format("CLAIM per_s %.0f\n", s_created / secs))
   for _, p in ipairs({50, 90, 99, 99.9}) do
      io.write(string.format("CLAIM latency_p%s_ms %.2f\n", p,
                             latency:percentile(p) / 1000))
   end
   io.write(string.format("CLAIM latency_max_ms %.2f\n", latency.max / 1000))
end
