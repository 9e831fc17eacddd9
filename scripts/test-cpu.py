#!/usr/bin/env python3
"""Each test's CPU while the tests run: which drill tests are light (.config/nextest.toml).

Usage: scripts/test-cpu.py OUT.json -- COMMAND...
  e.g. scripts/test-cpu.py /tmp/cpu.json -- cargo nextest run -E 'test(/^drills::/)'

Runs COMMAND and, once a second until it exits, reads each nextest test's CPU: its process
tree from /proc (the test, drdrill, the docker CLI; children it reaped included) and the
cgroups (v1 cpuacct or v2 cpu.stat) of every container whose `drdrill.pid` label names a
process of that tree. Then writes OUT.json and prints, per test, its mean cores over its
wall time, lightest last. The engine's own CPU (dockerd, containerd) is nobody's: a test
that creates many containers is heavier than its figure.
"""
import glob
import json
import os
import subprocess
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")


def proc_stat(pid):
    """(ppid, CPU seconds of the process and its reaped children) or None."""
    try:
        rest = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return int(rest[1]), sum(int(x) for x in rest[11:15]) / HZ
    except (OSError, IndexError, ValueError):
        return None


def test_name(pid):
    """The test a nextest test process runs (`BINARY --exact NAME ...`), or None."""
    try:
        args = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
    except OSError:
        return None
    if b"--exact" in args and args.index(b"--exact") + 1 < len(args):
        return args[args.index(b"--exact") + 1].decode()
    return None


def containers():
    """{container id: CPU µs} from the cgroups, v1 or v2, cgroupfs or systemd driver."""
    out = {}
    for d in glob.glob("/sys/fs/cgroup/cpuacct/docker/*/"):
        try:
            out[d.rstrip("/").rsplit("/", 1)[1]] = int(open(d + "cpuacct.usage").read()) / 1000
        except OSError:
            pass
    for d in glob.glob("/sys/fs/cgroup/system.slice/docker-*.scope") + glob.glob("/sys/fs/cgroup/docker/*"):
        try:
            line = next(x for x in open(d + "/cpu.stat") if x.startswith("usage_usec"))
            out[d.rsplit("/", 1)[1].removeprefix("docker-").removesuffix(".scope")] = int(line.split()[1])
        except (OSError, StopIteration):
            pass
    return out


def sample(tests, owner_of):
    now = time.time()
    procs = {int(p): s for p in os.listdir("/proc") if p.isdigit() and (s := proc_stat(p))}
    kids = {}
    for pid, (ppid, _) in procs.items():
        kids.setdefault(ppid, []).append(pid)
    owner = {}
    for pid in procs:
        name = test_name(pid)
        if not name:
            continue
        total, todo = 0.0, [pid]
        while todo:
            q = todo.pop()
            owner[q] = name
            total += procs.get(q, (0, 0.0))[1]
            todo += kids.get(q, [])
        t = tests.setdefault(name, {"first": now, "last": now, "proc_s": 0.0, "cont": {}})
        t["last"], t["proc_s"] = now, max(t["proc_s"], total)
    for cid, usec in containers().items():
        if cid not in owner_of:
            label = subprocess.run(["docker", "inspect", "-f", '{{index .Config.Labels "drdrill.pid"}}', cid],
                                   capture_output=True, text=True).stdout.strip()
            q, name = int(label) if label.isdigit() else 0, None
            while q in procs and q > 1 and name is None:
                name, q = owner.get(q), procs[q][0]
            owner_of[cid] = name
        if owner_of[cid] in tests:
            tests[owner_of[cid]]["cont"][cid] = usec


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit(__doc__)
    out, command = sys.argv[1], sys.argv[3:]
    tests, owner_of = {}, {}
    child = subprocess.Popen(command)
    while child.poll() is None:
        started = time.time()
        sample(tests, owner_of)
        time.sleep(max(0.0, 1.0 - (time.time() - started)))
    rows = {}
    for name, t in tests.items():
        wall = max(t["last"] - t["first"], 1.0)
        cont = sum(t["cont"].values()) / 1e6
        rows[name] = {"wall_s": round(wall, 1), "proc_cpu_s": round(t["proc_s"], 2), "containers_cpu_s": round(cont, 2),
                      "containers": len(t["cont"]), "cores": round((t["proc_s"] + cont) / wall, 3)}
    json.dump(rows, open(out, "w"), indent=1, sort_keys=True)
    for name, r in sorted(rows.items(), key=lambda kv: -kv[1]["cores"]):
        print(f"{r['cores']:5.2f} cores over {r['wall_s']:5.0f} s ({r['containers']:2} containers)  {name}")
    sys.exit(child.returncode)


if __name__ == "__main__":
    main()
