#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The JSON vocabulary (docs/json.md), checked on a live system.

Brings up a private testbed and a topology on it, runs every mkdp command
that reports with --json (-j at least once), and validates each document
against its schema in docs/schema/. The schemas are strict (required keys,
types, closed objects), so a renamed or missing key fails here; each
document is also checked against the conventions no schema states (no
`name`, `id` or unit-less duration keys), and mutated once to prove that its
schema rejects a renamed key.

Run by ctest (tests/CMakeLists.txt) as root, under the same locks as the
other `mkdp up` tests.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import jsonschema

ARGS = None
FAILURES = []
CHECKED = []

# Keys the vocabulary replaced: they must not come back (docs/json.md).
BANNED = {"name", "id", "index", "iface", "ifname", "action", "default", "supervisor_pid", "per_queue",
          "per_partition", "target_partition", "sockets_by_queue", "removed_pins", "pins", "mode", "attach"}
BANNED_SUFFIXES = ("_s", "_ms", "_us", "_per_s")


def mkdp(*args, ok=True, timeout=60):
    r = subprocess.run([ARGS.mkdp, *args], capture_output=True, text=True, timeout=timeout)
    if ok and r.returncode != 0:
        raise AssertionError(f"mkdp {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


def schema_validator(name):
    """The schema with defs.json's definitions made its own: no resolver, so
    any jsonschema from 4.10 on (Debian 12's) takes it."""
    def load(n):
        with open(os.path.join(ARGS.schemas, n + ".json")) as f:
            return json.loads(f.read().replace('"defs.json#/$defs/', '"#/$defs/'))
    schema = load(name)
    schema["$defs"] = load("defs")["$defs"]
    return jsonschema.Draft202012Validator(schema)


def walk_keys(doc, path="$"):
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield path, k
            yield from walk_keys(v, f"{path}.{k}")
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from walk_keys(v, f"{path}[{i}]")


# Maps whose keys are data (errno names, partition names, verdicts), not vocabulary.
DATA_MAPS = ("errors_by_errno", "requests_by_partition", "verdicts", "results", "ratios", "machine")


def conventions(doc):
    bad = []
    for path, k in walk_keys(doc):
        if any(path.split(".")[-1].startswith(m) for m in DATA_MAPS):
            continue
        if k in BANNED or k.endswith(BANNED_SUFFIXES):
            bad.append(f"{path}.{k}")
    return bad


def renamed_first_key(doc, required):
    """The document with one (required) key renamed, to prove the schema notices."""
    keys = [k for k in sorted(doc) if not required or k in required] if isinstance(doc, dict) else []
    if not keys:
        return None
    k = keys[0]
    d = dict(doc)
    d[k + "_renamed"] = d.pop(k)
    return d


def check(schema, doc, what):
    v = schema_validator(schema)
    errors = sorted(v.iter_errors(doc), key=lambda e: list(e.path))
    for e in errors[:5]:
        FAILURES.append(f"{what}: {schema}: {'/'.join(map(str, e.path))}: {e.message[:300]}")
    for b in (conventions(doc) if schema != "bench" else []):  # bench keeps its shape: docs/json.md
        FAILURES.append(f"{what}: key {b} breaks the vocabulary (docs/json.md)")
    mutated = renamed_first_key(doc, v.schema.get("required"))
    if mutated is not None and v.is_valid(mutated):
        FAILURES.append(f"{what}: {schema} accepts a renamed key: it is too loose")
    CHECKED.append(schema)
    return doc


def run_json(schema, *args, ok=True):
    """Runs a command, parses its one document, validates it."""
    r = mkdp(*args, ok=ok)
    what = "mkdp " + " ".join(args)
    try:
        doc = json.loads(r.stdout)
    except json.JSONDecodeError as e:
        FAILURES.append(f"{what}: not one JSON document ({e}): {r.stdout[:200]!r}")
        return None
    return check(schema, doc, what)


def expect_error(*args):
    """Errors stay one line on stderr, nothing on stdout, non-zero exit, --json or not."""
    r = mkdp(*args, ok=False)
    what = "mkdp " + " ".join(args)
    if r.returncode == 0:
        FAILURES.append(f"{what}: exit 0 for an error")
    if r.stdout:
        FAILURES.append(f"{what}: an error printed on stdout: {r.stdout[:200]!r}")
    lines = r.stderr.strip().split("\n")
    if len(lines) != 1 or not lines[0].startswith("mkdp: "):
        FAILURES.append(f"{what}: the error is not one 'mkdp: ' line: {r.stderr!r}")


def expect_result(doc, result):
    if doc is not None and doc.get("result") != result:
        FAILURES.append(f"result {doc.get('result')!r}, expected {result!r}")


def wait_for(cond, what, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def scenario(ns, tmp):
    dev, peer = "mkdp0", "mkdp1"
    at = ["--netns", ns]

    # The testbed.
    up = run_json("testbed-up", "testbed", "up", "--name", ns, "--queues", "2", "--json")
    if up and up["result"] != "created":
        FAILURES.append(f"testbed up: result {up['result']}, expected created")
    again = run_json("testbed-up", "testbed", "up", "--name", ns, "--queues", "2", "-j")
    if again and again["result"] != "unchanged":
        FAILURES.append(f"testbed up again: result {again['result']}, expected unchanged")
    run_json("testbed-show", "testbed", "show", "--name", ns, "--json")

    # Topology files.
    topo = os.path.join(tmp, ns + ".toml")
    with open(topo, "w") as f:
        f.write(mkdp("topology", "default", "--netns", ns).stdout)
    run_json("topology-default", "topology", "default", "--netns", ns, "--json")
    run_json("topology-check", "topology", "check", topo, "--json")

    # Steering without partitions.
    run_json("steer-attach", "steer", "attach", dev, *at, "--policy", "rules,hash,queue", "--partitions", "2", "--json")
    added = run_json("steer-rule-add", "steer", "rule", "add", dev, *at, "dst", "10.99.0.0/16", "drop", "--json")
    run_json("steer-rule-list", "steer", "rule", "list", dev, *at, "--json")
    if added:
        run_json("steer-rule-del", "steer", "rule", "del", dev, *at, str(added["rule"]["rule_id"]), "--json")
    expect_error("steer", "rule", "del", dev, *at, "65000", "--json")
    run_json("steer-detach", "steer", "detach", dev, *at, "--json")
    # Nothing to detach: an interface and a namespace no one has (another
    # session's pins for the same interface name would make it a refusal).
    expect_result(run_json("steer-detach", "steer", "detach", f"jv{os.getpid()}", "--netns", ns + "-absent", "--json"),
                  "unchanged")

    # The topology, traffic, and every view of it.
    run_json("topology-up", "topology", "up", topo, "--json")
    st = run_json("topology-status", "topology", "status", "--json")
    if st and not st["running"]:
        FAILURES.append("topology status: running false while up")
    run_json("part-list", "part", "list", "--json")
    expect_result(run_json("part-kill", "part", "kill", "p1", "--json"), "killed")
    expect_result(run_json("part-start", "part", "start", "p1", "-j"), "started")
    expect_result(run_json("part-start", "part", "start", "p1", "--json"), "unchanged")
    expect_result(run_json("part-restart", "part", "restart", "p1", "--json"), "restarted")
    expect_result(run_json("part-stop", "part", "stop", "p1", "--json"), "stopped")
    expect_result(run_json("part-start", "part", "start", "p1", "--json"), "started")
    ruled = run_json("steer-rule-add", "steer", "rule", "add", dev, *at, "exact", "udp", "10.77.0.2:5002",
                     "10.77.0.1:7002", "part", "1", "--json")
    if ruled and ruled["rule"]["partition"] != "p1":
        FAILURES.append(f"rule add: partition {ruled['rule']['partition']!r}, expected the name p1")
    gen = run_json("testbed-gen", "testbed", "gen", peer, *at, "--flows", "4", "--count", "2000", "--rate", "20000",
                   "--json")
    # Counters settle once the partitions have taken what was sent.
    if gen:
        def received():
            s = json.loads(mkdp("part", "list", "--json").stdout)
            return sum(p["rx"] for p in s["partitions"]) + sum(p["steering"]["no_socket"] for p in s["partitions"]) >= 1
        wait_for(received, "the partitions to count the traffic")
    r = mkdp("steer", "stats", dev, *at, "--count", "2", "--interval", "0.1", "--json")
    lines = [l for l in r.stdout.split("\n") if l]
    if len(lines) != 2:
        FAILURES.append(f"steer stats --count 2: {len(lines)} lines")
    for l in lines:
        sample = check("steer-stats", json.loads(l), "mkdp steer stats --json")
        if sample and [p["partition"] for p in sample["partitions"]] != ["p0", "p1"]:
            FAILURES.append(f"steer stats: partitions {sample['partitions']} not named p0, p1")
    run_json("steer-status", "steer", "status", dev, *at, "--json")
    run_json("steer-status", "steer", "status", "--json")
    run_json("steer-rule-list", "steer", "rule", "list", dev, *at, "-j")

    # Storage.
    obj = os.path.join(ARGS.sdp_objects, "readonly_range.bpf.o")
    req = os.path.join(ARGS.sdp_examples, "readonly_range.req")
    run_json("sdp-test-run", "sdp", "test-run", obj, "--requests", req, "--json")
    run_json("sdp-io", "sdp", "io", "v0", "--op", "write", "--size", "64k", "--bs", "16k", "--qd", "2", "--json")
    run_json("sdp-io", "sdp", "io", "v0", "--op", "read", "--size", "64k", "--bs", "16k", "--verify", "--json")
    run_json("sdp-load", "sdp", "load", obj, "--name", "jv_ro", "--json")
    run_json("sdp-attach", "sdp", "attach", "v0", "jv_ro", "--json")
    run_json("sdp-list", "sdp", "list", "--json")
    run_json("sdp-stats", "sdp", "stats", "--json")
    run_json("sdp-stats", "sdp", "stats", "v0", "-j")
    run_json("sdp-detach", "sdp", "detach", "v0", "--json")
    run_json("sdp-unload", "sdp", "unload", "jv_ro", "--json")
    img = os.path.join(tmp, ns + ".img")
    open(img, "w").close()
    run_json("sdp-export", "sdp", "export", "v0", img, "--json")
    run_json("topology-status", "topology", "status", "-j")
    run_json("sdp-unexport", "sdp", "unexport", img, "--json")
    expect_error("sdp", "stats", "nosuchvolume", "--json")

    expect_result(run_json("topology-down", "topology", "down", "--json"), "stopped")
    expect_result(run_json("topology-down", "topology", "down", "-j"), "unchanged")
    down = run_json("topology-status", "topology", "status", "--json")
    if down and down["running"]:
        FAILURES.append("topology status: running true after down")
    run_json("testbed-down", "testbed", "down", "--name", ns, "--json")

    run_json("version", "version", "-j")

    # bench: the common envelope, from the quickest bench there is (~2 s).
    if ARGS.bench:
        run_json("bench", "bench", *ARGS.bench.split(), "--json")


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--mkdp", required=True)
    p.add_argument("--schemas", required=True)
    p.add_argument("--sdp-objects", required=True)
    p.add_argument("--sdp-examples", required=True)
    p.add_argument("--bench", default="ring --quick -r 1",
                   help="the bench whose --json envelope is validated ('' for none)")
    ARGS = p.parse_args()
    if os.geteuid() != 0:
        print("json_vocabulary_test: needs root (BPF, network namespaces)", file=sys.stderr)
        return 1
    ns = f"mkdp-jv-{os.getpid()}"
    tmp = "/tmp"
    t0 = time.monotonic()
    try:
        scenario(ns, tmp)
    except (AssertionError, subprocess.TimeoutExpired, json.JSONDecodeError, KeyError, TypeError) as e:
        FAILURES.append(f"scenario stopped: {type(e).__name__}: {e}")
    finally:
        mkdp("topology", "down", ok=False, timeout=120)
        mkdp("testbed", "down", "--name", ns, ok=False)
        for f in (ns + ".toml", ns + ".img"):
            try:
                os.remove(os.path.join(tmp, f))
            except FileNotFoundError:
                pass
    schemas = {f[:-5] for f in os.listdir(ARGS.schemas) if f.endswith(".json")} - {"defs"}
    if not ARGS.bench:
        schemas.discard("bench")
    for s in sorted(schemas - set(CHECKED)):
        FAILURES.append(f"schema {s}: no command output was validated against it")
    print(f"json_vocabulary_test: {len(CHECKED)} documents against {len(set(CHECKED))} schemas "
          f"in {time.monotonic() - t0:.1f} s")
    for f in FAILURES:
        print("FAIL:", f)
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
