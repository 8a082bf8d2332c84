"""What a benchmark ran on: machine, versions, commit and command (shared by the benchmarks)."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def machine_info(command: str) -> dict[str, Any]:
    """The facts a result needs to be read by someone else: date, CPU, versions, commit, command."""
    import numba

    import dcompile

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import jax

        jax_version: str | None = jax.__version__
    except ImportError:
        jax_version = None
    git = ["git", "-C", str(ROOT)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "dcompile"], capture_output=True, text=True, check=False
    )
    return {
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numba": numba.__version__,
        "numpy": np.__version__,
        "jax": jax_version,
        "dcompile": dcompile.__version__,
        "git_commit": commit.stdout.strip()
        + (" + uncommitted changes under dcompile/" if dirty.stdout.strip() else ""),
        "command": command,
    }
