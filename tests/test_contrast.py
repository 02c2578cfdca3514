"""Contrasts (spec version 2): the spec, bad input, and the descriptive contrast end to end,
checked against NiMARE's ALE fitted in the test and against leave-one-out refits.

The inferential subtraction's numbers are checked against NiMARE's ALESubtraction +
FWECorrector in tests/test_subtraction.py; its run end to end is in
tests/test_contrast_inferential.py.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import yaml

from ale_app.cli import main

SPACE = "space-MNI152NLin6Asym_res-2"


def _mask():
    from nimare.utils import get_template

    img = get_template("mni152_2mm", mask="brain")
    return np.asarray(img.dataobj) > 0, img.affine


def _group_table(index: int, mask, affine, n: int, prefix: str) -> pd.DataFrame:
    """A generated evidence base (tests/generate.py) of about ``n`` experiments, ids prefixed."""
    from generate import make_case

    frames = []
    i = index
    while sum(f.groupby(["study_id", "analysis_id"]).ngroups for f in frames) < n:
        case = make_case(i, mask, affine)
        table = pd.DataFrame(case.rows)
        table["study_id"] = f"{prefix}{i}_" + table["study_id"].astype(str)
        frames.append(table)
        i += 1
    return pd.concat(frames, ignore_index=True)


def _write_groups(folder: Path, n1: int, n2: int, seed: int = 3) -> tuple[Path, Path]:
    mask, affine = _mask()
    t1 = _group_table(seed * 10, mask, affine, n1, "a")
    t2 = _group_table(seed * 10 + 5, mask, affine, n2, "b")
    p1, p2 = folder / "first.tsv", folder / "second.tsv"
    t1.to_csv(p1, sep="\t", index=False)
    t2.to_csv(p2, sep="\t", index=False)
    return p1, p2


def _spec(folder: Path, extra: dict | None = None, **groups) -> Path:
    data = {"spec_version": 2, "groups": groups or {"first": {"path": "first.tsv"}, "second": {"path": "second.tsv"}},
            "contrast": {"groups": list(groups or ["first", "second"])},
            "figures": {"formats": ["png"], "dpi": 50}}
    data.update(extra or {})
    path = folder / "contrast.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def descriptive_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("contrast")
    _write_groups(folder, 6, 5)
    spec = _spec(folder)
    out = folder / "out"
    assert main([str(spec), str(out), "--n-jobs", "1", "-q"]) == 0
    return folder, out


def _nimare_ale(table_path: Path) -> np.ndarray:
    """NiMARE's own ALE of a table, through ale-app's reader (the same studyset)."""
    from ale_app.inputs.evidence import load_evidence
    from ale_app.spec.models import ALESpec, InputSpec
    from ale_app.stats.ale import fit_stat_values

    ev = load_evidence(InputSpec(path=str(table_path)), table_path.parent, ALESpec())
    values, _ = fit_stat_values(ev.studyset, ALESpec())
    return values, ev


def test_difference_map_equals_nimare(descriptive_run):
    folder, out = descriptive_run
    ale1, _ = _nimare_ale(folder / "first.tsv")
    ale2, _ = _nimare_ale(folder / "second.tsv")
    from nilearn.maskers import NiftiMasker
    from nimare.utils import get_template

    masker = NiftiMasker(get_template("mni152_2mm", mask="brain")).fit()
    diff = masker.transform(nib.load(out / f"contrast-firstMinusSecond_{SPACE}_stat-aledifference_statmap.nii.gz")).ravel()
    assert np.max(np.abs(diff - (ale1.astype(np.float64) - ale2))) <= 1e-6
    g1 = masker.transform(nib.load(out / f"group-first_{SPACE}_stat-ale_statmap.nii.gz")).ravel()
    assert np.max(np.abs(g1 - ale1)) <= 1e-6


def test_display_threshold_and_clusters_follow_the_map(descriptive_run):
    _, out = descriptive_run
    side = json.loads((out / f"contrast-firstMinusSecond_{SPACE}_stat-aledifference_statmap.json").read_text())
    assert side["Inferential"] is False and side["ThresholdIsStatistical"] is False
    data = np.asarray(nib.load(out / f"contrast-firstMinusSecond_{SPACE}_stat-aledifference_statmap.nii.gz").dataobj)
    nonzero = np.abs(data[data != 0])
    assert side["DisplayThreshold"] == pytest.approx(float(np.percentile(nonzero, 95)), rel=1e-6)
    labels = np.asarray(nib.load(out / f"contrast-firstMinusSecond_{SPACE}_desc-clusters_dseg.nii.gz").dataobj)
    table = pd.read_csv(out / "contrast-firstMinusSecond_desc-clusters_table.tsv", sep="\t")
    main_rows = table[table["peak"] == "main"]
    assert sorted(main_rows["cluster_id"]) == sorted(int(v) for v in np.unique(labels) if v > 0)
    for _, row in main_rows.iterrows():
        inside = labels == row["cluster_id"]
        values = data[inside]
        if row["tail"] == "positive":
            assert (values > side["DisplayThreshold"]).all()
        else:
            assert (values < -side["DisplayThreshold"]).all()
        assert row["size_mm3"] == inside.sum() * 8


def test_contrast_jackknife_equals_refits(descriptive_run):
    """Each cell equals 1 - (difference without the experiment) / difference, averaged over the
    cluster, with the experiment's group refitted by NiMARE without it."""
    from ale_app.spec.models import ALESpec
    from ale_app.stats.ale import fit_stat_values
    from nilearn.maskers import NiftiMasker
    from nimare.utils import get_template

    folder, out = descriptive_run
    jk = pd.read_csv(out / "contrast-firstMinusSecond_desc-jackknife_table.tsv", sep="\t")
    labels_img = nib.load(out / f"contrast-firstMinusSecond_{SPACE}_desc-clusters_dseg.nii.gz")
    masker = NiftiMasker(get_template("mni152_2mm", mask="brain")).fit()
    labels = np.rint(masker.transform(labels_img)).ravel().astype(int)
    table = pd.read_csv(out / "contrast-firstMinusSecond_desc-clusters_table.tsv", sep="\t")
    tails = dict(zip(table["cluster_id"], table["tail"]))
    ale = {}
    evidence = {}
    for name in ("first", "second"):
        ale[name], evidence[name] = _nimare_ale(folder / f"{name}.tsv")
    checked = 0
    for name, other, sign, tail in (("first", "second", 1, "positive"), ("second", "first", -1, "negative")):
        clusters = [k for k, t in tails.items() if t == tail]
        if not clusters:
            continue
        ev = evidence[name]
        for left_out in ev.ids[:2]:
            keep = [i for i in ev.ids if i != left_out]
            loo, _ = fit_stat_values(ev.studyset.slice(keep), ALESpec())
            diff = sign * (ale[name].astype(np.float64) - ale[other])
            diff_loo = sign * (loo.astype(np.float64) - ale[other])
            row = jk[jk["id"] == left_out].iloc[0]
            assert row["group"] == name
            for k in clusters:
                inside = labels == k
                with np.errstate(divide="ignore", invalid="ignore"):
                    expected = float(np.mean(1 - np.nan_to_num(diff_loo[inside] / diff[inside])))
                assert row[f"cluster_{k}"] == pytest.approx(expected, abs=1e-5)
                checked += 1
    assert checked > 0


