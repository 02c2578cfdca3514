"""The Boutiques descriptor of ``ale-app`` (https://boutiques.github.io, schema version 0.5).

``ale-app --print-descriptor`` prints it and ``boutiques/ale-app.json`` is the committed copy
(a test keeps the two equal). It is made from the two places that define the interface:

- its inputs from the command line's argument parser (handed in by :mod:`ale_app.cli`, which
  this wing may not import): every argument that makes sense for one run on a platform, each
  with the parser's help as its description; the others are listed in :data:`NOT_INPUTS`
  with the reason, and an argument in neither place is an error, so a new option cannot be
  forgotten;
- its output files from the outputs registry (:mod:`ale_app.outputs.registry`): the main
  files of a run, each a path template in OUTPUT_DIR.

It also names the container image docs/running.md's ``docker run`` uses, the exit codes, and the
README's example run as a Boutiques test (``boutiques/example-invocation.json`` is its
invocation).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ale_app import CODE_URL, __version__
from ale_app.errors import ExitCode
from ale_app.outputs import registry as O

SCHEMA_VERSION = "0.5"
#: The committed descriptor and example invocation, relative to the repository.
DESCRIPTOR_PATH = "boutiques/ale-app.json"
INVOCATION_PATH = "boutiques/example-invocation.json"
#: The image docs/running.md's ``docker build`` / ``docker run`` name.
CONTAINER_IMAGE = f"ale-app:{__version__}"

#: Parser arguments that are not inputs of a run on a platform, and why.
NOT_INPUTS = {
    "help": "prints the usage; runs nothing",
    "version": "prints the version; runs nothing",
    "print_schema": "prints the spec's JSON Schema; runs nothing",
    "print_descriptor": "prints this descriptor; runs nothing",
    "list_examples": "lists the bundled specs; runs nothing",
    "verify": "checks an archived run and takes no SPEC or OUTPUT_DIR: another kind of invocation",
    "precompile": "compiles the numba kernels into the install (done when an image is built); runs no analysis",
}

#: Positionals a run needs. The parser makes every positional optional only so that the
#: information flags and --verify go without them; a run without these is a usage error.
REQUIRED = ("spec", "output_dir")

#: Bounds the command line checks after parsing (``--n-jobs must be at least 1``).
MINIMUM = {"n_jobs": 1, "dask_wait": 0}

#: Rules between inputs that the command line checks after parsing: --dask-scheduler and
#: --dask-wait go with --parallel-backend dask, and dask needs --dask-scheduler.
REQUIRES_INPUTS = {"dask_scheduler": ["parallel_backend"], "dask_wait": ["parallel_backend"]}
VALUE_REQUIRES = {"parallel_backend": {"dask": ["dask_scheduler"], "loky": [], "threading": []}}
VALUE_DISABLES = {"parallel_backend": {"dask": [], "loky": ["dask_scheduler", "dask_wait"],
                                       "threading": ["dask_scheduler", "dask_wait"]}}

#: The README's example run (its Quick start command, ``ale-app example:pain-qualitative out/``).
EXAMPLE_INVOCATION = {"spec": "example:pain-qualitative", "output_dir": "out/"}

#: The main files of a run: (id, registry name, name, description). The first six are written
#: by every run (single group or contrast, either mode); the others only where the
#: description says. ``--validate-only`` writes nothing.
MAIN_OUTPUTS = (
    ("dataset_description", O.DATASET_DESCRIPTION, "Dataset description",
     "BIDS-derivatives dataset description: DatasetType 'derivative', GeneratedBy (name, version, "
     "code URL, container)."),
    ("spec_record", O.SPEC_JSON, "Spec as run",
     "The validated spec as run, defaults filled in, the inputs with their SHA-256."),
    ("provenance", O.PROVENANCE, "Provenance",
     "Command, start and end, software versions, platform, container, SHA-256 of every input and "
     "output; written last, so it marks a complete run."),
    ("report", O.REPORT, "Report",
     "Everything on one HTML page, with the interpretation paragraph."),
    ("citation", O.CITATION, "Methods and references",
     "Methods text and references for the analysis as run."),
    ("nimare_rerun", O.RERUN_SCRIPT, "NiMARE re-run script",
     "A self-contained Python script that re-runs the analysis with NiMARE alone (same evidence, "
     "kernel, thresholds, seed and iterations) and prints the largest difference from each map written."),
    ("coordinates", O.COORDINATES, "Coordinates",
     "Every focus that entered the analysis, in the target space (with a JSON sidecar); "
     "single-group (version 1) specs."),
    ("sleuth", O.SLEUTH, "Evidence base as Sleuth text",
     "Every experiment and focus in GingerALE's Sleuth format (MNI, as the analysis used them), with a "
     "JSON sidecar; single-group (version 1) specs (a contrast writes one per group)."),
    ("ale_statmap", O.STATMAP, "ALE statistic map",
     "The raw, unthresholded ALE statistic (not z, not p), with a JSON sidecar; single-group "
     "(version 1) specs."),
    ("cluster_map", O.CLUSTER_MAP, "Descriptive cluster labels",
     "Labels of the clusters of the display-thresholded ALE map (the threshold is not "
     "statistical); single-group (version 1) specs."),
    ("cluster_table", O.CLUSTER_TABLE, "Descriptive cluster table",
     "Peak, sub-peaks, size and anatomical labels of each descriptive cluster; single-group "
     "(version 1) specs."),
    ("jackknife_table", O.JACKKNIFE_TABLE, "Jackknife table",
     "Leave-one-out jackknife: each analysis's contribution to each descriptive cluster; "
     "single-group (version 1) specs with jackknife.enabled."),
    ("cluster_fwe_map", O.LOGP_CLUSTER_FWE, "Cluster-level FWE map",
     "-log10 cluster-level FWE p from the Monte Carlo null; single-group specs in mode inferential."),
    ("fwe_cluster_table", O.FWE_CLUSTER_TABLE, "FWE cluster table",
     "The clusters that passed cluster-level FWE; single-group specs in mode inferential."),
)
#: How many MAIN_OUTPUTS every run writes (the first ones).
N_ALWAYS = 6

SUGGESTED_RESOURCES = {
    # Measured for the bundled examples on a 2-core machine: example:pain-qualitative 10 s
    # wall, peak RSS 0.5 GB, 7 MB of outputs; example:pain-inferential 33-41 s; 906 analyses
    # of example:nback-flanker-906 27 s, 1.25 GB (docs/benchmarks.md). Disk: the image (0.87 GB) and the
    # outputs. Larger specs (more experiments, iterations or permutations) need more time.
    "cpu-cores": 2,
    "ram": 2,
    "disk-space": 1,
    "walltime-estimate": 60,
}


def _flag(action: argparse.Action) -> str:
    """The option's long form (``--verbose`` rather than ``-v``)."""
    return max(action.option_strings, key=len)


