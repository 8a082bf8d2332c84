"""``dcompile bench``: compile and call times of a function and its ``value_and_grad`` on numba.

Everything compiles into a fresh temporary cache directory, so the compile
times are cold. numba's one-off process initialisation (importing it and
compiling a first function) is timed separately, by compiling a trivial
function first, and kept out of the other figures. A second, fresh Python
process then loads ``value_and_grad`` from that cache, to show what a warm
start costs. Call times are medians of ``--repeat`` timeit samples, each of
an automatically chosen number of loops.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable, Sequence
from typing import Any

import click
import numpy as np

import dcompile as dc
from dcompile.backend.cache import ENV_VAR
from dcompile.cli.check_cmd import make_point, parse_at
from dcompile.cli.common import CliError, TargetSpec, echo_json, function_of, json_option, target_options, wrt_option


def numba_init_seconds() -> float:
    """Import numba and compile a trivial function: the cost every process pays once."""
    start = time.perf_counter()
    import numba

    numba.njit("float64(float64)", cache=False)(lambda x: x + 1.0)
    return time.perf_counter() - start


def cold(make: Callable[[], Any], args: Sequence[Any]) -> tuple[Any, dict[str, Any]]:
    """Build a compiled object and call it once: trace, derive, emit and compile."""
    start = time.perf_counter()
    obj = make()
    obj(*args)
    total = time.perf_counter() - start
    kernel = obj.kernel
    return obj, {"seconds": total, "numba_seconds": kernel.compile_seconds, "cache_hit": kernel.cache_hit}


def call_time(fn: Callable[..., Any], args: Sequence[Any], repeat: int) -> dict[str, Any]:
    """Median seconds per call over ``repeat`` samples (loops per sample chosen by timeit)."""
    timer = timeit.Timer("fn(*args)", globals={"fn": fn, "args": list(args)})
    loops, _ = timer.autorange()
    samples = [t / loops for t in timer.repeat(repeat=repeat, number=loops)]
    return {"median_seconds": statistics.median(samples), "loops": loops, "samples": repeat}


def _spec(params: dict[str, Any]) -> tuple[Any, list[Any], Any]:
    """The function (numba backend), its arguments and wrt, from the command's parameters."""
    fn = function_of(params["target"], params["expr"], params["args"], params["name"], backend="numba")
    at = parse_at(fn, params["at"], params["shapes"]) if params["at"] is not None else None
    args = make_point(fn, params["shapes"], at, np.random.default_rng(params["seed"]))
    wrt = [w.strip() for w in params["wrt"].split(",")] if params["wrt"] else None
    return fn, args, wrt


def child_main() -> None:
    """In a fresh process: load value_and_grad from the cache and report how (JSON on stdout)."""
    params = json.loads(sys.argv[1])
    init = numba_init_seconds()  # this process's own one-off cost, kept apart as in the parent
    start = time.perf_counter()
    fn, args, wrt = _spec(params)
    vg = dc.value_and_grad(fn, wrt)
    vg(*args)
    kernel = vg.kernel
    out = {
        "compile_seconds": kernel.compile_seconds,
        "cache_hit": kernel.cache_hit,
        "first_call_seconds": time.perf_counter() - start,
        "numba_init_seconds": init,
    }
    print(json.dumps(out))


def cached_load(params: dict[str, Any], cache: str) -> dict[str, Any]:
    # The child imports this very dcompile, installed or not.
    root = os.path.dirname(os.path.dirname(os.path.abspath(dc.__file__)))
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, ENV_VAR: cache, "PYTHONPATH": path}
    code = "from dcompile.cli.bench_cmd import child_main; child_main()"
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(params)], env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise CliError(f"the fresh process failed to load value_and_grad:\n{proc.stderr.strip()}")
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "process_seconds": wall}


