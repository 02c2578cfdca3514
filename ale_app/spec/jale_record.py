"""What a version-3 spec read from a JALE project records of it (``jale`` in ``spec.json``):
the project's files, its ``config.yml`` values and what each became, and every row of its
``analysis_info`` sheet with what it runs as. Models only; :mod:`ale_app.spec.jale` fills them.
"""

from __future__ import annotations

from pydantic import Field

from ale_app.spec.fields import StrictModel

__all__ = ["JaleOriginSpec", "JaleRowSpec"]

ConfigValue = bool | int | float | str | None


class JaleRowSpec(StrictModel):
    """One row of JALE's ``analysis_info`` sheet and what ale-app runs it as.

    Attributes
    ----------
    row : int
        The row's number in the sheet (1 = the first row; JALE's sheet has no header).
    type : str
        The row's type as written (``M``, ``P25``, ``C``, ``B20``, or empty for a contrast's
        second row).
    name : str
        The analysis name the row gives (its second column).
    conditions : list of str
        The tag rules as written (``+tag``, ``-tag``, ``?``).
    runs_as : str
        What ale-app runs for it, in words (the group or contrast it became).
    group : str or None
        The group its selection became (None for a row that selects nothing).
    """

    row: int = Field(ge=1, description="The row's number in the analysis sheet (1 = its first row).")
    type: str = Field(default="", description="The row's type as written (M, P<N>, C, B<N>; empty for a "
                      "contrast's second row).")
    name: str = Field(default="", description="The analysis name the row gives (its second column).")
    conditions: list[str] = Field(default_factory=list, description="The row's tag rules as written.")
    runs_as: str = Field(default="", description="What ale-app runs for the row (its group or contrast).")
    group: str | None = Field(default=None, description="The group the row's selection became.")


class JaleOriginSpec(StrictModel):
    """The JALE project a version-3 spec was read from.

    Attributes
    ----------
    config : str
        The project's config file's name (``config.yml``).
    experiment_info, analysis_info : str
        The workbooks the config names (relative to its folder).
    analysis_info_sha256 : str
        The SHA-256 of the analysis workbook as read (the experiment workbook's is the input's).
    parameters : dict
        Every value of ``config.yml`` as read, by its dotted key (``parameters.pool_experiments``).
    applied : dict
        Config key -> the ale-app setting it set (``inference.n_iterations = 5000``).
    not_applied : dict
        Config key -> why ale-app does not apply it (a JALE choice not built, an execution
        option, a key JALE does not know).
    rows : list of JaleRowSpec
        Every row of the analysis sheet, in order, with what it runs as.
    """

    config: str = Field(description="The project's config file's name (config.yml).")
    experiment_info: str = Field(description="The experiment workbook the config names.")
    analysis_info: str = Field(description="The analysis workbook the config names.")
    analysis_info_sha256: str = Field(default="", description="SHA-256 of the analysis workbook as read.")
    parameters: dict[str, ConfigValue] = Field(default_factory=dict, description=(
        "Every config.yml value as read, by dotted key."))
    applied: dict[str, str] = Field(default_factory=dict, description=(
        "Config key -> the ale-app setting it set."))
    not_applied: dict[str, str] = Field(default_factory=dict, description=(
        "Config key -> why ale-app does not apply it."))
    rows: list[JaleRowSpec] = Field(default_factory=list, description=(
        "Every row of the analysis sheet with what ale-app runs it as."))
