#!/usr/bin/env python3
"""A small load generator for the demo: sensor readings POSTed to the gateway.

  loadgen.py [--url http://127.0.0.1:5000] [--sensors 6] [--rate 20] [--backfill-minutes 30]
             [--bad-every 25] [--seconds 0 (= until killed)]

First posts --backfill-minutes of history (one reading per sensor every 10 s,
in POST /sensors batches), then --rate readings/s in real time over the
sensors (sensor01.., in locations lab / roof / cellar), every --bad-every-th
one malformed (a string value, or a bad timestamp): the gateway answers 400.
Prints a line of counts (202 / 400 / other) every 5 s and at the end.
"""
import argparse, datetime, json, math, random, signal, sys, time, urllib.error, urllib.request

LOCATIONS = ["lab", "roof", "cellar"]

def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

def reading(i, n, t):
    sensor = "sensor%02d" % (i + 1)
    phase = t.timestamp() / 300.0 + i
    value = round(20 + 3 * i + 4 * math.sin(phase) + random.uniform(-1.5, 1.5), 2)
    return {"sensor_id": sensor, "timestamp": iso(t), "type": "temperature", "value": value, "unit": "C",
            "location": LOCATIONS[i % len(LOCATIONS)]}

def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", default="http://127.0.0.1:5000")
    p.add_argument("--sensors", type=int, default=6)
    p.add_argument("--rate", type=float, default=20)
    p.add_argument("--backfill-minutes", type=int, default=30)
    p.add_argument("--bad-every", type=int, default=25)
    p.add_argument("--seconds", type=float, default=0)
    a = p.parse_args()
    counts = {"202": 0, "400": 0, "other": 0}
    def count(status, n=1):
        counts[str(status) if status in (202, 400) else "other"] += n
    def report(prefix="loadgen"):
        print("%s: %d readings accepted (202), %d malformed refused (400), %d other" %
              (prefix, counts["202"], counts["400"], counts["other"]), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: (report("loadgen (stopped)"), sys.exit(0)))

    now = datetime.datetime.now(datetime.timezone.utc)
    batch = []
    for k in range(a.backfill_minutes * 6, 0, -1):
        t = now - datetime.timedelta(seconds=10 * k)
        batch.extend(reading(i, a.sensors, t) for i in range(a.sensors))
        if len(batch) >= 500:
            count(post(a.url + "/sensors", batch), len(batch)); batch = []
    if batch:
        count(post(a.url + "/sensors", batch), len(batch))
    report("loadgen backfill")

    start = time.time(); last_report = start; n = 0
    while a.seconds <= 0 or time.time() - start < a.seconds:
        n += 1
        t = datetime.datetime.now(datetime.timezone.utc)
        body = reading(n % a.sensors, a.sensors, t)
        if a.bad_every > 0 and n % a.bad_every == 0:
            if n % (2 * a.bad_every) == 0:
                body["value"] = "warm"
            else:
                body["timestamp"] = "yesterday at noon"
        count(post(a.url + "/sensor", body))
        if time.time() - last_report >= 5:
            report(); last_report = time.time()
        time.sleep(max(0.0, start + n / a.rate - time.time()))
    report()

if __name__ == "__main__":
    main()
