"""Run the code blocks of a docs page and check (or rewrite) the outputs shown under them.

A page's ```` ```python ```` blocks run in order in one namespace. A block
followed by a line ``<!-- output -->`` and a ```` ```text ```` block shows
what the code printed; a ```` ```console ```` block holds ``$ dcompile ...``
commands, each followed by its output. A python block preceded by a line
``<!-- skip: reason -->`` is an excerpt that does not run on its own (the
reason names where it is tested).

    python -m tests.docs_blocks docs/tutorial.md            # check
    python -m tests.docs_blocks --update docs/tutorial.md   # rewrite the outputs by running the code
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", flags=re.S | re.M)
OUTPUT_MARK = "<!-- output -->\n"
SKIP = re.compile(r"<!-- skip: [^>]+-->\n$")


@dataclass
class Block:
    lang: str
    body: str
    start: int  # span of the body in the page text
    end: int
    before: str  # the text between the previous fence and this one


def blocks(text: str) -> list[Block]:
    out, last = [], 0
    for m in FENCE.finditer(text):
        out.append(Block(m.group(1), m.group(2), m.start(2), m.end(2), text[last : m.start()]))
        last = m.end()
    return out


def run_python(code: str, namespace: dict, label: str) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, label, "exec"), namespace)
    return buf.getvalue()


def run_console(body: str) -> str:
    """Each ``$ command`` line run from the repository root, followed by its output."""
    out = []
    for line in body.splitlines():
        if not line.startswith("$ "):
            continue
        argv = shlex.split(line[2:])
        assert argv[0] == "dcompile", f"only dcompile commands run in docs: {line}"
        cmd = [sys.executable, "-c", "from dcompile.cli import main; main()", *argv[1:]]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
        out.append(line + "\n" + proc.stdout)
    return "".join(out)


def render(path: Path) -> tuple[str, str]:
    """(the page as it is, the page with every output regenerated)."""
    text = path.read_text()
    namespace: dict = {"__name__": f"docs_{path.stem}"}
    pieces, pos = [], 0
    bs = blocks(text)
    for i, b in enumerate(bs):
        fresh = None
        if b.lang == "python" and not SKIP.search(b.before):
            printed = run_python(b.body, namespace, f"{path.name} block {i}")
            if i + 1 < len(bs) and bs[i + 1].lang == "text" and bs[i + 1].before.endswith(OUTPUT_MARK):
                bs[i + 1].body = printed  # shown in the next block
        elif b.lang == "console":
            fresh = run_console(b.body)
        elif b.lang == "text" and b.before.endswith(OUTPUT_MARK):
            fresh = b.body  # set by the python block before it
        if fresh is not None:
            pieces += [text[pos : b.start], fresh]
            pos = b.end
    pieces.append(text[pos:])
    return text, "".join(pieces)


def main() -> None:
    update = "--update" in sys.argv
    failed = False
    for name in (a for a in sys.argv[1:] if not a.startswith("--")):
        path = Path(name)
        old, new = render(path)
        if update and new != old:
            path.write_text(new)
            print(f"updated {path}")
        elif new != old:
            failed = True
            print(f"{path}: the outputs shown are not what the code prints (run with --update)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
