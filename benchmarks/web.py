"""Speed of the web app and HTTP API (issue 13.4), each figure beside its target.

    python benchmarks/web.py                       # 20 clients, 2 worker processes, 100 plans per client
    python benchmarks/web.py --clients 20 --requests 200 --workers 2 --regimen cenersen-arm3 --no-render

1. One-patient plans through the API: ``regimen serve --workers N --rate-limit 0`` (the per-client limit is off:
   every client here comes from 127.0.0.1) on this machine; 20 concurrent clients, one keep-alive connection each,
   POST /api/plan for mFOLFOX6 (``--regimen``; 108 rows a plan: 12 cycles x 9, its 4 antiemetic doses a cycle
   included; the figures in the README measured before they were added had 60) with a different patient each time,
   after a warm-up.
   The load comes from wrk (Debian's, a C load generator: 2 threads, 20 connections, ``--seconds``, a Lua script
   drawing the patients) when
   it is installed, and also from Python threads on http.client (``--requests`` plans per client), which cost more
   CPU of their own. Latency p50 and p99 per request; plans per second = requests / wall time. The clients share the
   2 cores with the server; every connection is on loopback.                     targets: p99 <= 50 ms, >= 1,000/s
2. The plan page's first render in headless Chromium (Debian's): the form submitted, then the navigation's
   ``loadEventEnd`` (the page, its stylesheet and the inline timeline drawn), median of 7.

Never a timed test: figures for the README.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start(workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [PY, "-m", "regimen", "serve", "--port", str(port), "--workers", str(workers), "--rate-limit", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("the server did not start")
        time.sleep(0.1)


def load(base: str, clients: int, requests: int, regimen: str) -> tuple[list[float], float]:
    latencies: list[float] = []
    lock = threading.Lock()

    host, port = base.removeprefix("http://").split(":")

    def client(seed: int) -> None:
        # http.client: the lightest keep-alive client of the standard library, so that the clients' own CPU (they
        # share the 2 cores with the server) weighs as little as it can on the figures
        rng = random.Random(seed)
        mine = []
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            for _ in range(requests):
                body = json.dumps(
                    {
                        "regimen": regimen,
                        "weight": f"{rng.uniform(45, 110):.1f}",
                        "bsa": f"{rng.uniform(1.4, 2.3):.2f}",
                        "age": str(rng.randrange(25, 80)),
                    }
                )
                began = time.perf_counter()
                conn.request("POST", "/api/plan", body, {"content-type": "application/json"})
                answer = conn.getresponse()
                data = answer.read()
                mine.append(time.perf_counter() - began)
                assert answer.status == 200, data[:200]
        finally:
            conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - began


WRK_SCRIPT = """
math.randomseed(1)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local body = string.format('{"regimen": "REGIMEN", "weight": "%.1f", "bsa": "%.2f", "age": "%d"}',
    45 + math.random() * 65, 1.4 + math.random() * 0.9, math.random(25, 79))
  return wrk.format(nil, "/api/plan", nil, body)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %f %f %d %d %d\\n", latency:percentile(50), latency:percentile(99),
    summary.requests, summary.duration, summary.errors.status))
end
"""


def wrk(base: str, clients: int, seconds: int, regimen: str) -> tuple[float, float, float]:
    """(p50 s, p99 s, plans a second) from wrk."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT.replace("REGIMEN", regimen))
    cmd = ["wrk", "-t2", f"-c{clients}", "-s", script.name, base]
    subprocess.run([*cmd[:3], "-d2s", *cmd[3:]], check=True, capture_output=True)  # warm-up
    out = subprocess.run([*cmd[:3], f"-d{seconds}s", *cmd[3:]], check=True, capture_output=True, text=True).stdout
    Path(script.name).unlink()
    p50, p99, requests, micros, errors = out.split("RESULT", 1)[1].split()
    assert int(errors) == 0, out
    return float(p50) / 1e6, float(p99) / 1e6, int(requests) / (int(micros) / 1e6)


def first_render(base: str, repeats: int) -> list[float]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    profile = tempfile.mkdtemp()
    flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
    for arg in (*flags, "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}"):
        options.add_argument(arg)
    service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(service=service, options=options)
    times = []
    try:
        for _ in range(repeats + 1):
            driver.get(f"{base}/regimens/cenersen-arm3")
            for name, value in (("weight", "70"), ("bsa", "1.8"), ("age", "45")):
                driver.find_element(By.ID, f"f-{name}").send_keys(value)
            driver.execute_script("arguments[0].value = '2026-12-01'", driver.find_element(By.ID, "f-start"))
            driver.find_element(By.CSS_SELECTOR, "button.primary").click()
            deadline = time.monotonic() + 30
            while not driver.title.startswith("Plan:") or driver.execute_script(
                "var n = performance.getEntriesByType('navigation')[0]; return !n || n.loadEventEnd === 0"
            ):
                assert time.monotonic() < deadline
                time.sleep(0.02)
            times.append(
                driver.execute_script(
                    "var n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd - n.startTime"
                )
                / 1000
            )
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    return times[1:]  # the first warms the browser's caches


def figure(title: str, p50: float, p99: float, rate: float) -> str:
    """One load figure beside its targets: p99 <= 50 ms, >= 1,000 plans a second."""
    return (
        f"{title}: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms (target <= 50 ms: "
        f"{'met' if p99 <= 0.05 else 'NOT MET'}); {rate:.0f} plans/s (target >= 1,000: "
        f"{'met' if rate >= 1000 else 'NOT MET'})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--requests", type=int, default=100, help="plans per client")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--renders", type=int, default=7)
    ap.add_argument("--seconds", type=int, default=10, help="wrk's run")
    ap.add_argument("--regimen", default="mfolfox6", help="the plans' regimen")
    ap.add_argument("--no-render", action="store_true", help="skip figure 2 (the browser)")
    args = ap.parse_args()
    proc, base = start(args.workers)
    try:
        load(base, args.clients, 10, args.regimen)  # warm-up: every worker has loaded the regimen
        if shutil.which("wrk"):
            p50, p99, rate = wrk(base, args.clients, args.seconds, args.regimen)
            print(
                figure(f"1. API {args.regimen} (wrk), {args.clients} connections for {args.seconds} s", p50, p99, rate)
            )
        latencies, wall = load(base, args.clients, args.requests, args.regimen)
        q = statistics.quantiles(latencies, n=100)
        rate = len(latencies) / wall
        title = f"1. API {args.regimen} (Python clients), {args.clients} clients x {args.requests} plans"
        print(figure(title, q[49], q[98], rate))
        if not args.no_render and (shutil.which("chromium") or Path("/usr/bin/chromium").exists()):
            renders = first_render(base, args.renders)
            print(f"2. plan page first render (loadEventEnd) in headless Chromium: median "
                  f"{statistics.median(renders) * 1000:.0f} ms over {len(renders)}")  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(timeout=20)


if __name__ == "__main__":
    main()