def measure(params: dict[str, Any], repeat: int) -> dict[str, Any]:
    """Every figure, with a fresh temporary cache directory (removed afterwards)."""
    cache = tempfile.mkdtemp(prefix="dcompile-bench-")
    saved = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = cache
    try:
        init = numba_init_seconds()
        fn, args, wrt = _spec(params)
        _, compile_f = cold(lambda: fn, args)
        vg, compile_vg = cold(lambda: dc.value_and_grad(fn, wrt), args)
        loaded = cached_load(params, cache)
        call_f, call_vg = call_time(fn, args, repeat), call_time(vg, args, repeat)
    finally:
        if saved is None:
            os.environ.pop(ENV_VAR, None)
        else:
            os.environ[ENV_VAR] = saved
        shutil.rmtree(cache, ignore_errors=True)
    return {
        "function": fn.name,
        "args": list(fn.arg_names),
        "wrt": list(vg.wrt_names),
        "backend": "numba",
        "numba_init_seconds": init,
        "compile": {"f": compile_f, "value_and_grad": compile_vg},
        "cached_load": loaded,
        "call": {"f": call_f, "value_and_grad": call_vg},
        "ratio_vg_over_f": {
            "compile": compile_vg["seconds"] / compile_f["seconds"],
            "call": call_vg["median_seconds"] / call_f["median_seconds"],
        },
    }


def fmt_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def echo_report(r: dict[str, Any], repeat: int) -> None:
    click.echo(f"bench {r['function']}({', '.join(r['args'])}) wrt {', '.join(r['wrt'])} on numba")
    click.echo(f"numba process initialisation (import + a trivial function): {fmt_time(r['numba_init_seconds'])}")
    click.echo("  (paid once per process; not included below)\n")
    c, call, ratio = r["compile"], r["call"], r["ratio_vg_over_f"]
    head = f"  {'':<16}{'cold compile':>14}{'of which numba':>16}{f'call (median of {repeat})':>22}"
    click.echo(head)
    for key in ("f", "value_and_grad"):
        click.echo(
            f"  {key:<16}{fmt_time(c[key]['seconds']):>14}{fmt_time(c[key]['numba_seconds']):>16}"
            f"{fmt_time(call[key]['median_seconds']):>22}"
        )
    click.echo(f"  {'vg / f':<16}{ratio['compile']:>13.2f}x{'':>16}{ratio['call']:>21.2f}x")
    loaded = r["cached_load"]
    hit = "cache hit" if loaded["cache_hit"] else "NOT a cache hit"
    click.echo(
        f"\ncached load of value_and_grad in a fresh process: {fmt_time(loaded['compile_seconds'])} ({hit});\n"
        f"  with tracing and the first call {fmt_time(loaded['first_call_seconds'])}; the whole process "
        f"{fmt_time(loaded['process_seconds'])} (Python start-up, imports, numba initialisation "
        f"{fmt_time(loaded['numba_init_seconds'])})"
    )


@click.command(
    short_help="Time compiling (cold, cached) and calling.",
    epilog="Examples:\n\n  dcompile bench model.py:f --at 1,2,3,4\n\n"
    "  dcompile bench model.py:loss --wrt w --shape w=20 --shape X=500x20 --shape y=500 --json",
)
@target_options
@wrt_option
@click.option("--at", "at", metavar="X1,X2,...", help="scalar argument values (default: random, seeded)")
@click.option("--seed", default=0, show_default=True, help="seed of the random arguments")
@click.option("--repeat", default=7, show_default=True, type=click.IntRange(min=1), help="timing samples per call")
@json_option
def command(
    *,
    spec: TargetSpec,
    wrt: str | None,
    at: str | None,
    seed: int,
    repeat: int,
    as_json: bool,
) -> int:
    """Time compiling (cold and cached) and calling f and value_and_grad on numba."""
    target, expr, args_, name, shapes = spec.target, spec.expr, spec.args, spec.name, spec.shapes
    params = {
        "target": target,
        "expr": expr,
        "args": args_,
        "name": name,
        "shapes": list(shapes),
        "wrt": wrt,
        "at": at,
        "seed": seed,
    }
    fn = function_of(target, expr, args_, name, backend="python")  # usage errors before any compiling
    if at is not None:
        parse_at(fn, at, shapes)
    report = measure(params, repeat)
    if as_json:
        echo_json(report)
    else:
        echo_report(report, repeat)
    return 0
