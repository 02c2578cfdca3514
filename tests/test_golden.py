"""Version-1 runs byte for byte as pinned by tests/golden (see conftest's golden manifests):
the small spec and the bundled example. The other manifests are checked in the modules that
make their runs: test_inferential (v1 inferential), test_contrast (v2 descriptive, groups
from their own files), test_contrast_inferential (v2 subtraction), test_balanced_cli (v2
balanced) and test_contrast_robustness (v2 with stability and fail-safe N, and v1 of one
of its groups)."""

from __future__ import annotations

from conftest import GOLDEN, assert_matches_golden, golden_manifest


def test_small_spec_matches_golden(small_reference):
    assert_matches_golden(small_reference, "v1-small-descriptive")


def test_example_matches_golden(run_jobs1):
    assert_matches_golden(run_jobs1, "v1-example")


def test_golden_manifest_sees_a_changed_byte(small_reference, tmp_path):
    """The check can fail: one byte changed in one file changes that file's digest and no other."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(small_reference, copy)
    table = copy / "desc-clusters_table.tsv"
    table.write_bytes(table.read_bytes() + b"\n")
    ours, theirs = golden_manifest(copy)["files"], golden_manifest(small_reference)["files"]
    assert {n for n in ours if ours[n] != theirs[n]} == {"desc-clusters_table.tsv"}
    assert (GOLDEN / "v1-small-descriptive.json").is_file()
