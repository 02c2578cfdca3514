"""The JSON Schema of every spec version, as committed in ``schemas/`` and printed by
``--print-schema``: version 1 (:class:`ale_app.spec.models.AnalysisSpec`), version 2
(:class:`ale_app.spec.v2.AnalysisSpecV2`) or version 3 (:class:`ale_app.spec.v3.AnalysisSpecV3`),
told apart by ``spec_version``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter

from ale_app.spec.models import SCHEMA_ID, AnalysisSpec
from ale_app.spec.v2 import AnalysisSpecV2
from ale_app.spec.v3 import AnalysisSpecV3


def build_json_schema() -> dict[str, Any]:
    """Return the JSON Schema of every spec version (what ``schemas/`` holds): version 1
    (:class:`AnalysisSpec`) or version 2 (:class:`ale_app.spec.v2.AnalysisSpecV2`), told apart
    by ``spec_version``."""
    either = Annotated[Union[AnalysisSpec, AnalysisSpecV2, AnalysisSpecV3], Field(discriminator="spec_version")]
    schema = TypeAdapter(either).json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "ale-app analysis spec",
            "description": "An ale-app analysis spec: version 1 (one input), version 2 (named groups and a "
                           "contrast) or version 3 (a project: groups and contrasts), told apart by spec_version.", **schema}


def schema_text() -> str:
    """Return the JSON Schema as the exact text committed in ``schemas/``."""
    return json.dumps(build_json_schema(), indent=2, sort_keys=False) + "\n"
