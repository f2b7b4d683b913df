-- bench/compare/stats.lua — wrk script for bench/compare/run.sh: the
-- requests wrk makes are its own (GET of the URL); done() prints the
-- figures as "STAT name value" lines for the script to read.

function done(summary, latency, requests)
   local secs = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format("STAT seconds %.2f\n", secs))
   io.write(string.format("STAT requests %d\n", summary.requests))
   io.write(string.format("STAT rate %.0f\n", summary.requests / secs))
   for _, p in ipairs({50, 99}) do
      io.write(string.format("STAT p%d_ms %.2f\n", p,
                             latency:percentile(p) / 1000))
   end
   io.write(string.format("STAT not_2xx %d\n", e.status))
   io.write(string.format("STAT socket_errors %d\n",
                          e.connect + e.read + e.write + e.timeout))
end
