#!/usr/bin/env python3
"""Deterministic Helm values sets for benchmarks, shaped like real charts' values.

    scripts/gen-values.py small|medium|large [-o FILE]    # ~10, ~2,000, ~10,000 leaves
    scripts/gen-values.py --leaves N [-o FILE]            # about N leaves
    scripts/gen-values.py --out-dir DIR                   # DIR/values-{small,medium,large}.yaml

A leaf is a scalar (string, number, bool, null) in a map or a list. The same arguments always
give the same bytes (a fixed-seed xorshift generator, no dependency on Python's `random`), so
the Rust and Go benchmarks read identical input. The shape: `global` settings, then
`services.<name>` entries as a chart of charts would have them (image, replicas, ports, env,
resources, labels, annotations, probes, an ingress with hosts), which templates can range over.
The leaf count goes to stderr.
"""
import argparse
import os
import sys

SIZES = {"small": 10, "medium": 2000, "large": 10000}


class Rng:
    """xorshift64*: tiny, fast, stable across Python versions."""

    def __init__(self, seed):
        self.state = seed or 0x9E3779B97F4A7C15

    def next(self):
        x = self.state
        x ^= (x >> 12)
        x ^= (x << 25) & 0xFFFFFFFFFFFFFFFF
        x ^= (x >> 27)
        self.state = x
        return (x * 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF

    def below(self, n):
        return self.next() % n

    def pick(self, items):
        return items[self.below(len(items))]


WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
         "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo"]
REGIONS = ["eu-west-1", "us-east-1", "ap-south-1", "sa-east-1"]
CPUS = ["50m", "100m", "250m", "500m", "1", "2"]
MEMS = ["64Mi", "128Mi", "256Mi", "512Mi", "1Gi", "2Gi"]


def count_leaves(v):
    if isinstance(v, dict):
        return sum(count_leaves(x) for x in v.values())
    if isinstance(v, list):
        return sum(count_leaves(x) for x in v)
    return 1


def service(rng, i, full):
    name = f"{rng.pick(WORDS)}-{i:04d}"
    svc = {
        "enabled": rng.below(5) != 0,
        "replicas": 1 + rng.below(5),
        "image": {"repository": f"registry.example.com/{rng.pick(WORDS)}/{name}",
                  "tag": f"{rng.below(4)}.{rng.below(20)}.{rng.below(100)}"},
    }
    if not full:
        return name, svc
    svc["image"]["pullPolicy"] = rng.pick(["IfNotPresent", "Always"])
    svc["ports"] = [{"name": n, "port": p, "protocol": "TCP"}
                    for n, p in (("http", 8080 + rng.below(10)), ("metrics", 9090))]
    svc["env"] = {f"{rng.pick(WORDS).upper()}_{k:02d}": rng.pick(
        [f"value-{rng.below(1000)}", str(rng.below(100)), "true", ""]) for k in range(4 + rng.below(6))}
    svc["resources"] = {"limits": {"cpu": rng.pick(CPUS), "memory": rng.pick(MEMS)},
                        "requests": {"cpu": rng.pick(CPUS), "memory": rng.pick(MEMS)}}
    svc["labels"] = {"team": rng.pick(WORDS), "tier": rng.pick(["web", "api", "worker"])}
    svc["annotations"] = {f"example.com/{rng.pick(WORDS)}": f"note {rng.below(100)}"
                          for _ in range(1 + rng.below(3))}
    svc["probes"] = {"liveness": {"path": "/healthz", "initialDelaySeconds": 5 + rng.below(20),
                                  "periodSeconds": 10},
                     "readiness": {"path": "/ready", "periodSeconds": 5}}
    svc["ingress"] = {"enabled": rng.below(2) == 0, "className": "nginx",
                      "hosts": [{"host": f"{name}.{rng.pick(REGIONS)}.example.com",
                                 "paths": [{"path": "/", "pathType": "Prefix"}]}]}
    svc["ratio"] = rng.below(1000) / 8
    svc["nodeSelector"] = None if rng.below(3) == 0 else {"zone": rng.pick(REGIONS)}
    return name, svc


def generate(target, seed=1):
    rng = Rng(seed)
    values = {"global": {"environment": "production", "region": rng.pick(REGIONS),
                         "domain": "example.com"}, "services": {}}
    full = target > 50
    i = 0
    while count_leaves(values) < target:
        name, svc = service(rng, i, full)
        values["services"][name] = svc
        i += 1
    return values


def scalar(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    s = str(v)
    plain = (s and s[0].isalpha() and all(c.isalnum() or c in "-_./ " for c in s)
             and s.lower() not in ("true", "false", "yes", "no", "on", "off", "null", "y", "n")
             and not s.endswith(" "))
    return s if plain else '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_yaml(v, indent=0):
    pad = "  " * indent
    out = []
    if isinstance(v, dict):
        if not v:
            return pad + "{}\n"
        for k in v:
            x = v[k]
            if isinstance(x, dict) and x:
                out.append(f"{pad}{scalar(k)}:\n{to_yaml(x, indent + 1)}")
            elif isinstance(x, list) and x:
                out.append(f"{pad}{scalar(k)}:\n{to_yaml(x, indent)}")
            else:
                out.append(f"{pad}{scalar(k)}: {inline(x)}\n")
    elif isinstance(v, list):
        for x in v:
            if isinstance(x, dict) and x:
                body = to_yaml(x, indent + 1)
                out.append(pad + "- " + body[len(pad) + 2:])
            else:
                out.append(f"{pad}- {inline(x)}\n")
    else:
        out.append(pad + scalar(v) + "\n")
    return "".join(out)


def inline(x):
    if isinstance(x, dict):
        return "{}"
    if isinstance(x, list):
        return "[]"
    return scalar(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("size", nargs="?", choices=sorted(SIZES))
    ap.add_argument("--leaves", type=int)
    ap.add_argument("-o", "--output")
    ap.add_argument("--out-dir")
    args = ap.parse_args()
    if args.out_dir:
        os.makedirs(args.out_dir, exist_ok=True)
        for name, n in SIZES.items():
            v = generate(n)
            path = os.path.join(args.out_dir, f"values-{name}.yaml")
            with open(path, "w") as f:
                f.write(to_yaml(v))
            print(f"{path}: {count_leaves(v)} leaves", file=sys.stderr)
        return
    target = args.leaves if args.leaves else SIZES.get(args.size or "")
    if not target:
        ap.error("give a size, --leaves N or --out-dir DIR")
    v = generate(target)
    text = to_yaml(v)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    print(f"{count_leaves(v)} leaves", file=sys.stderr)


if __name__ == "__main__":
    main()
