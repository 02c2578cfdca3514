"""The Boutiques descriptor: the committed file equals ``ale-app --print-descriptor`` and
describes the parser and the outputs registry."""

from __future__ import annotations

import json

from ale_app.cli import build_parser, main
from ale_app.outputs import descriptor as B
from ale_app.outputs import registry as O
from conftest import REPO

DESCRIPTOR = REPO / B.DESCRIPTOR_PATH
INVOCATION = REPO / B.INVOCATION_PATH
UPDATE = ("update it with: ale-app --print-descriptor > boutiques/ale-app.json && python -c "
          "\"from ale_app.outputs.descriptor import invocation_text; print(invocation_text(), end='')\" "
          "> boutiques/example-invocation.json")


def test_descriptor_file_matches_parser_and_registry():
    assert DESCRIPTOR.read_text() == B.descriptor_text(build_parser()), f"boutiques/ is out of date; {UPDATE}"
    assert INVOCATION.read_text() == B.invocation_text(), f"boutiques/ is out of date; {UPDATE}"
    descriptor = json.loads(DESCRIPTOR.read_text())
    assert descriptor["tests"][0]["invocation"] == json.loads(INVOCATION.read_text())


def test_print_descriptor_prints_the_committed_file(capsys):
    assert main(["--print-descriptor"]) == 0
    assert capsys.readouterr().out == DESCRIPTOR.read_text()


def test_descriptor_describes_the_parser_and_the_outputs():
    from ale_app import __version__
    from ale_app.outputs.contrast_registry import RUN_FILES

    descriptor = json.loads(DESCRIPTOR.read_text())
    assert descriptor["tool-version"] == __version__
    assert descriptor["container-image"] == {"type": "docker", "image": f"ale-app:{__version__}"}
    # The image the README builds and runs.
    readme = (REPO / "README.md").read_text()
    assert f"docker build -t ale-app:{__version__} " in readme
    assert f" ale-app:{__version__} /data/spec.yaml /data/out" in readme
    # Every argument of the parser is an input, or is left out for a stated reason.
    inputs = {i["id"]: i for i in descriptor["inputs"]}
    for action in build_parser()._actions:
        assert (action.dest in inputs) != (action.dest in B.NOT_INPUTS), action.dest
        if action.dest in inputs:
            entry = inputs[action.dest]
            assert entry["value-key"] in descriptor["command-line"].split()
            assert entry.get("command-line-flag") in (action.option_strings or [None])
            assert entry.get("value-choices") == (list(action.choices) if action.choices else None)
    assert [i for i, e in inputs.items() if not e["optional"]] == ["spec", "output_dir"]
    # Every output is a file of the registry; the required ones are those every run writes.
    names = O.known_output_names()
    required = set()
    for output in descriptor["output-files"]:
        folder, _, name = output["path-template"].partition("/")
        assert folder == "[OUTPUT_DIR]" and name in names, output
        if not output["optional"]:
            required.add(name)
    assert required == (RUN_FILES | {O.PROVENANCE}) - {O.BIDSIGNORE}
    assert {O.STATMAP, O.COORDINATES, O.REPORT, O.PROVENANCE} <= {
        o["path-template"].removeprefix("[OUTPUT_DIR]/") for o in descriptor["output-files"]}

