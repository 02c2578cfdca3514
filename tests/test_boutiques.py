"""The Boutiques descriptor: the committed file equals ``ale-app --print-descriptor``, the
boutiques package (``bosh``) validates it, and its example invocation simulates to the
README's command. ``bosh`` runs offline, in an empty network namespace."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ale_app.cli import build_parser, main
from ale_app.outputs import descriptor as B
from ale_app.outputs import registry as O
from conftest import REPO, offline, require, skip_or_fail

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
    from ale_app.outputs.registry import RUN_FILES

    descriptor = json.loads(DESCRIPTOR.read_text())
    assert descriptor["tool-version"] == __version__
    assert descriptor["container-image"] == {"type": "docker", "image": f"ale-app:{__version__}"}
    # The image docs/running.md builds and runs.
    readme = (REPO / "docs" / "running.md").read_text()
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
    from ale_app.outputs.registry import known_output_names

    names = known_output_names()
    required = set()
    for output in descriptor["output-files"]:
        folder, _, name = output["path-template"].partition("/")
        assert folder == "[OUTPUT_DIR]" and name in names, output
        if not output["optional"]:
            required.add(name)
    assert required == (RUN_FILES | {O.PROVENANCE}) - {O.BIDSIGNORE}
    assert {O.STATMAP, O.COORDINATES, O.REPORT, O.PROVENANCE} <= {
        o["path-template"].removeprefix("[OUTPUT_DIR]/") for o in descriptor["output-files"]}


def _bosh(*args: str) -> subprocess.CompletedProcess:
    require("boutiques", "the descriptor is checked with bosh")
    exe = shutil.which("bosh", path=str(Path(sys.executable).parent)) or shutil.which("bosh")
    if exe is None:
        skip_or_fail("the bosh command (boutiques) is not on PATH", "install requirements-test.lock")
    cmd, env = offline([exe, *args])
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=120)


def test_bosh_validate():
    proc = _bosh("validate", B.DESCRIPTOR_PATH)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "OK", proc.stdout + proc.stderr


def test_bosh_validate_bids_fails_for_the_documented_reasons():
    """``bosh validate --bids`` checks the BIDS-App template (boutiques/bids.py), which
    ale-app's command line (PRODUCT.md) does not follow, and cannot honestly:

    - CLIError: the command line must be ``mkdir -p [OUTPUT_DIR]; <tool> [BIDS_DIR]
      [OUTPUT_DIR] [ANALYSIS_LEVEL] [PARTICIPANT_LABEL] [SESSION_LABEL] ...``; ale-app's first
      positional is SPEC (a spec or example:NAME, not a BIDS dataset) and it has no
      participant or session labels (its inputs are published coordinates);
    - OutError: OUTPUT_DIR must be two inputs, a String and a File;
    - OutputError: the only output file must be ``[OUTPUT_DIR]`` itself, where this
      descriptor lists the files a run writes.

    Its fourth check passes: the optional ``group`` positional is the analysis level.
    If one of these starts passing, or another check fails, this test says so.
    """
    proc = _bosh("validate", "--bids", B.DESCRIPTOR_PATH)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text
    assert "Invalid BIDS app descriptor:" in text, text
    kinds = re.findall(r"^\s*(\w+Error):", text.split("Invalid BIDS app descriptor:", 1)[1], re.M)
    assert sorted(kinds) == ["CLIError", "OutError", "OutputError"], text
    assert "LevelError" not in text


def _simulate(invocation: Path) -> str:
    proc = _bosh("exec", "simulate", B.DESCRIPTOR_PATH, "-i", str(invocation))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == "Generated Command:" and len(lines) == 2, proc.stdout
    return lines[1]


def readme_example_command() -> str:
    """The command the README's Quick start runs after installing (the last ``&&`` part)."""
    readme = (REPO / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)\n```", quick_start, re.S).group(1)
    return block.split(" && ")[-1].strip()


def test_example_invocation_simulates_to_the_readme_command():
    """The same command but for the '--' that ends the options (so that no value becomes a flag)."""
    assert readme_example_command() == "ale-app example:pain-qualitative out/"
    simulated = _simulate(INVOCATION)
    assert simulated == "ale-app -- example:pain-qualitative out/"
    assert build_parser().parse_args(shlex.split(simulated)[1:]) == build_parser().parse_args(
        shlex.split(readme_example_command())[1:])


@pytest.mark.parametrize("value", ["-v", "--overwrite", "-q", "--version"])
def test_a_positional_value_that_looks_like_a_flag_stays_a_value(tmp_path, value):
    """An OUTPUT_DIR (or SPEC) of '-v' would be read as --verbose (and '--version' would print the
    version and run nothing) if the command line put it where options are read."""
    invocation = {"spec": value, "output_dir": value, "quiet": True}
    path = tmp_path / "invocation.json"
    path.write_text(json.dumps(invocation))
    argv = shlex.split(_simulate(path))
    args = vars(build_parser().parse_args(argv[1:]))
    assert (args["spec"], args["output_dir"], args["quiet"], args["verbose"], args["overwrite"]) == (
        value, value, True, False, False)
    assert B.command_line("ale-app", B.build_descriptor(build_parser())["inputs"]).endswith(
        " -- [SPEC] [OUTPUT_DIR] [ANALYSIS_LEVEL]")


def test_every_input_simulates_to_a_command_line_ale_app_accepts(tmp_path):
    invocation = {"spec": "my spec.yaml", "output_dir": "out dir/", "analysis_level": "group", "n_jobs": 3,
                  "parallel_backend": "dask", "dask_scheduler": "tcp://10.0.0.5:8786", "overwrite": True,
                  "validate_only": True, "quiet": True}
    path = tmp_path / "invocation.json"
    path.write_text(json.dumps(invocation))
    argv = shlex.split(_simulate(path))
    assert argv[0] == "ale-app"
    args = vars(build_parser().parse_args(argv[1:]))
    assert {key: args[key] for key in invocation} == invocation
    assert not args["verbose"]


@pytest.mark.parametrize("bad", [{"n_jobs": 0}, {"analysis_level": "participant"}, {"output_dir": None}])
def test_bosh_refuses_invocations_ale_app_refuses(tmp_path, bad):
    invocation = {**B.EXAMPLE_INVOCATION, **bad}
    path = tmp_path / "invocation.json"
    path.write_text(json.dumps({k: v for k, v in invocation.items() if v is not None}))
    proc = _bosh("exec", "simulate", B.DESCRIPTOR_PATH, "-i", str(path))
    assert proc.returncode != 0, proc.stdout
