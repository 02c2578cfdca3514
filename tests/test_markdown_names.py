"""Names never reach a rendered file as markup (issue 37, item 4): hostile study and analysis
names read from a TSV table and a Sleuth file, run through the command line (one group; and
a contrast of the two), then every text file written is read: CITATION.md carries each name
escaped for Markdown (its Methods and Interpretation as well as its title), report.html and
the SVG figures carry no raw tag from a name, and no TSV cell starts a spreadsheet formula
(names that would are refused at input, naming them, in every format), while the TSV ids stay
exactly the names read."""

from __future__ import annotations

import csv
import html
import re

import pytest

from ale_app.cli import main
from ale_app.present.markdown import markdown_name, markdown_text

TSV_NAMES = [("<img src=x onerror=alert(2)>", 'b"><svg onload=alert(3)>'), ("Lee 2014 *bold* | t", "x_y_ [l](u)")]
SLEUTH_NAMES = ["<svg/onload=alert(4)> 2011: [x](javascript:alert(5)) `c`", "Kim 2012: <b>&amp;</b>"]
#: The experiment ids these names give (a Sleuth name splits after the year's ':').
IDS = ['<img src=x onerror=alert(2)>-b"><svg onload=alert(3)>', "Lee 2014 *bold* | t-x_y_ [l](u)",
       "<svg/onload=alert(4)> 2011-[x](javascript:alert(5)) `c`", "Kim 2012-<b>&amp;</b>"]
#: Raw markup from the names that no rendered file may carry.
RAW = ("<img src", "<svg onload", "<svg/onload", "<b>")
PEAK = [(-40, -20, 40), (-42, -18, 42), (-38, -22, 38), (-40, -22, 42)]


def write_inputs(folder) -> None:
    rows = ["study_id\tanalysis_id\tx\ty\tz\tspace\tsample_size"]
    for k, (study, analysis) in enumerate(TSV_NAMES):
        foci = PEAK if k == 0 else [(30, 20, 10), (-40, -20, 40)]
        rows += [f"{study}\t{analysis}\t{x}\t{y}\t{z}\tMNI\t{14 + k}" for x, y, z in foci]
    (folder / "foci.tsv").write_text("\n".join(rows) + "\n")
    lines = ["// Reference=MNI"]
    for k, name in enumerate(SLEUTH_NAMES):
        foci = [(-41, -20, 40), (-40, -19, 41), (-39, -21, 39)] if k == 0 else [(20, -60, 0), (-40, -20, 40)]
        lines += [f"// {name}", f"// Subjects={16 + k}"] + [f"{x}\t{y}\t{z}" for x, y, z in foci] + [""]
    (folder / "foci.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile-names")
    write_inputs(folder)
    (folder / "one.yaml").write_text(
        "spec_version: 1\ntitle: hostile <i>names</i>\ninput: {path: [foci.tsv, foci.txt]}\n"
        "jackknife: {cluster_threshold_mm3: 0}\nfigures: {formats: [svg], dpi: 50}\n")
    (folder / "two.yaml").write_text(
        "spec_version: 2\ntitle: hostile\ngroups: {tsv: {path: foci.tsv}, sleuth: {path: foci.txt}}\n"
        "contrast: {groups: [tsv, sleuth]}\njackknife: {cluster_threshold_mm3: 0}\n"
        "figures: {formats: [png], dpi: 50}\n")
    outs = {}
    for name in ("one", "two"):
        outs[name] = folder / f"out-{name}"
        assert main([str(folder / f"{name}.yaml"), str(outs[name]), "--n-jobs", "1", "-q"]) == 0
    return outs


def _section(text: str, title: str) -> str:
    return text.split(f"## {title}\n\n", 1)[1].split("\n\n## ", 1)[0]


def _unmarkdown(text: str) -> str:
    """What a renderer shows of escaped text: backslash escapes dropped, entities decoded."""
    return html.unescape(re.sub(r"\\(.)", r"\1", text))


