"""Words a reviewer signs (issue 39): each sentence type on a base where it must be true and
on one where it must not, cited papers quoted right, only cited references listed, no spec
keys in prose, the caveats in the methods and the paragraph, numbers as they should read.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from helpers.words import misquoted, spec_keys, word_count

from ale_app.present import caveats as CV
from ale_app.present import detail_words as DW
from ale_app.present import interpretation_words as W
from ale_app.present import methods_words as M
from ale_app.present import report_view as V
from ale_app.present.html_parts import cluster_html
from ale_app.present.references import REFERENCES, cited_references


def _labels(*boxes) -> nib.Nifti1Image:
    """A label map of 1-based labels, each a box of voxels ``(label, slice, slice, slice)``."""
    data = np.zeros((20, 20, 20), dtype=np.int16)
    for label, *where in boxes:
        data[tuple(where)] = label
    return nib.Nifti1Image(data, np.eye(4))


def _overlap_result(fwe, desc, fwe_labels):
    return SimpleNamespace(fwe_clusters=SimpleNamespace(label_img=fwe, labels=fwe_labels),
                           clusters=SimpleNamespace(label_img=desc, labels=[1, 2]))


S = slice


def test_fwe_clusters_are_placed_in_the_descriptive_clusters_that_hold_them():
    """F1 inside D2, F2 inside D1, F3 in no descriptive cluster: said as the label maps show."""
    desc = _labels((1, S(0, 6), S(0, 6), S(0, 6)), (2, S(10, 16), S(10, 16), S(10, 16)))
    fwe = _labels((1, S(11, 14), S(11, 14), S(11, 14)), (2, S(1, 3), S(1, 3), S(1, 3)),
                  (3, S(18, 20), S(0, 2), S(0, 2)))
    held = V.fwe_in_descriptive(_overlap_result(fwe, desc, [1, 2, 3]))
    assert held == {1: [2], 2: [1], 3: []}
    text = DW.overlap_text(held)
    assert "F1 in D2, F2 in D1" in text and "F3 outside every descriptive cluster" in text
    # Where every FWE cluster lies inside one, the words never call the descriptive ones "other regions".
    inside = V.fwe_in_descriptive(_overlap_result(_labels((1, S(1, 3), S(1, 3), S(1, 3))), desc, [1]))
    assert inside == {1: [1]} and "outside" not in DW.overlap_text(inside)


def _inferential_inputs(held, n_experiments=21, n_iterations=10_000, spaces=None) -> V.ReportInputs:
    fwe = pd.DataFrame({"cluster_id": [1, 2], "peak": ["main", "main"], "x": [38, -34], "y": [4, 14], "z": [2, 0],
                        "ale": [0.03, 0.02], "size_mm3": [6448.0, 1152.0], "region": ["Right Insula", "Left Insula"],
                        "p_fwe": [1 / n_iterations, 0.0069], "p_fwe_se": [0.0, 0.0008]})
    return V.ReportInputs(
        title="t", n_experiments=n_experiments, n_studies=n_experiments, n_foci=200, threshold_percentile=95,
        cluster_threshold_mm3=500, dominance_ratio=2, dominance_min=0.25, kernel_text="k",
        versions={"nimare": "0.22.1", "nilearn": "0.13.1"}, peak_value=0.03, peak_xyz=(38.0, 4.0, 2.0),
        threshold=0.006, n_clusters=3, mode="inferential", fwe_table=fwe, fwe_in_descriptive=held,
        inference={"voxel_p": 0.001, "alpha": 0.05, "n_iterations": n_iterations, "seed": 0,
                   "cluster_forming_ale": 0.01, "n_clusters": 2, "all_clusters": None, "min_experiments": 10},
        assumed_spaces=spaces or {})


@pytest.mark.parametrize("held, said", [({1: [1], 2: [3]}, "Each lies within a descriptive cluster"),
                                        ({1: [1], 2: []}, "1 of the 2 lie within descriptive clusters")])
def test_the_paragraph_says_where_the_fwe_clusters_lie(held, said):
    r = _inferential_inputs(held)
    text = W.group_interpretation(r) + " " + DW.group_details(r)
    assert said in text and "are other regions" not in text
    assert ("F1 in D1, F2 in D3" in text) == (held[2] == [3])


def test_a_short_interpretation_leaves_the_details_to_what_follows():
    r = _inferential_inputs({1: [1], 2: [1]})
    short = W.group_interpretation(r)
    assert word_count(short) <= 170
    assert "F1 (6,448 mm3, p \u2264 0.0001)" in short  # the largest, its p at the floor as an inequality
    assert "F2 at x=-34" not in short and "F2 at x=-34" in DW.group_details(r)


def test_caveats_are_said_where_they_apply_and_only_there():
    few = _inferential_inputs({1: [1], 2: [1]}, n_experiments=12, n_iterations=1000, spaces={"OTHER": 30})
    enough = _inferential_inputs({1: [1], 2: [1]})
    for text in (W.group_interpretation(few), M.group_methods_text(few)):
        assert "17 to 20" in text and "1,000" in text, text
    assert "30 foci of space 'OTHER' used as MNI" in W.group_interpretation(few)
    assert "Caveats" not in W.group_interpretation(enough)
    assert "little power" not in M.group_methods_text(enough) and "Only" not in M.group_methods_text(enough)
    assert CV.unequal_sizes_caveat("a", 500, "b", 406) and not CV.unequal_sizes_caveat("a", 20, "b", 20)
    assert "favours the larger group (a)" in CV.caveats_sentence(unequal=("a", 500, "b", 406))
    assert CV.caveats_sentence(unequal=("a", 20, "b", 20)) == ""
    assert CV.few_experiments_caveat({"a": 17, "b": 20}, 10, True) == ""
    assert "Both groups (a: 10, b: 11 experiments)" in CV.few_experiments_caveat({"a": 10, "b": 11}, 10, True)
    assert CV.spaces_caveat({"a": {}, "b": {}}) == ""
    assert CV.assumed_spaces(SimpleNamespace(spaces={"OTHER": 5, "MNI": 3, "TAL": 2})) == {"OTHER": 5}


def test_a_misquoted_recommendation_is_seen():
    """The check fails on what the contrast methods used to say, and passes every sentence
    the words now write that cites the paper."""
    assert misquoted("(cluster-level FWE, seed 0; at least 10 experiments per group, Eickhoff et al., 2016).") == [10]
    assert misquoted("Inference requires at least 10 experiments (Eickhoff et al., 2016, recommend 17).") == [10]
    few = _inferential_inputs({1: [1], 2: [1]}, n_experiments=12)
    texts = [M.group_methods_text(few), W.group_interpretation(few), CV.EICKHOFF_2016_WORDS,
             CV.few_experiments_caveat({"a": 10, "b": 11}, 10, True), CV.caveats_sentence({"a": 10, "b": 11}),
             CV.few_experiments_caveat({"": 8}, None, False)]
    for text in texts:
        assert misquoted(text) == [], text
    assert any("Eickhoff et al. (2016)" in t for t in texts)


def test_only_references_the_words_cite_are_listed():
    text = "ALE (Turkeltaub et al., 2002; Eickhoff et al., 2009, 2012) with NiMARE (Salo et al., 2023)."
    assert set(cited_references(REFERENCES, text)) == {"turkeltaub2002", "eickhoff2009", "eickhoff2012", "salo2023"}
    converted = text + " Talairach foci were converted with the Lancaster et al. (2007) transform."
    assert "lancaster2007" in cited_references(REFERENCES, converted)


def test_methods_speak_in_a_journals_voice():
    assert spec_keys("at least 10 experiments (inference.min_experiments) of (ale.sample_size)") == [
        "inference.min_experiments", "ale.sample_size"]
    for ale in (SimpleNamespace(kernel_fwhm=None, sample_size=20), SimpleNamespace(kernel_fwhm=10.0, sample_size=None)):
        text = V.kernel_methods_text(ale, {})
        assert spec_keys(text) == [] and ("20 subjects" in text or "10 mm" in text)
    r = _inferential_inputs({1: [1], 2: [1]}, n_experiments=12)
    r.jackknife_status = "disabled"
    assert spec_keys(M.group_methods_text(r) + W.group_interpretation(r) + DW.group_details(r)) == []


def test_no_standard_error_at_the_p_floor():
    table = pd.DataFrame({"cluster_id": [1, 2], "peak": ["main", "main"], "x": [0, 1], "y": [0, 1], "z": [0, 1],
                          "p_fwe": [0.0001, 0.0069], "p_fwe_se": [9.9995e-05, 0.00083]})
    page = cluster_html(table, "F", None, 10_000)
    assert "9.999e-05" not in page and "none: p \u2264 1/10,000" in page and "0.00083" in page
    balanced = table.rename(columns={"p_fwe": "Balanced p (null extremes)", "p_fwe_se": "Balanced p SE"})
    page = cluster_html(balanced, "C", None, 10_000)
    assert "9.999e-05" not in page and "none: p \u2264 1/10,000" in page and "\u2264 0.0001" in page


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_nimare_s_missing_sample_sizes_warning_is_silenced_when_the_spec_sets_one(caplog):
    from nimare.dataset import Dataset

    from ale_app.stats import nimare_adapter as A

    coords = {"space": "MNI", "x": [30, -30, 0], "y": [0, 10, -40], "z": [10, 20, 30]}
    source = {f"s{i}": {"contrasts": {"1": {"coords": coords}}} for i in range(3)}
    dataset = Dataset(source)
    message = "Metadata field(s) 'sample_sizes'"
    with caplog.at_level(logging.WARNING, logger="nimare"):
        estimator = A.make_ale_estimator(sample_size=20)
        coordinates, _ids = A.prepare_ale_inputs(estimator, dataset)
        A.sparse_ma_maps(estimator, coordinates)
    assert message not in caplog.text
    # NiMARE itself says it on the same input: the check above can fail.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="nimare"):
        bare = A.make_ale_estimator(sample_size=20)
        bare._collect_inputs(dataset, drop_invalid=True)
        bare._preprocess_input(dataset)
        bare.kernel_transformer.transform(bare.inputs_["coordinates"], masker=bare.masker, return_type="sparse")
    assert message in caplog.text
    assert not logging.getLogger("nimare.utils").filters  # the logger is left as found


def test_every_report_table_scrolls_or_wraps():
    """The FWE table's last column was cut off at 1,280 px: every table sits in a box that
    scrolls sideways, and its text cells may wrap anywhere."""
    from ale_app.present import page as P
    from ale_app.present.html_parts import STYLE

    r = _inferential_inputs({1: [1], 2: []})
    r.cluster_table = r.fwe_table
    page = P.report_html(r, {})
    assert page.count("<table") == page.count('<div class="wide"><table') > 0
    assert ".wide{overflow-x:auto}" in STYLE and "td.text{overflow-wrap:anywhere}" in STYLE


@pytest.mark.slow
def test_the_interpretation_at_906_experiments_is_short(tmp_path):
    from ale_app.cli import main

    out = tmp_path / "out"
    assert main(["example:nback-flanker-906", str(out), "--n-jobs", "2", "-q"]) == 0
    citation = (out / "CITATION.md").read_text()
    short = citation.split("## Interpretation\n\n", 1)[1].split("\n\n", 1)[0]
    assert word_count(short) <= 170, short
    assert "used as MNI without conversion" in short  # the spaces it assumed, said in the paragraph
    prose = citation.split("## Software")[0]
    assert spec_keys(prose) == [] and misquoted(prose) == []
    assert "used as MNI coordinates" in citation.split("## Interpretation")[0]  # and in the methods
