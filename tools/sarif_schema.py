# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The official SARIF 2.1.0 JSON schema (OASIS, errata01), for tests that validate our SARIF logs.

Not written here: go-sarif, a maintained SARIF library, embeds the OASIS schema
in its Go source as a raw string literal; the pinned module comes from the Go
module proxy into Go's module cache (outside the repository).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Dict

GO_SARIF = "github.com/owenrumney/go-sarif/v3@v3.3.1"
SCHEMA_SOURCE = "pkg/report/v210/sarif/schema.go"
TITLE = "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"


def load() -> Dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="meshops-go-") as workdir:
        download = subprocess.run(["go", "mod", "download", "-json", GO_SARIF], capture_output=True, text=True,
                                  cwd=workdir, timeout=300, check=True)
    source = (Path(json.loads(download.stdout)["Dir"]) / SCHEMA_SOURCE).read_text(encoding="utf-8")
    schema = json.loads(source[source.index("`") + 1:source.rindex("`")])
    if schema.get("title") != TITLE:
        raise ValueError("%s in %s is not the SARIF 2.1.0 schema" % (SCHEMA_SOURCE, GO_SARIF))
    return schema
