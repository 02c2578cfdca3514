"""Settings that depend on the data (issue 37, item 2) are checked by ``--validate-only`` and
before any computation: exit 65, naming the spec field, the group and the largest allowed
value, with a hint; nothing is computed and nothing written."""

from __future__ import annotations

import yaml

from ale_app.cli import main

HEADER = "study_id\tanalysis_id\tx\ty\tz\tspace\tsample_size\n"


def write_table(folder, n_experiments: int, name: str = "foci.tsv") -> str:
    rows = []
    for i in range(n_experiments):
        for j in range(3):
            rows.append(f"S{i:02d}\ta\t{-40 + 4 * j + i}\t{-20 + 2 * i}\t{40 - 3 * j}\tMNI\t{12 + i}\n")
    (folder / name).write_text(HEADER + "".join(rows))
    return name


def contrast_spec(folder, sizes=(3, 5), **contrast) -> str:
    table = write_table(folder, sum(sizes))
    ids = [f"S{i:02d}-a" for i in range(sum(sizes))]
    spec = {"spec_version": 2, "mode": "inferential", "input": {"path": table},
            "groups": {"small": {"select": {"ids": ids[:sizes[0]]}}, "big": {"select": {"ids": ids[sizes[0]:]}}},
            "contrast": {"groups": ["big", "small"], **contrast},
            "inference": {"min_experiments": 3, "n_iterations": 100},
            "figures": {"formats": ["png"], "dpi": 50}}
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return str(folder / "spec.yaml")


def single_spec(folder, n_experiments: int, robustness: dict) -> str:
    spec = {"spec_version": 1, "mode": "inferential", "input": {"path": write_table(folder, n_experiments)},
            "inference": {"min_experiments": 3, "n_iterations": 100}, "robustness": robustness,
            "figures": {"formats": ["png"], "dpi": 50}}
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return str(folder / "spec.yaml")


def refused(argv, capsys) -> str:
    assert main(argv) == 65
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_balanced_target_n_above_the_smaller_group(tmp_path, capsys):
    spec = contrast_spec(tmp_path, method="balanced", balanced={"target_n": 50})
    err = refused([spec, "--validate-only"], capsys)
    assert "contrast.balanced.target_n is 50, but the smaller group 'small' has 3 experiments" in err
    assert "the largest allowed value is 3" in err
    assert "Give a target_n between 1 and 3" in err
    # A run is refused the same way before anything is computed or written.
    err = refused([spec, str(tmp_path / "out"), "-q"], capsys)
    assert "contrast.balanced.target_n is 50" in err
    assert not (tmp_path / "out" / "provenance.json").exists()
    assert not list((tmp_path / "out").glob("*.nii.gz"))


def test_balanced_target_n_at_the_smaller_group_passes_validation(tmp_path, capsys):
    spec = contrast_spec(tmp_path, method="balanced", balanced={"target_n": 3})
    assert main([spec, "--validate-only"]) == 0


def test_stability_subset_size_names_the_group(tmp_path, capsys):
    spec = contrast_spec(tmp_path, sizes=(3, 4))
    data = yaml.safe_load(open(spec))
    data["robustness"] = {"stability": {"enabled": True, "subset_size": 4}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    err = refused([spec, "--validate-only"], capsys)
    assert ("robustness.stability.subset_size is 4, but group 'small' has 3 experiments: the largest allowed "
            "value is 3.") in err
    assert "group 'big'" not in err


def test_stability_subset_size_single_group(tmp_path, capsys):
    spec = single_spec(tmp_path, 4, {"stability": {"enabled": True, "subset_size": 9}})
    err = refused([spec, "--validate-only"], capsys)
    assert "robustness.stability.subset_size is 9, but the input has 4 experiments: the largest allowed value " \
           "is 4." in err
    assert "Give a subset_size between 1 and 4" in err


def test_failsafe_bounds_that_round_to_one_number(tmp_path, capsys):
    # ceil(2.001 x 4) = ceil(2.002 x 4) = 9: no bracket to search.
    spec = single_spec(tmp_path, 4, {"failsafe": {"enabled": True, "lower_multiple": 2.001,
                                                  "upper_multiple": 2.002}})
    err = refused([spec, "--validate-only"], capsys)
    assert "robustness.failsafe.lower_multiple (2.001) and upper_multiple (2.002) give the same bound for the 4 " \
           "experiments of the input: ceil(multiple x 4) = 9" in err
    assert "the largest allowed lower_multiple is 2" in err
    # ... which is right: 2 x 4 = 8 < 9.
    spec = single_spec(tmp_path, 4, {"failsafe": {"enabled": True, "lower_multiple": 2.0, "upper_multiple": 2.002}})
    assert main([spec, "--validate-only"]) == 0


def test_failsafe_bounds_in_a_contrast_name_the_group(tmp_path, capsys):
    spec = contrast_spec(tmp_path, sizes=(3, 5))
    data = yaml.safe_load(open(spec))
    data["robustness"] = {"failsafe": {"enabled": True, "lower_multiple": 1.1, "upper_multiple": 1.3}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    err = refused([spec, "--validate-only"], capsys)
    # 3 experiments: ceil(3.3) = ceil(3.9) = 4; 5 experiments: ceil(5.5) = 6 < ceil(6.5) = 7.
    assert "give the same bound for the 3 experiments of group 'small': ceil(multiple x 3) = 4" in err
    assert "the largest allowed lower_multiple is 1." in err
    assert "group 'big'" not in err