def test_report_words_follow_the_tables(descriptive_run):
    from ale_app.present.interpretation_words import FORBIDDEN_PHRASES

    _, out = descriptive_run
    report = (out / "report.html").read_text()
    citation = (out / "CITATION.md").read_text()
    for text in (report, citation):
        # Embedded figures are base64 data, not words: leave them out of the scan.
        low = re.sub(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=]+", "", text).lower()
        for phrase in FORBIDDEN_PHRASES:
            assert phrase not in low, phrase
    table = pd.read_csv(out / "contrast-firstMinusSecond_desc-clusters_table.tsv", sep="\t")
    main_rows = table[table["peak"] == "main"]
    n_pos = int((main_rows["tail"] == "positive").sum())
    n_neg = int((main_rows["tail"] == "negative").sum())
    short = re.search(r"<h2>Interpretation</h2><p>(.*?)</p>", report, re.S).group(1)
    assert len(short.split()) <= 170, short  # a paragraph a paper can paste (issue 39)
    details = re.search(r"<h3>In detail</h3><p>(.*?)</p>", report, re.S)
    para = short + " " + (details.group(1) if details else "")
    word = lambda n: f"{n} cluster{'' if n == 1 else 's'}"  # noqa: E731
    assert f"{word(n_pos)} showed a higher ALE in first" in para
    assert f"{word(n_neg)} a higher ALE in second" in para
    jk = pd.read_csv(out / "contrast-firstMinusSecond_desc-jackknife_table.tsv", sep="\t")
    resting = []
    for k in main_rows["cluster_id"]:
        col = jk[f"cluster_{k}"].dropna()
        if len(col) and col.max() >= 0.5:
            resting.append(k)
    if resting:
        total = len(main_rows)
        assert f"{len(resting)} of the {total} contrast cluster{'' if total == 1 else 's'} rest" in para
        from ale_app.present.dependence import NAMED

        for k in resting[:NAMED]:
            assert f"cluster C{k} on " in para
        if len(resting) > NAMED:
            assert f"and {len(resting) - NAMED} more" in para
            # every one of them is in the report's dependence table
            for k in resting:
                assert re.search(rf"<tr><td>C{k}</td><td>[^<]*</td><td>[0-9.]+</td><td>[^<]*</td><td>yes</td></tr>",
                                 report)
    else:
        assert "No contrast cluster rests on a single experiment" in para


