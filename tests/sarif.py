"""Validation against the SARIF 2.1.0 schema, vendored (no network).

``tests/data/sarif-2.1.0-rtm.5.json`` is the OASIS SARIF 2.1.0 (rtm.5, the published
2.1.0) JSON Schema as the npm package ``@microsoft/jest-sarif`` 1.0.0-beta.0 (MIT) ships it
in ``lib/schemas/``, unchanged.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

SCHEMA = Path(__file__).resolve().parent / "data" / "sarif-2.1.0-rtm.5.json"


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


def sarif_problems(document: Any) -> list[str]:
    """Every way ``document`` breaks the SARIF 2.1.0 schema ([] when it is valid)."""
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in _validator().iter_errors(document)]