def _input(action: argparse.Action) -> dict[str, Any]:
    dest = action.dest
    entry: dict[str, Any] = {
        "id": dest,
        "name": dest.replace("_", " ").capitalize(),
        "description": action.help,
        "value-key": f"[{dest.upper()}]",
    }
    if isinstance(action, argparse._StoreTrueAction):
        entry["type"] = "Flag"
    elif action.type is int:
        entry["type"], entry["integer"] = "Number", True
    elif action.type is None:
        entry["type"] = "String"
    else:
        raise ValueError(f"no Boutiques type for the argument {dest!r} (type {action.type!r})")
    if action.option_strings:
        entry["command-line-flag"] = _flag(action)
    entry["optional"] = dest not in REQUIRED
    if action.choices:
        entry["value-choices"] = list(action.choices)
    if dest in MINIMUM:
        entry["minimum"] = MINIMUM[dest]
    if dest in REQUIRES_INPUTS:
        entry["requires-inputs"] = REQUIRES_INPUTS[dest]
    if dest in VALUE_REQUIRES:
        entry["value-requires"] = VALUE_REQUIRES[dest]
    if dest in VALUE_DISABLES:
        entry["value-disables"] = VALUE_DISABLES[dest]
    return entry


def _inputs(parser: argparse.ArgumentParser) -> list[dict[str, Any]]:
    inputs = []
    for action in parser._actions:
        if action.dest in NOT_INPUTS:
            continue
        if action.dest == argparse.SUPPRESS:
            raise ValueError(f"the argument {action.option_strings} has no name for the descriptor")
        inputs.append(_input(action))
    unknown = set(NOT_INPUTS) - {a.dest for a in parser._actions}
    if unknown:
        raise ValueError(f"NOT_INPUTS names arguments the parser does not have: {sorted(unknown)}")
    return inputs