def test_coordinates_and_sidecars_name_the_groups(descriptive_run):
    folder, out = descriptive_run
    coords = pd.read_csv(out / "coordinates.tsv", sep="\t")
    for name in ("first", "second"):
        source = pd.read_csv(folder / f"{name}.tsv", sep="\t")
        assert (coords["group"] == name).sum() == len(source)
    side = json.loads((out / "contrast-firstMinusSecond_desc-clusters_table.json").read_text())
    assert set(side["Groups"]) == {"first", "second"}
    group_side = json.loads((out / f"group-first_{SPACE}_desc-clusters_dseg.json").read_text())
    assert all(s.startswith("bids::group-first_") for s in group_side["Sources"])
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["Contrast"]["Groups"] == ["first", "second"]
    written = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} - {"provenance.json", ".ale-app.lock"}
    assert written == set(provenance["Outputs"])


def test_validate_only_summarises_each_group(descriptive_run, capsys):
    folder, _ = descriptive_run
    assert main([str(folder / "contrast.yaml"), "--validate-only"]) == 0
    out = capsys.readouterr().out
    assert "contrast firstMinusSecond: first minus second" in out and "group first:" in out and "group second:" in out
    assert "nothing written" in out


@pytest.mark.slow
def test_verify_reruns_a_contrast(descriptive_run):
    from ale_app.run.verify import verify

    _, out = descriptive_run
    result = verify(out, 1, "loky", ["ale-app", "--verify", str(out)])
    assert result.rerun and result.files and all(s == "identical" for _, s in result.files), result.files


# --------------------------------------------------------------------------- the spec


def _refused(capsys, args) -> str:
    code = main(args)
    err = capsys.readouterr().err
    assert code == 65, err
    return err


def test_version_1_with_a_contrast_is_refused(tmp_path, capsys):
    spec = tmp_path / "s.yaml"
    spec.write_text("spec_version: 1\ninput: {path: x.tsv}\ncontrast: {groups: [a, b]}\n")
    err = _refused(capsys, [str(spec), str(tmp_path / "out")])
    assert "spec_version: 2" in err
    assert not (tmp_path / "out").exists()


def test_spec_problems_are_listed_together(tmp_path, capsys):
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump({"spec_version": 2, "groups": {"old_er": {"path": "a.tsv"}, "young": {}},
                                    "contrast": {"groups": ["old_er", "middle"]}}))
    err = _refused(capsys, [str(spec), str(tmp_path / "out")])
    assert "'old_er' must be 1 to 32 letters and digits" in err
    assert "group 'young' gives no 'path'" in err
    assert "'middle', not among the groups" in err


def test_input_problems_of_every_group_are_listed_together(tmp_path, capsys):
    p1, _ = _write_groups(tmp_path, 3, 3)
    one = pd.read_csv(p1, sep="\t")
    first_id = one.iloc[0][["study_id", "analysis_id"]]
    one[(one["study_id"] == first_id["study_id"]) & (one["analysis_id"] == first_id["analysis_id"])].to_csv(
        tmp_path / "tiny.tsv", sep="\t", index=False)
    spec = _spec(tmp_path, {"mode": "inferential"}, first={"path": "first.tsv"}, again={"path": "first.tsv"},
                 tiny={"path": "tiny.tsv"})
    data = yaml.safe_load(spec.read_text())
    data["groups"] = {"first": {"path": "first.tsv"}, "tiny": {"path": "tiny.tsv"}}
    data["contrast"] = {"groups": ["first", "tiny"]}
    spec.write_text(yaml.safe_dump(data))
    err = _refused(capsys, [str(spec), str(tmp_path / "out")])
    assert "group 'tiny'" in err and "at least 2" in err
    assert "needs at least 17 experiments per group" in err
    # The same experiment in both groups (one file, overlapping selections).
    ids = list(dict.fromkeys(one["study_id"] + "-" + one["analysis_id"]))
    data["groups"] = {"first": {"path": "first.tsv", "select": {"ids": ids[:3]}},
                      "second": {"path": "first.tsv", "select": {"ids": ids[1:]}}}
    data["contrast"] = {"groups": ["first", "second"]}
    data["mode"] = "descriptive"
    spec.write_text(yaml.safe_dump(data))
    err = _refused(capsys, [str(spec), str(tmp_path / "out")])
    assert "in both groups" in err and ids[1] in err


