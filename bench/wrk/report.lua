-- Appended to every scenario script by bench/http.py: stop after BENCH_MAX responses per thread, and print
-- one machine-readable line with the latency percentiles when wrk is done.
local max_per_thread = tonumber(os.getenv("BENCH_MAX_PER_THREAD") or "0") or 0
local seen = 0

function response(status, headers, body)
  seen = seen + 1
  if max_per_thread > 0 and seen >= max_per_thread then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, '
    .. '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
