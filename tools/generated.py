# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every generator in tools/ does with its output: write it, or with ``--check`` fail when it is stale."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

REPO = Path(__file__).resolve().parent.parent


def write_or_check(target: Path, text: str, argv: Sequence[str]) -> int:
    """Write ``text`` to ``target``; with ``--check`` write nothing and return 1 when the file differs."""
    if "--check" in argv[1:]:
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            print("%s is out of date: run python tools/%s" % (target.relative_to(REPO), Path(argv[0]).name))
            return 1
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return 0