@pytest.mark.parametrize("which", ["one", "two"])
def test_citation_carries_every_name_escaped(runs, which):
    text = (runs[which] / "CITATION.md").read_text()
    for raw in RAW:
        assert raw not in text, raw
    assert not re.search(r"(?<!\\)\]\(", text)  # no link from a name: its ']' is escaped
    # No HTML tag starts anywhere, and every Markdown syntax character in the prose is escaped.
    assert not re.search(r"<[A-Za-z/!?]", text)
    prose = _section(text, "Methods") + "\n" + _section(text, "Interpretation")
    assert not re.search(r"(?<!\\)[`*\[\]|]", prose), re.search(r".{30}(?<!\\)[`*\[\]|].{30}", prose)
    # The names are there, literally, as a renderer shows them.
    shown = _unmarkdown(_section(text, "Interpretation"))
    named = [i for i in IDS if i in shown]
    assert len(named) >= 3, named
    assert markdown_name(IDS[0]) in text


def test_citation_title_and_report_are_escaped(runs):
    text = (runs["one"] / "CITATION.md").read_text()
    assert text.startswith("# hostile &lt;i&gt;names&lt;/i&gt;\n")
    for which in ("one", "two"):
        page = (runs[which] / "report.html").read_text()
        for raw in RAW:
            assert raw not in page, (which, raw)
        assert html.escape(IDS[0], quote=False) in page or html.escape(IDS[0]) in page


def test_every_written_text_file_has_no_markup_or_formula_from_a_name(runs):
    checked = {".md": 0, ".html": 0, ".svg": 0, ".tsv": 0}
    for out in runs.values():
        for path in sorted(out.rglob("*")):
            if path.suffix in (".md", ".html", ".svg"):
                text = path.read_text()
                for raw in RAW:
                    assert raw not in text, (path.name, raw)
                checked[path.suffix] += 1
            elif path.suffix == ".tsv":
                with open(path, newline="") as f:
                    for row in csv.reader(f, delimiter="\t"):
                        for cell in row:
                            if cell[:1] in ("=", "+", "-", "@"):
                                float(cell)  # a number (a negative coordinate), never a formula
                checked[".tsv"] += 1
    assert all(checked.values()), checked
    # TSV values are data: the ids are the names read, exactly.
    with open(runs["one"] / "desc-jackknife_table.tsv", newline="") as f:
        ids = [row[0] for row in csv.reader(f, delimiter="\t")][1:]
    assert set(IDS) <= set(ids)


@pytest.mark.parametrize("fmt", ["tsv", "sleuth"])
def test_names_that_start_a_formula_are_refused_in_every_format(tmp_path, capsys, fmt):
    if fmt == "tsv":
        (tmp_path / "in.tsv").write_text("study_id\tanalysis_id\tx\ty\tz\tspace\tsample_size\n"
                                         "=HYPERLINK(\"x\")\ta\t-40\t-20\t40\tMNI\t12\n"
                                         "B\t@cmd\t-40\t-20\t40\tMNI\t12\n")
        name = "in.tsv"
    else:
        (tmp_path / "in.txt").write_text("// Reference=MNI\n// =HYPERLINK(\"x\"): a\n// Subjects=12\n-40\t-20\t40\n\n"
                                         "// B: @cmd\n// Subjects=12\n-40\t-20\t40\n")
        name = "in.txt"
    (tmp_path / "spec.yaml").write_text(f"spec_version: 1\ninput: {{path: {name}}}\n")
    assert main([str(tmp_path / "spec.yaml"), "--validate-only"]) == 65
    err = capsys.readouterr().err
    assert "the study name '=HYPERLINK(\"x\")'" in err and "starts with '='" in err
    assert "the analysis name '@cmd'" in err and "starts with '@'" in err


def test_markdown_text_escapes_names_and_keeps_own_words():
    text = "D1: <img src=x>-a (0.32); the map (p < 0.001) of desc-jackknife_table.tsv and [x](y) `z`."
    out = markdown_text(text, ["<img src=x>-a", "<img src=x>", "desc-jackknife_table.tsv"])
    assert out.startswith(r"D1: &lt;img src=x&gt;-a (0.32); the map (p < 0.001) of desc-jackknife_table.tsv")
    assert out.endswith(r"and \[x\](y) \`z\`.")  # markup from a name it was not given: escaped
    assert _unmarkdown(out) == text
    # Ordinary names are left as they are; a name's markup is escaped wherever it stands.
    assert markdown_name("pain_01.nidm-1") == "pain_01.nidm-1"
    assert markdown_name("Smith et al. 2010-faces") == "Smith et al. 2010-faces"
    assert markdown_name("_x_ *y* a&b") == r"\_x\_ \*y\* a&amp;b"
