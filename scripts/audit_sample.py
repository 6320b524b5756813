#!/usr/bin/env python3
"""Redo a disclose sample (consistent-sample/v1, DESIGN section 3) from a population CSV
(`userid` plus the stratum columns, as `disclose population` writes) and the published seed.
Usage: audit_sample.py POPULATION.csv SEED (--size N | --fraction F) [--strata EXPR,...]
Prints the selected user IDs, one per line, sorted as numbers."""
import argparse, csv, hashlib, math
from fractions import Fraction

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("population")
p.add_argument("seed")
g = p.add_mutually_exclusive_group(required=True)
g.add_argument("--size", type=int)
g.add_argument("--fraction", type=Fraction)  # exact: Fraction("0.05") == 1/20
p.add_argument("--strata", default="", help="comma-separated: a column, or year(column)")
a = p.parse_args()
exprs = [e.strip() for e in a.strata.split(",") if e.strip()]
def value(row, expr):  # a column named as expr holds derived values (disclose population)
    if expr not in row and expr.startswith("year(") and expr.endswith(")"):
        return row[expr[5:-1].strip()][:4]  # the first 4 characters of a YYYY-MM-DD date
    return row[expr]
def ticket(userid):  # SHA-256("disclose/v1/sample" 0x00 seed 0x00 userid), big-endian
    return hashlib.sha256(b"disclose/v1/sample\0" + a.seed.encode() + b"\0" + userid.encode()).digest()
with open(a.population, newline="", encoding="utf-8-sig") as f:
    rows = list(csv.DictReader(f))
N = len(rows)
n = min(N, a.size if a.size is not None else math.ceil(N * a.fraction))
strata = {}
for r in rows:
    strata.setdefault(tuple(value(r, e) for e in exprs), []).append(r["userid"])
keys = sorted(strata, key=lambda k: [s.encode() for s in k])  # keys as UTF-8 bytes
sizes = [len(strata[k]) for k in keys]
alloc = [n * s // N for s in sizes]  # floor(n * N_s / N), then largest remainders:
order = sorted(range(len(keys)), key=lambda i: (-(n * sizes[i] % N), -sizes[i], i))
for i in order[: n - sum(alloc)]:
    alloc[i] += 1
selected = [u for k, m in zip(keys, alloc) for u in sorted(strata[k], key=ticket)[:m]]
for userid in sorted(selected, key=int):
    print(userid)
