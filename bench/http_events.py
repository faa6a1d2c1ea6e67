#!/usr/bin/env python3
"""Usage events of host acme-cloud for bench/http.sh (usage-events.md): `source`
acme-cloud/<region>, `data.host` acme-cloud, models and use cases of acme-llama, `time`
inside the month before the current one (so in a period that has ended and never in
the future), revenue a decimal string.

    http_events.py month                 the period the events fall in (YYYY-MM)
    http_events.py template N            N events whose ids hold the placeholder @P@
    http_events.py file N PREFIX         N events with ids PREFIX-0 ... (unique per prefix)

Every event is checked against the rules before it is printed.
"""
import datetime, json, random, re, sys

PLACEHOLDER = "@P@"
MODELS = ["llama-3.1-8b-instruct", "llama-3.1-70b-instruct", "llama-3.3-70b-instruct"]
USE_CASES = ["customer_service", "content_generation", "accessibility", "recommendations"]
REGIONS = ["us", "eu", "apac"]
REVENUE = re.compile(r"^(0|[1-9][0-9]{0,14})(\.[0-9]{1,12})?$")


def month_bounds():
    today = datetime.datetime.now(datetime.timezone.utc).date()
    end = today.replace(day=1)
    start = (end - datetime.timedelta(days=1)).replace(day=1)
    return start, end


def check(event, start, end):
    assert event["specversion"] == "1.0" and event["type"] == "ai.usage.v1"
    assert 1 <= len(event["source"]) <= 256
    assert event["source"] == "acme-cloud" or event["source"].startswith("acme-cloud/")
    assert 1 <= len(event["id"]) <= 128
    t = datetime.datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
    first = datetime.datetime.combine(start, datetime.time(), datetime.timezone.utc)
    last = datetime.datetime.combine(end, datetime.time(), datetime.timezone.utc)
    assert first <= t < last <= datetime.datetime.now(datetime.timezone.utc)
    data = event["data"]
    allowed = {"host", "model", "use_case", "region", "customer", "requests",
               "input_tokens", "output_tokens", "revenue", "currency"}
    assert set(data) <= allowed, set(data) - allowed
    assert data["host"] == "acme-cloud"
    assert re.fullmatch(r"[a-z0-9_]{1,64}", data["use_case"])
    assert re.fullmatch(r"[a-z0-9-]{1,32}", data["region"])
    assert 1 <= len(data["customer"]) <= 128
    for field in ("requests", "input_tokens", "output_tokens"):
        assert isinstance(data[field], int) and 0 <= data[field] <= 2**53 - 1
    assert isinstance(data["revenue"], str) and REVENUE.match(data["revenue"])
    assert re.fullmatch(r"[A-Z]{3}", data["currency"])


def events(n, ids, seed):
    start, end = month_bounds()
    seconds = int((end - start).total_seconds())
    base = datetime.datetime.combine(start, datetime.time(), datetime.timezone.utc)
    rng = random.Random(seed)
    for i in range(n):
        region = rng.choice(REGIONS)
        t = base + datetime.timedelta(seconds=rng.randrange(seconds), milliseconds=rng.randrange(1000))
        event = {
            "specversion": "1.0",
            "type": "ai.usage.v1",
            "source": f"acme-cloud/{region}",
            "id": ids(i),
            "time": t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z",
            "data": {
                "host": "acme-cloud",
                "model": rng.choice(MODELS),
                "use_case": rng.choice(USE_CASES),
                "region": region,
                "customer": f"c-{rng.randrange(5000)}",
                "requests": rng.randrange(1, 50),
                "input_tokens": rng.randrange(10, 60000),
                "output_tokens": rng.randrange(10, 30000),
                "revenue": f"{rng.randrange(1, 5_000_000) / 1e6:.6f}",
                "currency": "USD",
            },
        }
        check(event, start, end)
        yield json.dumps(event, separators=(",", ":"))


def main():
    mode = sys.argv[1]
    out = sys.stdout
    if mode == "month":
        print(month_bounds()[0].strftime("%Y-%m"))
    elif mode == "template":
        for line in events(int(sys.argv[2]), lambda i: f"{PLACEHOLDER}-{i}", seed=1):
            out.write(line + "\n")
    elif mode == "file":
        prefix = sys.argv[3]
        for line in events(int(sys.argv[2]), lambda i: f"{prefix}-{i}", seed=2):
            out.write(line + "\n")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