def test_group_spec():
    from ale_app.spec.load import parse_spec
    from ale_app.spec.v2 import group_spec

    v2 = parse_spec(yaml.safe_dump({
        "spec_version": 2, "title": "t", "input": {"path": "all.tsv", "format": "tsv"},
        "groups": {"a": {"select": {"where": {"column": "dx", "values": ["patient"]}}}, "b": {"path": "b.txt"}},
        "contrast": {"groups": ["a", "b"]}, "ale": {"kernel_fwhm": 10}}), "s.yaml")
    a = group_spec(v2, "a")
    assert a.spec_version == 1 and a.input.path == "all.tsv" and a.input.format == "tsv"
    assert a.input.select.where.column == "dx" and a.ale.kernel_fwhm == 10
    assert group_spec(v2, "b").input.path == "b.txt" and group_spec(v2, "b").input.select is None


def _separate_groups(folder: Path) -> None:
    """Two hand-written groups of four experiments, the first's foci in the left frontal lobe
    and the second's in the right occipital lobe (70 mm and more apart)."""
    rows = {"first": [(-40, 40, 20), (-36, 44, 16), (-44, 36, 24)], "second": [(30, -90, 10), (26, -86, 6), (34, -94, 14)]}
    for name, foci in rows.items():
        lines = ["study_id\tanalysis_id\tx\ty\tz\tspace\tsample_size"]
        for s in range(4):
            lines += [f"{name}{s}\tc1\t{x + s}\t{y - s}\t{z}\tMNI\t{12 + s}" for x, y, z in foci]
        (folder / f"{name}.tsv").write_text("\n".join(lines) + "\n")


def test_a_conjunction_without_any_voxel_draws_no_figure_and_says_so(tmp_path):
    _separate_groups(tmp_path)
    out = tmp_path / "out"
    assert main([str(_spec(tmp_path)), str(out), "--n-jobs", "1", "-q"]) == 0
    conj = np.asarray(nib.load(out / f"contrast-firstMinusSecond_{SPACE}_stat-ale_desc-conjunction_statmap.nii.gz").dataobj)
    assert not np.any(conj > 0)
    assert list((out / "figures").glob("*difference*.png"))  # the other figures are drawn
    assert not list((out / "figures").glob("*conjunction*.png"))
    report = html.unescape((out / "report.html").read_text())
    assert "No voxel lies above both groups' display-only thresholds: the two groups do not overlap." in report


def test_a_conjunction_below_the_cluster_size_names_its_voxels(tmp_path):
    """Overlapping voxels but no region of the (here huge) cluster size: the page counts the
    voxels (read here from the written map) and the figure shows them."""
    _write_groups(tmp_path, 6, 5)
    out = tmp_path / "out"
    spec = _spec(tmp_path, {"jackknife": {"cluster_threshold_mm3": 10_000_000}})
    assert main([str(spec), str(out), "--n-jobs", "1", "-q"]) == 0
    conj = np.asarray(nib.load(out / f"contrast-firstMinusSecond_{SPACE}_stat-ale_desc-conjunction_statmap.nii.gz").dataobj)
    n_voxels = int(np.count_nonzero(conj > 0))
    assert n_voxels > 1
    report = html.unescape((out / "report.html").read_text())
    assert (f"{n_voxels:,} voxels lie above both groups' display-only thresholds, in no connected region of at "
            "least 10,000,000 mm3; the figure shows them.") in report
    assert list((out / "figures").glob("*conjunction*.png"))


def _conjunction_expected(out: Path, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The minimum statistic from the two groups' written ALE maps, where both pass."""
    a = np.asarray(nib.load(out / f"group-first_{SPACE}_stat-ale_statmap.nii.gz").dataobj, dtype=np.float32)
    b = np.asarray(nib.load(out / f"group-second_{SPACE}_stat-ale_statmap.nii.gz").dataobj, dtype=np.float32)
    return np.where(first & second, np.minimum(a, b), 0).astype(np.float32)


def test_descriptive_conjunction_is_the_minimum_of_the_written_maps_where_both_pass(descriptive_run):
    _, out = descriptive_run
    passes = []
    for group in ("first", "second"):
        statmap = out / f"group-{group}_{SPACE}_stat-ale_statmap.nii.gz"
        threshold = json.loads(statmap.with_name(statmap.name.replace(".nii.gz", ".json")).read_text())["DisplayThreshold"]
        passes.append(np.asarray(nib.load(statmap).dataobj) > threshold)
    expected = _conjunction_expected(out, *passes)
    conj = np.asarray(nib.load(out / f"contrast-firstMinusSecond_{SPACE}_stat-ale_desc-conjunction_statmap.nii.gz").dataobj)
    assert np.count_nonzero(expected) > 10, "the fixture's groups were meant to overlap"
    np.testing.assert_array_equal(conj, expected)


def test_matches_golden(descriptive_run):
    """The run's files are byte-identical to tests/golden/v2-descriptive-paths.json (conftest)."""
    from conftest import assert_matches_golden

    assert_matches_golden(descriptive_run[1], "v2-descriptive-paths")
