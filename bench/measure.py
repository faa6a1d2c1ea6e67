#!/usr/bin/env python3
"""Runs a command and prints one JSON line: wall seconds and peak RSS (MiB) of it.

    measure.py LABEL -- COMMAND ARGS...

Peak RSS is the largest resident set of the command's process tree that the kernel
recorded for waited-for children (getrusage RUSAGE_CHILDREN), so run one command per
invocation. Output of the command goes to /dev/null unless MEASURE_KEEP_OUTPUT names
a file.
"""
import json, os, resource, subprocess, sys, time

label, sep, *command = sys.argv[1:]
assert sep == "--", "usage: measure.py LABEL -- COMMAND ARGS..."
out_path = os.environ.get("MEASURE_KEEP_OUTPUT")
stdout = open(out_path, "wb") if out_path else subprocess.DEVNULL
start = time.perf_counter()
result = subprocess.run(command, stdout=stdout, stderr=subprocess.PIPE)
wall = time.perf_counter() - start
if result.returncode != 0:
    sys.stderr.write(result.stderr.decode(errors="replace"))
    sys.exit(f"{label}: exit {result.returncode}")
rss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"label": label, "wall_s": round(wall, 3), "peak_rss_mib": round(rss_mib, 1)}))
