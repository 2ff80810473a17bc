"""The same load as loadgen.py, driven by wrk (Debian package `wrk`) when it is installed.

wrk is C with LuaJIT: on this 2-core machine it takes far less CPU from the server than Python clients
do, so the figures are closer to what the server can do. A Lua script gives every request its own
Idempotency-Key and contact, counts the statuses it did not expect, and prints its figures as JSON.
A warm-up run (not counted) comes before the measured one.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

SCRIPT = r"""
local threads = {}
local spec = {}

-- args: kind (healthz, event, answer, file), API key, touchpoint (events) or score (answers), key prefix,
-- expected status, "1" to give contacts phones, the file of links to answer (one token a line) or of prepared
-- requests (kind "file", one request a line), the number of threads.
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

-- A "file" line is method, path, body, then any number of "Name: value" headers, tab-separated, every field
-- percent-encoded (%XX) so that a body may hold tabs and newlines.
local function unescape(field)
  return (string.gsub(field, "%%(%x%x)", function(hex) return string.char(tonumber(hex, 16)) end))
end

local function prepare(line)
  local fields = {}
  for field in string.gmatch(line .. "\t", "([^\t]*)\t") do table.insert(fields, unescape(field)) end
  local headers = {}
  for i = 4, #fields do
    local name, value = string.match(fields[i], "^([^:]+):%s*(.*)$")
    headers[name] = value
  end
  -- formatted once here, so a request costs the client a table lookup, not a format
  return wrk.format(fields[1], fields[2], headers, fields[3] ~= "" and fields[3] or nil)
end

function init(args)
  spec.kind, spec.key, spec.param, spec.prefix, spec.expect, spec.phone = args[1], args[2], args[3], args[4],
    tonumber(args[5]), args[6] == "1"
  counter, unexpected, sample, reused = 0, 0, "", 0
  tokens = {}
  if spec.kind == "answer" or spec.kind == "file" then
    -- this thread's share of the links (or requests): every n-th line of the file, n being the number of threads
    local n, i = tonumber(args[8]), 0
    for line in io.lines(args[7]) do
      if i % n == tid - 1 then table.insert(tokens, spec.kind == "file" and prepare(line) or line) end
      i = i + 1
    end
  end
end

function request()
  if spec.kind == "healthz" then
    return wrk.format("GET", "/healthz")
  end
  if spec.kind == "answer" or spec.kind == "file" then
    counter = counter + 1
    local token = tokens[counter]
    if token == nil then  -- out of unanswered links: the run is void, and says so
      reused = reused + 1
      token = tokens[#tokens]
    end
    if spec.kind == "file" then return token end
    return wrk.format("POST", "/s/" .. token, {["Content-Type"] = "application/x-www-form-urlencoded"},
      "score=" .. spec.param)
  end
  counter = counter + 1
  local id = spec.prefix .. "-" .. tid .. "-" .. counter
  local contact = '{"external_id":"' .. id .. '"'
  if spec.phone then
    contact = contact .. ',"phone":"+3' .. string.format("%03d%08d", tid, counter) .. '"'
  end
  local body = '{"touchpoint":"' .. spec.param .. '","contact":' .. contact .. '}}'
  return wrk.format("POST", "/api/v1/events", {["Content-Type"] = "application/json", ["Idempotency-Key"] = id,
    ["Authorization"] = "Bearer " .. spec.key}, body)
end

function response(status, headers, body)
  if status ~= spec.expect then
    unexpected = unexpected + 1
    if sample == "" then sample = string.gsub(status .. " " .. string.sub(body or "", 1, 200), '[%c"\\]', " ") end
  end
end

function done(summary, latency, requests)
  local bad, samples, out, sent = 0, {}, 0, 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("unexpected")
    out = out + thread:get("reused")
    -- distinct requests put on the wire, answered or not: wrk stops with some still in flight
    sent = sent + thread:get("counter") - thread:get("reused")
    local s = thread:get("sample")
    if s ~= "" then table.insert(samples, s) end
  end
  local e = summary.errors
  io.write(string.format('WRK-JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"unexpected": %d, "socket_errors": %d, "sample": "%s", "out_of_links": %d, "sent": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), bad,
    e.connect + e.read + e.write + e.timeout, samples[1] or "", out, sent))
end
"""


def available() -> bool:
    """Whether wrk is on the PATH (apt-get install wrk)."""
    return shutil.which("wrk") is not None


def _run(spec: dict, concurrency: int, threads: int, seconds: float, prefix: str, script: Path) -> dict:
    host, port = spec["address"]
    argv = ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--timeout", "30s",
            "-s", str(script), f"http://{host}:{port}", "--", spec["kind"], spec.get("key", ""),
            str(spec.get("touchpoint") or spec.get("score", "")), prefix, str(spec["expect"]),
            "1" if spec.get("phone") else "0", str((spec.get("files") or spec.get("tokens") or {}).get(prefix, "")),
            str(threads)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("WRK-JSON "))
    return json.loads(line.removeprefix("WRK-JSON "))


def load(spec: dict, concurrency: int, threads: int, seconds: float, warmup: float) -> dict:
    """loadgen.load's figures from wrk: req/s, p50/p99 (ms), errors (statuses other than expected, and socket
    errors), over a measured run that follows a warm-up run; `warmup` holds the warm-up run's own figures."""
    with tempfile.TemporaryDirectory(prefix="surveyd-wrk-") as folder:
        script = Path(folder) / "load.lua"
        script.write_text(SCRIPT)
        warm = None
        if warmup > 0:
            warm = _run(spec, concurrency, threads, warmup, f"{spec.get('prefix', 'wrk')}-warm", script)
        run = _run(spec, concurrency, threads, seconds, f"{spec.get('prefix', 'wrk')}-run", script)
    return {**_figures(run, concurrency, threads), "warmup": _figures(warm, concurrency, threads) if warm else None}


def _figures(run: dict, concurrency: int, threads: int) -> dict:
    """One wrk run's figures; `sent` counts the distinct requests written, some still in flight at the end."""
    measured = run["duration_us"] / 1e6
    errors = run["unexpected"] + run["socket_errors"] + run["out_of_links"]
    return {"requests": run["requests"] - errors, "per_second": (run["requests"] - errors) / measured,
            "p50_ms": run["p50_us"] / 1000, "p99_ms": run["p99_us"] / 1000, "errors": errors,
            "error_samples": [run["sample"]] if run["sample"] else [], "concurrency": concurrency,
            "out_of_links": run["out_of_links"], "sent": run["sent"],
            "processes": threads, "seconds": measured, "generator": "wrk"}
