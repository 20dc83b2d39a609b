#!/usr/bin/env python3
"""What depending on `fastvm` costs a user's clean debug build, against its runtime dependencies.

Run by hand on an otherwise idle machine: `python3 fastvm/benches/build_time.py [rounds]`.

It makes two throwaway crates in a temporary directory, each with the workspace's Cargo.lock (so
both resolve the very same versions), and times a clean `cargo build --offline` of each with its
own empty target directory:

- `uses-fastvm`: depends on `fastvm` (path dependency on this checkout): what a user builds.
- `runtime-deps`: depends on exactly the normal dependencies of `fastvm` and `fastvm-api`
  (same versions and features, read from their Cargo.toml), but not on the two crates: the floor
  any SDK with these dependencies would cost.

The ratio of the two is the number `docs/benchmarks.md` reports ("Build time for users").
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def workspace_deps():
    with open(os.path.join(ROOT, "Cargo.toml"), "rb") as f:
        return tomllib.load(f)["workspace"]["dependencies"]


def runtime_deps():
    """The normal dependencies of fastvm and fastvm-api, resolved against the workspace table."""
    ws = workspace_deps()
    merged = {}
    for crate in ("fastvm", "fastvm-api"):
        with open(os.path.join(ROOT, crate, "Cargo.toml"), "rb") as f:
            deps = tomllib.load(f).get("dependencies", {})
        for name, spec in deps.items():
            if name in ("fastvm", "fastvm-api"):
                continue
            spec = dict(spec) if isinstance(spec, dict) else {"version": spec}
            if spec.pop("workspace", False):
                base = ws[name]
                base = dict(base) if isinstance(base, dict) else {"version": base}
                extra = spec.pop("features", [])
                base["features"] = sorted(set(base.get("features", [])) | set(extra))
                spec = {**base, **spec}
            spec.pop("path", None)
            old = merged.get(name)
            if old:
                spec["features"] = sorted(set(old.get("features", [])) | set(spec.get("features", [])))
            merged[name] = spec
    # fastvm's default feature.
    merged["reqwest"]["features"] = sorted(set(merged["reqwest"].get("features", [])) | {"rustls"})
    return merged


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v + '"'
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(v)


def make_crate(parent, name, deps_toml):
    path = os.path.join(parent, name)
    os.makedirs(os.path.join(path, "src"))
    with open(os.path.join(path, "Cargo.toml"), "w") as f:
        f.write(f'[package]\nname = "{name}"\nversion = "0.0.0"\nedition = "2024"\n\n[dependencies]\n{deps_toml}\n')
        f.write("[workspace]\n")
    with open(os.path.join(path, "src", "lib.rs"), "w") as f:
        f.write("")
    shutil.copy(os.path.join(ROOT, "Cargo.lock"), os.path.join(path, "Cargo.lock"))
    return path


def clean_build(path):
    target = tempfile.mkdtemp(prefix="fastvm-build-time-")
    env = dict(os.environ, CARGO_TARGET_DIR=target)
    start = time.monotonic()
    subprocess.run(["cargo", "build", "--offline", "--quiet"], cwd=path, env=env, check=True)
    elapsed = time.monotonic() - start
    shutil.rmtree(target, ignore_errors=True)
    return elapsed


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    with tempfile.TemporaryDirectory(prefix="fastvm-build-time-") as tmp:
        fastvm = os.path.join(ROOT, "fastvm")
        uses = make_crate(tmp, "uses-fastvm", f'fastvm = {{ path = "{fastvm}" }}\n')
        lines = []
        for name, spec in sorted(runtime_deps().items()):
            fields = ", ".join(f"{k} = {toml_value(v)}" for k, v in spec.items())
            lines.append(f"{name} = {{ {fields} }}")
        floor = make_crate(tmp, "runtime-deps", "\n".join(lines) + "\n")
        for r in range(rounds):
            a = clean_build(floor)
            b = clean_build(uses)
            print(f"round {r + 1}: runtime deps only {a:.1f} s, with fastvm {b:.1f} s, ratio {b / a:.2f}", flush=True)


if __name__ == "__main__":
    main()
