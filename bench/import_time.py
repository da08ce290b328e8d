"""Cold import time: ``import nablanet`` vs ``import torch`` vs ``import sklearn.linear_model``.

Each import runs in a fresh interpreter (``python -c``), timed inside it around the
import statement alone, so interpreter start-up is excluded; the three are interleaved
over the repeats so that load from other jobs hits all alike.  The figure is the median;
the ratio is the median of same-round ratios.  ``numpy`` is shown as the floor (nablanet
imports it).  Also reports which heavy modules ``import nablanet`` pulled in (none should).

    python bench/import_time.py [--repeats 9]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

from _timing import save

MODULES = ["numpy", "nablanet", "sklearn.linear_model", "torch"]
HEAVY = ["scipy", "sklearn", "torch", "matplotlib", "dask", "rich", "pandas"]

_CHILD = """
import sys, time, json
start = time.perf_counter()
import {module}
elapsed = time.perf_counter() - start
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print(json.dumps({{"seconds": elapsed, "heavy": heavy}}))
"""


def time_import(module):
    code = _CHILD.format(module=module, heavy=HEAVY)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    times = {m: [] for m in MODULES}
    heavy = {}
    for r in range(args.repeats):
        order = MODULES if r % 2 == 0 else list(reversed(MODULES))
        for module in order:
            result = time_import(module)
            times[module].append(result["seconds"])
            heavy[module] = result["heavy"]
    record = {"repeats": args.repeats, "modules": {}}
    for module in MODULES:
        med = statistics.median(times[module])
        record["modules"][module] = {"median_s": med, "times_s": times[module],
                                     "heavy_modules_loaded": heavy[module]}
        print(f"import {module:22s} {med * 1e3:8.1f} ms")
    for peer in ("torch", "sklearn.linear_model"):
        ratios = [a / b for a, b in zip(times["nablanet"], times[peer], strict=True)]
        record[f"nablanet_over_{peer}"] = statistics.median(ratios)
        print(f"nablanet / {peer}: {record[f'nablanet_over_{peer}']:.3f} "
              f"(1/{1 / record[f'nablanet_over_{peer}']:.1f})")
    print(f"heavy modules loaded by import nablanet: {heavy['nablanet'] or 'none'}")
    print(f"wrote {save('import_time', record)}")


if __name__ == "__main__":
    main()
