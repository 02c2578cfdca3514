"""What every spec model shares: the strict base model (unknown keys refused, defaults
validated), the number and switch types that take a value only as written, and the bounds of
the spec's numbers."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic_core import PydanticCustomError

# Bounds of the spec's numbers: generous for any real analysis, and finite, so that no value
# can overflow a computation or make a figure impossible to draw.
MAX_ANALYSES = 1_000_000
MAX_KERNEL_FWHM_MM = 100.0  # ALE kernels are about 8-15 mm; 100 mm already blurs the whole brain
MAX_CLUSTER_MM3 = 10_000_000.0
MAX_DOMINANCE_RATIO = 1000.0
MAX_TITLE_LENGTH = 1000


def _plain(kind: str):
    """A check run before pydantic's own: a number field takes a number as written, never
    ``true``/``false`` (which Python counts as 1 and 0) nor a quoted string (``'7'``), which
    pydantic would otherwise convert; a whole-number field never a number written with a
    decimal point or an exponent (``5.0``, ``1e3``, which pydantic would take as 5 and 1000);
    a true/false field takes only true or false."""

    def check(value: Any) -> Any:
        if kind == "bool":
            if not isinstance(value, bool):
                raise PydanticCustomError(
                    "strict_type", "must be true or false, not {given}", {"given": given_text(value)})
            return value
        if isinstance(value, bool) or isinstance(value, str):
            raise PydanticCustomError(
                "strict_type", "must be {kind} written without quotes, not {given}",
                {"kind": "a whole number" if kind == "int" else "a number", "given": given_text(value)})
        if kind == "int" and isinstance(value, float):
            raise PydanticCustomError(
                "strict_type", "must be a whole number written with digits only (no decimal point or exponent), "
                "not {given}", {"given": given_text(value)})
        return value

    return BeforeValidator(check)


def given_text(value: Any) -> str:
    """A value as a message names it: ``true (a boolean)``, ``the text '7'``, ``3.5``, ``a dict``."""
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    return repr(value)[:40] if isinstance(value, (int, float)) else f"a {type(value).__name__}"


#: Numbers and switches of the spec: pydantic's own checks, without its conversions of
#: booleans and strings (``seed: true`` would be 1, ``seed: '7'`` 7).
Int = Annotated[int, _plain("int")]
Float = Annotated[float, _plain("float")]
Bool = Annotated[bool, _plain("bool")]
OptionalInt = Annotated[int | None, _plain("int")]
OptionalFloat = Annotated[float | None, _plain("float")]


class StrictModel(BaseModel):
    """Base for every spec model: unknown keys are refused, values are checked on assignment,
    and defaults are validated too, so a default and the same value written out (e.g. 500 and
    500.0 for a float field) give the same spec and byte-identical outputs."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, validate_default=True,
                              allow_inf_nan=False)
