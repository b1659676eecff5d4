#!/usr/bin/env python3
"""Instructions the server executes per M-Pesa Express push, counted by callgrind.

Wall-clock CPU on a small shared machine moves by tens of percent between
runs; an instruction count does not, so this is the measure to compare two
builds with. Each push is what phase (b) of `cargo bench --bench load` sends:
the push, its settlement and its result callback. The script runs the binary
under callgrind twice (N_SMALL and N_LARGE pushes) and divides the difference,
so start-up and shutdown cancel out.

Usage: scripts/cg_push.py BINARY [N_SMALL N_LARGE] [--receiver answer|refuse] [--keep FILE]
                           [--connections N] [--echo BENCH_BINARY]

--receiver answer (the default) delivers every callback to a receiver in this
script (outside callgrind), answering 200 on a kept-alive connection, as in the
benchmark; --receiver refuse points the callbacks at a port nobody listens on.
--keep FILE keeps the larger run's profile for `callgrind_annotate --inclusive=yes FILE`.
--connections N sends from N kept-alive connections at once, as the benchmark's
64 do: a server under load polls, wakes and parks less per request than one
answering a single connection, so the two counts differ.
--echo BENCH_BINARY counts the benchmark's echo floor the same way (the bench
binary in its echo role) and prints a push's ratio to it.
Needs valgrind and python3 only.
"""
import argparse
import base64
import datetime
import http.client
import http.server
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time

PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"


class Answer(http.server.BaseHTTPRequestHandler):
    """Answers every callback 200, keeping the connection open."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        body = b'{"ResultCode":"0","ResultDesc":"Accepted"}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def start_receiver():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/cb"


def push_body(i, callback_url):
    ts = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d%H%M%S")
    pw = base64.b64encode(f"174379{PASSKEY}{ts}".encode()).decode()
    msisdn = str(254700000000 + i)
    return json.dumps({
        "BusinessShortCode": "174379", "Password": pw, "Timestamp": ts,
        "TransactionType": "CustomerPayBillOnline", "Amount": 1, "PartyA": msisdn, "PartyB": "174379",
        "PhoneNumber": msisdn, "CallBackURL": callback_url, "AccountReference": "A", "TransactionDesc": "D"})


def send(port, n, connections, request):
    """Sends requests 0..n, `connections` kept-alive connections at a time."""
    errors = []

    def worker(k):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            for i in range(k, n, connections):
                path, body, token = request(i)
                headers = {"Content-Type": "application/json"}
                if token:
                    headers["Authorization"] = "Bearer " + token
                c.request("POST", path, body=body, headers=headers)
                r = c.getresponse()
                r.read()
                assert r.status == 200, r.status
        except Exception as e:  # reported below: a thread's failure must fail the run
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def run_echo(binary, n, connections):
    """The benchmark's echo floor (its binary in the echo role), n requests."""
    out = f"{tempfile.gettempdir()}/cg.echo.{os.getpid()}.{n}"
    env = dict(os.environ, PESA_BENCH_ROLE="echo")
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", binary, "--bench"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = int(re.search(r":(\d+)\s*$", proc.stdout.readline()).group(1))
        body = push_body(0, "http://127.0.0.1:9/cb")
        send(port, n, connections, lambda i: ("/echo", body, None))
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
        return int(re.search(r"^(?:summary|totals): (\d+)", open(out).read(), re.M).group(1))
    finally:
        if proc.poll() is None:
            proc.kill()
        if os.path.exists(out):
            os.unlink(out)


def run(binary, n, port, callback_url, connections=1, keep=None):
    world = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
    world.write("[daraja]\nstk_answer_delay_ms = 1\ntimestamp_window_secs = 0\n")
    world.close()
    out = f"{tempfile.gettempdir()}/cg.{os.getpid()}.{n}"
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", binary,
         "--listen", f"127.0.0.1:{port}", "--seed", "1", "--world", world.name, "--callback-timeout-ms", "2000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/__sandbox/health")
                c.getresponse().read()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.5)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        auth = base64.b64encode(b"PesaSandboxConsumerKey:PesaSandboxConsumerSecret").decode()
        c.request("GET", "/oauth/v1/generate?grant_type=client_credentials", headers={"Authorization": "Basic " + auth})
        token = json.loads(c.getresponse().read())["access_token"]
        send(port, n, connections, lambda i: ("/mpesa/stkpush/v1/processrequest", push_body(i, callback_url), token))
        # Let every settlement and callback finish before stopping.
        started = time.time()
        while time.time() - started < 120:
            c.request("GET", "/__sandbox/health")
            cb = json.loads(c.getresponse().read())["callbacks"]
            if cb["delivered"] + cb["failed"] >= n and cb["in_flight"] == 0 and cb["queued"] == 0:
                break
            time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
        text = open(out).read()
        return int(re.search(r"^(?:summary|totals): (\d+)", text, re.M).group(1)), cb
    finally:
        if proc.poll() is None:
            proc.kill()
        if keep and os.path.exists(out):
            os.replace(out, keep)
        for path in (out, world.name):
            if os.path.exists(path):
                os.unlink(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary")
    parser.add_argument("small", type=int, nargs="?", default=200)
    parser.add_argument("large", type=int, nargs="?", default=1000)
    parser.add_argument("--receiver", choices=["answer", "refuse"], default="answer")
    parser.add_argument("--keep", metavar="FILE", help="keep the larger run's callgrind profile here")
    parser.add_argument("--connections", type=int, default=1, help="kept-alive connections sending at once")
    parser.add_argument("--echo", metavar="BENCH_BINARY",
                        help="also count the benchmark's echo floor (the binary `cargo bench --bench load --no-run` names)")
    args = parser.parse_args()
    url = start_receiver() if args.receiver == "answer" else "http://127.0.0.1:9/cb"
    a, _ = run(args.binary, args.small, 18931, url, args.connections)
    b, cb = run(args.binary, args.large, 18932, url, args.connections, args.keep)
    per = (b - a) / (args.large - args.small)
    print(f"{args.binary} ({args.receiver}, {args.connections} connections): {per:.0f} instructions per push "
          f"({a} for {args.small}, {b} for {args.large}; callbacks {cb['delivered']} delivered, {cb['failed']} failed)")
    if args.echo:
        ea = run_echo(args.echo, args.small, args.connections)
        eb = run_echo(args.echo, args.large, args.connections)
        echo = (eb - ea) / (args.large - args.small)
        print(f"echo floor ({args.connections} connections): {echo:.0f} instructions per request; "
              f"a push is {per / echo:.2f}× the echo")


if __name__ == "__main__":
    main()
