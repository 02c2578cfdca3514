"""The spec: schema kept in sync with the models, examples valid, bad specs refused."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from ale_app.spec import load as SL

from ale_app.spec import models as S
from ale_app.spec.schema import schema_text
from ale_app.errors import SpecError

REPO = Path(__file__).resolve().parents[1]
SCHEMA_FILE = REPO / "schemas" / S.SCHEMA_FILENAME


def test_schema_file_matches_models():
    committed = SCHEMA_FILE.read_text()
    assert committed == schema_text(), (
        "schemas/ is out of date; update it with: ale-app --print-schema > schemas/ale-app-spec.schema.json"
    )


def test_bundled_examples_are_copied_to_examples_folder():
    for name in SL.list_examples():
        assert (REPO / "examples" / f"{name}.yaml").read_text() == SL.example_path(name).read_text()


@pytest.mark.parametrize("path", sorted((REPO / "examples").glob("*.yaml")), ids=lambda p: p.name)
def test_examples_valid_in_pydantic_and_jsonschema(path):
    data = yaml.safe_load(path.read_text())
    jsonschema.validate(data, json.loads(SCHEMA_FILE.read_text()))
    SL.parse_spec(path.read_text(), str(path))


def _example_data():
    return yaml.safe_load(SL.example_path("pain-qualitative").read_text())


def _mutate(change):
    data = _example_data()
    change(data)
    return data


INVALID = {
    "unknown-top-key": lambda d: d.update(colour="blue"),
    "unknown-nested-key": lambda d: d["ale"].update(kernel="gauss"),
    "wrong-type": lambda d: d["display"].update(threshold_percentile="high"),
    "percentile-100": lambda d: d["display"].update(threshold_percentile=100),
    "percentile-0": lambda d: d["display"].update(threshold_percentile=0),
    "select-first-1": lambda d: d["input"].update(select={"first": 1}),
    "select-both": lambda d: d["input"].update(select={"first": 3, "ids": ["a", "b"]}),
    "negative-cluster-size": lambda d: d["jackknife"].update(cluster_threshold_mm3=-1),
    "sample-size-zero": lambda d: d["ale"].update(sample_size=0, kernel_fwhm=None),
    "bad-format": lambda d: d["input"].update(format="excel"),
    "spec-version-2": lambda d: d.update(spec_version=2),
    "missing-input": lambda d: d.pop("input"),
    "bad-figure-format": lambda d: d["figures"].update(formats=["jpg"]),
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_specs_refused_by_both_validators(name):
    data = _mutate(INVALID[name])
    schema = json.loads(SCHEMA_FILE.read_text())
    if name != "select-both":  # a cross-field rule the JSON Schema cannot express
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(data, schema)
    with pytest.raises(SpecError) as info:
        SL.parse_spec(yaml.safe_dump(data), "test.yaml")
    assert "The spec is not valid" in info.value.message


def test_error_names_field_and_line():
    text = SL.example_path("pain-qualitative").read_text().replace("formats: [png, svg]", "formats: [png, svg]\n  colour: red")
    with pytest.raises(SpecError) as info:
        SL.parse_spec(text, "my.yaml")
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "colour" in ln)
    assert "figures.colour: unknown key" in info.value.message
    assert f"my.yaml, line {line}" in info.value.message


def test_defaults_are_filled():
    spec = SL.parse_spec("spec_version: 1\ninput: {path: x.json}\n", "min.yaml")
    assert spec.display.threshold_percentile == 95
    assert spec.jackknife.cluster_threshold_mm3 == 500
    assert spec.figures.formats == ["png"]  # SVG only when asked (issue 39)


def test_python_tag_is_refused_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    text = f"spec_version: 1\ninput: !!python/object/apply:os.system ['touch {marker}']\n"
    with pytest.raises(SpecError) as info:
        SL.parse_spec(text, "evil.yaml")
    assert "tag" in info.value.message
    assert not marker.exists()


def test_defaults_equal_their_written_out_values():
    """A default and the same value written out must be the same spec (--verify relies on it)."""
    implicit = SL.parse_spec("spec_version: 1\ninput: {path: x.json}\n", "min.yaml")
    explicit = S.AnalysisSpec.model_validate(implicit.model_dump(mode="json"))
    assert implicit == explicit
    assert repr(implicit.jackknife.cluster_threshold_mm3) == repr(explicit.jackknife.cluster_threshold_mm3)
    assert repr(implicit.display.threshold_percentile) == repr(explicit.display.threshold_percentile)


def test_builtin_colormap_names_match_matplotlib():
    """The list the spec checks ``display.cmap`` against (without importing matplotlib) is
    matplotlib's own, in a process that imported nothing else."""
    import subprocess
    import sys

    import matplotlib

    from ale_app.spec.colormap_names import BUILTIN_COLORMAPS, MATPLOTLIB_VERSION

    names = subprocess.run([sys.executable, "-c", "import matplotlib; print('\\n'.join(sorted(matplotlib.colormaps)))"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert matplotlib.__version__ == MATPLOTLIB_VERSION, "regenerate ale_app/spec/colormap_names.py"
    assert sorted(BUILTIN_COLORMAPS) == names, "regenerate ale_app/spec/colormap_names.py"


@pytest.mark.parametrize("cmap, ok", [("viridis", True), ("magma_r", True), ("virdis", False)])
def test_cmap_checked_without_matplotlib(cmap, ok):
    import subprocess
    import sys

    code = ("import sys; from ale_app.spec.models import DisplaySpec\n"
            f"try:\n    DisplaySpec(cmap={cmap!r}); print('ok')\nexcept ValueError: print('refused')\n"
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["ok" if ok else "refused", "False"]
