#!/usr/bin/env python3
"""Screenshots of the dashboard's main pages at 1280 px and 390 px for the README.

    revshare demo --serve &          # prints the URL and the tokens
    scripts/dashboard-screenshots.py http://127.0.0.1:8080 rs_…licensor-token… docs/screenshots

Drives Debian's chromium through chromedriver (packages chromium, chromium-driver)
over plain WebDriver HTTP; the Python standard library only.
"""
import base64
import json
import socket
import subprocess
import sys
import time
import urllib.request

PAGES = [
    ("overview", "/"),
    ("statement", "/statements/acme-llama/2026-10"),
    ("disputes", "/disputes"),
    ("ledger", "/ledger"),
]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(base, token, out):
    port = free_port()
    driver = subprocess.Popen(["chromedriver", f"--port={port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def call(method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=data,
                                         headers={"content-type": "application/json"})
        with urllib.request.urlopen(request) as answer:
            return json.loads(answer.read())["value"]

    try:
        for _ in range(100):
            try:
                call("GET", "/status")
                break
            except OSError:
                time.sleep(0.1)
        options = {"binary": "/usr/bin/chromium", "args": FLAGS}
        session = call("POST", "/session", {"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": options}}})["sessionId"]
        s = f"/session/{session}"

        def element(css):
            return next(iter(call("POST", s + "/element", {"using": "css selector", "value": css}).values()))

        call("POST", s + "/url", {"url": base + "/sign-in"})
        call("POST", s + f"/element/{element('#token')}/value", {"text": token})
        call("POST", s + f"/element/{element('form.signin button')}/click", {})
        time.sleep(0.5)
        for width in (1280, 390):
            call("POST", s + "/window/rect", {"width": width, "height": 900})
            for name, path in PAGES:
                call("POST", s + "/url", {"url": base + path})
                png = base64.b64decode(call("GET", s + "/screenshot"))
                with open(f"{out}/{name}-{width}.png", "wb") as f:
                    f.write(png)
        call("DELETE", s)
    finally:
        driver.kill()
        driver.wait()


if __name__ == "__main__":
    main(*sys.argv[1:4])