def _groups(parser: argparse.ArgumentParser, ids: set[str]) -> list[dict[str, Any]]:
    groups = []
    for group in parser._mutually_exclusive_groups:
        members = [a.dest for a in group._group_actions if a.dest in ids]
        if len(members) > 1:
            groups.append({"id": "_or_".join(members), "name": " or ".join(m.capitalize() for m in members),
                           "members": members, "mutually-exclusive": True})
    return groups


def _output_files() -> list[dict[str, Any]]:
    from ale_app.outputs.registry import known_output_names

    known = known_output_names()
    outputs = []
    for index, (ident, name, title, description) in enumerate(MAIN_OUTPUTS):
        if name not in known:
            raise ValueError(f"{name!r} is not in the outputs registry")
        outputs.append({"id": ident, "name": title, "description": description,
                        "path-template": f"[OUTPUT_DIR]/{name}", "optional": index >= N_ALWAYS})
    return outputs


def command_line(prog: str, inputs: list[dict[str, Any]]) -> str:
    """The command-line template: the options, then ``--``, then the positionals (SPEC,
    OUTPUT_DIR, the analysis level), so that a value such as an OUTPUT_DIR of ``-v`` stays a
    value (after ``--`` the parser reads no flag) and never becomes an option."""
    options = [i["value-key"] for i in inputs if "command-line-flag" in i]
    positionals = [i["value-key"] for i in inputs if "command-line-flag" not in i]
    return " ".join([prog, *options, "--", *positionals])


def build_descriptor(parser: argparse.ArgumentParser) -> dict[str, Any]:
    """The Boutiques descriptor of the command line ``parser`` builds (``cli.build_parser()``)."""
    inputs = _inputs(parser)
    ids = {i["id"] for i in inputs}
    descriptor: dict[str, Any] = {
        "name": "ale-app",
        "tool-version": __version__,
        "description": parser.description,
        "author": "The ale-app developers",
        "url": CODE_URL,
        "schema-version": SCHEMA_VERSION,
        "command-line": command_line(parser.prog, inputs),
        "container-image": {"type": "docker", "image": CONTAINER_IMAGE},
        "inputs": inputs,
        "groups": _groups(parser, ids),
        "output-files": _output_files(),
        "error-codes": [{"code": int(code), "description": code.meaning} for code in ExitCode
                        # 0 is success; 3 comes only from --verify, which is not an input here
                        if code not in (ExitCode.SUCCESS, ExitCode.VERIFY_DIFFERS)],
        "suggested-resources": SUGGESTED_RESOURCES,
        "tags": {"domain": ["neuroimaging", "meta-analysis"], "method": "ALE"},
        "tests": [{
            "name": "pain-qualitative",
            "invocation": EXAMPLE_INVOCATION,
            "assertions": {"exit-code": 0, "output-files": [{"id": "report"}, {"id": "provenance"}]},
        }],
    }
    missing = set(EXAMPLE_INVOCATION) - ids
    if missing:
        raise ValueError(f"the example invocation names inputs the parser does not have: {sorted(missing)}")
    return descriptor


def descriptor_text(parser: argparse.ArgumentParser) -> str:
    """The descriptor as the exact text committed in ``boutiques/ale-app.json``."""
    return json.dumps(build_descriptor(parser), indent=2) + "\n"


def invocation_text() -> str:
    """The example invocation as the exact text committed in ``boutiques/example-invocation.json``."""
    return json.dumps(EXAMPLE_INVOCATION, indent=2) + "\n"
