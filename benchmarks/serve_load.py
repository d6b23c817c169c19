"""A bounded load test of `tfgancomp serve` on 127.0.0.1.

    python benchmarks/serve_load.py [--requests 200] [--clients 8]
        [--workers 1] [--queue_size 16] [--model default-gan] [--json F]

Starts the server on a free port of 127.0.0.1 (never another address),
times one whole `tfgancomp compress` command on a 768×512 photo, then a
few warm requests one at a time, then sends `--requests` POST
/api/compress of the same photo from `--clients` concurrent clients and
stops. Prints requests per second, p50/p95 latency, the server's peak RSS
(VmHWM), and checks every answer: 200 with exactly the command's file,
or a clean 503 (JSON error and Retry-After). Exits 1 on any other answer.
"""

import argparse
import concurrent.futures
import http.client
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from command_speed import photo  # noqa: E402

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def multipart(data: bytes) -> tuple[bytes, str]:
    boundary = secrets.token_hex(16)
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"photo.png\"\r\nContent-Type: image/png\r\n\r\n"
            ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def post(port: int, body: bytes, content_type: str):
    """(seconds, status, headers, body) of one POST /api/compress."""
    connection = http.client.HTTPConnection(HOST, port, timeout=600)
    start = time.perf_counter()
    try:
        connection.request("POST", "/api/compress", body,
                           {"Content-Type": content_type})
        response = connection.getresponse()
        answer = response.read()
        return (time.perf_counter() - start, response.status,
                dict(response.getheaders()), answer)
    finally:
        connection.close()


def check(result, expected: bytes) -> str:
    """'ok', 'busy' (a clean 503) or what was wrong."""
    _, status, headers, body = result
    if status == 200:
        return "ok" if body == expected else "200 with other bytes"
    if status == 503:
        try:
            clean = set(json.loads(body)) == {"error"}
        except ValueError:
            clean = False
        if clean and int(headers.get("retry-after", "0")) > 0:
            return "busy"
    return f"{status}: {body[:120]!r}"


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def start_server(args, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "tfgancomp", "serve", "--host", HOST,
               "--port", str(port), "--models", args.model, "--workers",
               str(args.workers), "--queue_size", str(args.queue_size),
               "--log_level", "warning"]
    process = subprocess.Popen(command, env=env, stdout=open(log, "w"),
                               stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    while time.time() < deadline:
        if process.poll() is not None:
            sys.exit("the server stopped:\n" + log.read_text())
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.5)
    process.kill()
    sys.exit("the server did not start in 300 s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--queue_size", type=int, default=16)
    parser.add_argument("--model", default="default-gan")
    parser.add_argument("--warm_requests", type=int, default=5)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if not 1 <= args.clients <= 64 or not 1 <= args.requests <= 10000:
        parser.error("1-64 clients and 1-10000 requests")
    tool = str(Path(sys.executable).with_name("tfgancomp"))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        source = photo(work / "photo.png")
        start = time.perf_counter()
        subprocess.run([tool, "compress", str(source), "-o",
                        str(work / "photo.tfgc"), "--model", args.model],
                       check=True, capture_output=True, env=env)
        command_seconds = time.perf_counter() - start
        expected = (work / "photo.tfgc").read_bytes()
        body, content_type = multipart(source.read_bytes())
        port = free_port()
        server = start_server(args, port, work / "serve.log")
        try:
            warm = []
            for _ in range(args.warm_requests):
                result = post(port, body, content_type)
                if check(result, expected) != "ok":
                    sys.exit(f"warm request: {check(result, expected)}")
                warm.append(result[0])
            start = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
                results = list(pool.map(
                    lambda _: post(port, body, content_type),
                    range(args.requests)))
            wall = time.perf_counter() - start
            rss = peak_rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=60)
    verdicts = [check(r, expected) for r in results]
    ok = [r[0] for r, v in zip(results, verdicts) if v == "ok"]
    wrong = [v for v in verdicts if v not in ("ok", "busy")]
    quantiles = statistics.quantiles(ok, n=20) if len(ok) > 1 else [0] * 19
    warm_median = statistics.median(warm)
    report = {
        "requests": args.requests, "clients": args.clients,
        "workers": args.workers, "queue_size": args.queue_size,
        "ok": len(ok), "busy_503": verdicts.count("busy"),
        "wrong": len(wrong), "seconds": wall,
        "requests_per_second": args.requests / wall,
        "ok_per_second": len(ok) / wall,
        "p50_seconds": statistics.median(ok) if ok else None,
        "p95_seconds": quantiles[18] if ok else None,
        "warm_single_seconds": warm_median,
        "command_seconds": command_seconds,
        "warm_over_command": warm_median / command_seconds,
        "server_peak_rss_mb": rss,
    }
    width = max(map(len, report))
    for key, value in report.items():
        shown = f"{value:.3f}" if isinstance(value, float) else value
        print(f"{key:<{width}}  {shown}")
    for problem in sorted(set(wrong)):
        print(f"wrong answer: {problem}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    sys.exit(1 if wrong else 0)


if __name__ == "__main__":
    main()
