"""Run the differential fuzzer (tests/test_fuzz.py) for longer and report its figures.

    python benchmarks/fuzz.py 2000        # about 2,000 examples per test, random (not derandomized)

Sets ``DCOMPILE_FUZZ_EXAMPLES``, runs each fuzz test in this process, and prints
the programs tried (admitted points), points rejected (near a kink or too
large), checks made, numba programs and the failures (each one a mismatch
between dcompile and an oracle, or an error, with the program that shows it).
Uses a fresh cache directory unless ``DCOMPILE_CACHE_DIR`` is set.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path


def main(argv: list[str]) -> int:
    examples = int(argv[1]) if len(argv) > 1 else 1000
    os.environ["DCOMPILE_FUZZ_EXAMPLES"] = str(examples)
    os.environ.setdefault("DCOMPILE_CACHE_DIR", tempfile.mkdtemp(prefix="dcompile-fuzz-"))
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests import test_fuzz

    names = [n for n in dir(test_fuzz) if n.startswith("test_fuzz_")]
    if len(argv) > 2:
        names = [n for n in names if any(k in n for k in argv[2:])]
    failures: list[dict[str, str]] = []
    start = time.perf_counter()
    for name in names:
        t0 = time.perf_counter()
        try:
            getattr(test_fuzz, name)()
            status = "ok"
        except Exception as exc:  # a mismatch: report it with hypothesis' minimal example
            status = "FAILED"
            failures.append({"test": name, "error": "".join(traceback.format_exception_only(exc))[-4000:]})
        print(f"{name}: {status} ({time.perf_counter() - t0:.0f} s) {test_fuzz.STATS}", flush=True)
    report = {
        "examples_per_test": examples,
        "seconds": round(time.perf_counter() - start),
        **test_fuzz.STATS,
        "failures": len(failures),
    }
    print(json.dumps(report))
    for f in failures:
        print(f"\n--- {f['test']}\n{f['error']}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
