"""Names never reach a rendered file as markup (issue 37, item 4): hostile study and analysis
names read from every input format (a TSV table and a Sleuth file, one group and a contrast
of the two; a NIMADS studyset, a NiMARE dataset JSON and an Excel workbook, one group; the
JSON's study names, authors, journals and metadata too), run through the command line, then
every text file written is read: CITATION.md carries each name
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
#: A spreadsheet formula: refused as a name, and kept out of every TSV as any other text.
FORMULA = "=cmd|' /C calc'!A0"
#: NIMADS studies: (study id, its name, authors, journal, [(analysis id, its name)]).
NIMADS = [("<img src=x onerror=alert(6)>", f"<b>name</b> [n](javascript:alert(8)) {FORMULA}",
           "<img src=y onerror=alert(9)>, A.", "`pub` | <svg onload=alert(10)>",
           [('b"><svg onload=alert(7)>', "*a* <b>x</b>")]),
          ("Ng 2015 _u_ | [t](x)", "Ng", "", "", [("`tick`", f"{FORMULA} a")])]
#: NiMARE dataset JSON: study id -> contrast ids.
NIMARE = {'"><img src=z onerror=alert(11)>': ["c|d"], "Park 2016 `x`": ["[y](javascript:alert(12))"]}
#: Workbook rows: (study, analysis).
XLSX_NAMES = [("<svg onload=alert(13)>", "a*b*"), ("Cho 2017 <b>x</b>", "_z_")]
#: The experiment ids of the JSON files and the workbook.
MORE_IDS = ['<img src=x onerror=alert(6)>-b"><svg onload=alert(7)>', "Ng 2015 _u_ | [t](x)-`tick`",
            '"><img src=z onerror=alert(11)>-c|d', "Park 2016 `x`-[y](javascript:alert(12))",
            "<svg onload=alert(13)>-a*b*", "Cho 2017 <b>x</b>-_z_"]
IDS_OF = {"one": IDS, "two": IDS, "more": MORE_IDS}
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
    write_json_and_workbook(folder)


def _foci(k: int) -> list[tuple[int, int, int]]:
    """Experiment ``k``'s foci: most of them near one peak, each experiment's its own; the
    workbook's first experiment alone makes a cluster (so that the text names it)."""
    if k == 4:
        return [(50, -60, -10), (51, -61, -9), (49, -59, -11)]
    base = PEAK if k % 2 == 0 else [(30, 20, 10), (-40, -20, 40), (-41, -21, 41)]
    return [(x + k % 3, y - k // 3, z) for x, y, z in base]


def write_json_and_workbook(folder) -> None:
    """The same kind of hostile names in a NIMADS studyset, a NiMARE dataset JSON and a workbook."""
    import json

    from openpyxl import Workbook

    studies = []
    for k, (sid, name, authors, journal, analyses) in enumerate(NIMADS):
        studies.append({"id": sid, "name": name, "authors": authors, "publication": journal, "year": 2010 + k,
                        "metadata": {"design": FORMULA},
                        "analyses": [{"id": aid, "name": aname, "metadata": {"sample_sizes": [20 + k]},
                                      "points": [{"space": "MNI", "coordinates": list(xyz)} for xyz in _foci(k)]}
                                     for aid, aname in analyses]})
    (folder / "studyset.json").write_text(json.dumps({"id": "<svg onload=alert(14)>", "name": FORMULA,
                                                      "studies": studies}))
    dataset = {}
    for k, (sid, contrasts) in enumerate(NIMARE.items()):
        dataset[sid] = {"contrasts": {cid: {
            "coords": {"space": "MNI", "x": [x for x, _, _ in _foci(k + 2)], "y": [y for _, y, _ in _foci(k + 2)],
                       "z": [z for _, _, z in _foci(k + 2)]},
            "metadata": {"sample_sizes": [18 + k], "note": f"<img src=q onerror=alert(15)> {FORMULA}"}}
            for cid in contrasts}}
    (folder / "dataset.json").write_text(json.dumps(dataset))
    book = Workbook()
    sheet = book.active
    sheet.title = "<svg onload=alert(16)>"
    sheet.append(["study_id", "analysis_id", "x", "y", "z", "space", "sample_size"])
    for k, (study, analysis) in enumerate(XLSX_NAMES):
        for x, y, z in _foci(k + 4):
            sheet.append([study, analysis, x, y, z, "MNI", 15 + k])
    book.save(folder / "foci.xlsx")


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
    (folder / "more.yaml").write_text(
        "spec_version: 1\ntitle: hostile `json` [x](javascript:alert(1))\n"
        "input: {path: [studyset.json, dataset.json, foci.xlsx]}\n"
        "jackknife: {cluster_threshold_mm3: 0}\nfigures: {formats: [svg], dpi: 50}\n")
    outs = {}
    for name in ("one", "two", "more"):
        outs[name] = folder / f"out-{name}"
        assert main([str(folder / f"{name}.yaml"), str(outs[name]), "--n-jobs", "1", "-q"]) == 0
    return outs


def _section(text: str, title: str) -> str:
    return text.split(f"## {title}\n\n", 1)[1].split("\n\n## ", 1)[0]


def _unmarkdown(text: str) -> str:
    """What a renderer shows of escaped text: backslash escapes dropped, entities decoded."""
    return html.unescape(re.sub(r"\\(.)", r"\1", text))


@pytest.mark.parametrize("which", ["one", "two", "more"])
def test_citation_carries_every_name_escaped(runs, which):
    ids = IDS_OF[which]
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
    named = [i for i in ids if i in shown]
    assert len(named) >= 3, named
    assert markdown_name(ids[0]) in text


def test_citation_title_and_report_are_escaped(runs):
    text = (runs["one"] / "CITATION.md").read_text()
    assert text.startswith("# hostile &lt;i&gt;names&lt;/i&gt;\n")
    more = (runs["more"] / "CITATION.md").read_text()
    assert more.startswith(r"# hostile \`json\` \[x\]\(javascript:alert\(1\)\)" + "\n")
    for which in ("one", "two", "more"):
        page = (runs[which] / "report.html").read_text()
        for raw in RAW:
            assert raw not in page, (which, raw)
        first = IDS_OF[which][0]
        assert html.escape(first, quote=False) in page or html.escape(first) in page
    # The NIMADS names, authors and journals are shown, escaped, in the experiment key.
    page = (runs["more"] / "report.html").read_text()
    for text in [NIMADS[0][1], "<img src=y onerror=alert(9)>", NIMADS[0][3], NIMADS[0][4][0][1]]:
        assert html.escape(text, quote=False) in page or html.escape(text) in page, text


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
    assert {p.suffix for p in runs["more"].rglob("*")} >= set(checked)  # every kind, from the JSON and workbook
    # TSV values are data: the ids are the names read, exactly, from every format.
    for which in ("one", "more"):
        with open(runs[which] / "desc-jackknife_table.tsv", newline="") as f:
            ids = [row[0] for row in csv.reader(f, delimiter="\t")][1:]
        assert set(IDS_OF[which]) <= set(ids), which


@pytest.mark.parametrize("fmt", ["tsv", "sleuth", "nimads", "nimare-json", "xlsx"])
def test_names_that_start_a_formula_are_refused_in_every_format(tmp_path, capsys, fmt):
    import json

    if fmt == "nimads":
        point = {"space": "MNI", "coordinates": [-40, -20, 40]}
        (tmp_path / "in.json").write_text(json.dumps({"id": "s", "studies": [
            {"id": '=HYPERLINK("x")', "analyses": [{"id": "a", "points": [point]}]},
            {"id": "B", "analyses": [{"id": "@cmd", "points": [point]}]}]}))
        name = "in.json"
    elif fmt == "nimare-json":
        coords = {"space": "MNI", "x": [-40], "y": [-20], "z": [40]}
        (tmp_path / "in.json").write_text(json.dumps({'=HYPERLINK("x")': {"contrasts": {"a": {"coords": coords}}},
                                                      "B": {"contrasts": {"@cmd": {"coords": coords}}}}))
        name = "in.json"
    elif fmt == "xlsx":
        from openpyxl import Workbook

        book = Workbook()
        for row in [["study_id", "analysis_id", "x", "y", "z", "space", "sample_size"],
                    ['=HYPERLINK("x")', "a", -40, -20, 40, "MNI", 12], ["B", "@cmd", -40, -20, 40, "MNI", 12]]:
            book.active.append(row)
        book.active["A2"].data_type = "s"  # the text, as a cell typed as text holds it (not a formula)
        book.save(tmp_path / "in.xlsx")
        name = "in.xlsx"
    elif fmt == "tsv":
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
