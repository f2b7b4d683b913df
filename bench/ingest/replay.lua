-- bench/ingest/replay.lua — wrk script for bench/ingest/run.sh.
-- usage: wrk ... -s replay.lua URL -- BODIES_FILE
-- BODIES_FILE holds one pre-signed delivery a line, "<signature>\t<body>"
-- (bench/ingest/sign.py). Thread k of n takes lines k, k+n, k+2n, ... and
-- cycles through them (a body sent again is a replay: answered 200
-- "duplicate" and not stored again). Each thread counts its 2xx answers,
-- the "duplicate" ones among them and the others; done() prints the sums.

local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

local sigs, bodies, n, i = {}, {}, 0, 0
ok, dup, other = 0, 0, 0

function init(args)
   local path = args[1]
   local nthreads = tonumber(args[2]) or 1
   local line_no = 0
   for line in io.lines(path) do
      if line_no % nthreads == id then
         local tab = line:find("\t", 1, true)
         n = n + 1
         sigs[n] = line:sub(1, tab - 1)
         bodies[n] = line:sub(tab + 1)
      end
      line_no = line_no + 1
   end
   if n == 0 then
      error("replay.lua: no bodies for thread " .. id .. " in " .. path)
   end
   loaded = n
end

function request()
   i = i % n + 1
   return wrk.format("POST", "/webhooks/calcom", {
      ["Content-Type"] = "application/json",
      ["X-Cal-Signature-256"] = sigs[i],
      ["X-Cal-Webhook-Version"] = "2021-10-20",
   }, bodies[i])
end

function response(status, headers, body)
   if status >= 200 and status < 300 then
      ok = ok + 1
      if body and body:find('"duplicate"', 1, true) then
         dup = dup + 1
      end
   else
      other = other + 1
   end
end

function done(summary, latency, requests)
   local s_ok, s_dup, s_other, s_loaded = 0, 0, 0, 0
   for _, t in ipairs(threads) do
      s_ok = s_ok + t:get("ok")
      s_dup = s_dup + t:get("dup")
      s_other = s_other + t:get("other")
      s_loaded = s_loaded + t:get("loaded")
   end
   local secs = summary.duration / 1e6
   io.write(string.format("INGEST bodies_loaded %d\n", s_loaded))
   io.write(string.format("INGEST seconds %.2f\n", secs))
   io.write(string.format("INGEST answered_2xx %d\n", s_ok))
   io.write(string.format("INGEST duplicates %d\n", s_dup))
   io.write(string.format("INGEST not_2xx %d\n", s_other))
   local e = summary.errors
   io.write(string.format("INGEST socket_errors %d\n",
                          e.connect + e.read + e.write + e.timeout))
   io.write(string.format(
      "INGEST socket_errors_detail connect=%d,read=%d,write=%d,timeout=%d\n",
      e.connect, e.read, e.write, e.timeout))
   io.write(string.format("INGEST new_per_s %.0f\n", (s_ok - s_dup) / secs))
   for _, p in ipairs({50, 90, 99, 99.9}) do
      io.write(string.format("INGEST latency_p%s_ms %.2f\n", p,
                             latency:percentile(p) / 1000))
   end
   io.write(string.format("INGEST latency_max_ms %.2f\n", latency.max / 1000))
end
