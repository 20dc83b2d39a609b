#!/usr/bin/env python3
"""What an isolated VM's init costs at the start of its namespaces, against another version of it.

Run by hand on Linux with user namespaces: `python3 fastvm-fake/benches/init_start.py [REV] [rounds]`
(REV defaults to HEAD~1, rounds to 40). It reads the `INIT` script of `fastvm-fake/src/isolation.rs`
from the working tree and from REV, and times, alternating the two, what the fake does on the first
command of a VM: `unshare` of the user, mount and PID namespaces running that init, until init
prints `ready <pid>`, then one `nsenter ... -- true` into it. (The fake's mount setup before init is
left out: it is the same for both.) Results go in docs/benchmarks.md ("Exec latency").
"""

import re
import statistics
import subprocess
import sys
import time
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SOURCE = "fastvm-fake/src/isolation.rs"


def init_of(text):
    match = re.search(r'const INIT: &str = r#"(.*?)"#;', text, re.S)
    if not match:
        sys.exit(f"no INIT constant in {SOURCE}")
    return match.group(1)


def start_once(init):
    started = time.perf_counter()
    vm = subprocess.Popen(
        ["unshare", "--user", "--map-root-user", "--mount", "--pid", "--fork", "--kill-child", "--",
         "/bin/sh", "-c", init, "fastvm-vm-init"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    ready = vm.stdout.readline().split()
    if len(ready) != 2 or ready[0] != b"ready":
        sys.exit(f"init did not say ready: {ready!r}")
    subprocess.run(["nsenter", f"--target={ready[1].decode()}", "--user", "--pid",
                    "--preserve-credentials", "--", "true"], check=True)
    elapsed = (time.perf_counter() - started) * 1000
    vm.stdin.close()
    vm.wait()
    return elapsed


def main():
    rev = sys.argv[1] if len(sys.argv) > 1 else "HEAD~1"
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    with open(os.path.join(ROOT, SOURCE)) as f:
        current = init_of(f.read())
    other = init_of(subprocess.run(["git", "-C", ROOT, "show", f"{rev}:{SOURCE}"],
                                   check=True, capture_output=True, text=True).stdout)
    times = {"working tree": [], rev: []}
    for _ in range(rounds):
        times["working tree"].append(start_once(current))
        times[rev].append(start_once(other))
    for name, samples in times.items():
        samples.sort()
        print(f"{name:>14}: median {statistics.median(samples):.2f} ms, p90 "
              f"{samples[int(len(samples) * 0.9)]:.2f} ms ({rounds} starts)")


if __name__ == "__main__":
    main()
