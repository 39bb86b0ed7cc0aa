"""A cohort's doses by target AUC (Calvert) in columns: the dose fields of many GFRs at once
(:func:`calvert_columns`), and the blocks of rows of a group whose every GFR is estimated in columns, numbered by the
GFR's hundredths of a mL/min in an array (:class:`CalvertBlocks`, a part of
:class:`~regimen.engine.cohort.expander.CohortExpander`).

A target AUC gives nearly every patient a GFR of their own, so a block of their own: each block's key, text and
lookup made one at a time were most of an AUC run's time past the I/O floor (issue 29). Here the blocks of a group
are found by one numpy gather, and the new GFRs' rows worked out together: the dose AUC × (GFR + 25) as exact
integers (the AUC's digits times the GFR's hundredths plus 2,500), its display rounding by :func:`decimal_amounts`,
its texts by :func:`decimal_texts` and :func:`calvert_gfr_texts`, as :func:`~regimen.engine.doses.auc_dose` writes
them for one patient (a property test holds them equal).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from regimen.clinical.gfr import COCKCROFT_GAULT, calvert_gfr_texts, gfr_cap_hundredths
from regimen.engine.cohort.roster import Column
from regimen.engine.cohort.values import _DEFAULT_OPTIONS, _ESTIMATE
from regimen.engine.doses import CALVERT_OFFSET, additives_step, calvert_working
from regimen.engine.rows import DOSE_FIELDS
from regimen.model import AucDose
from regimen.quantities.exact import Rounding, decimal_amounts, decimal_texts

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from regimen.engine.cohort.templates import _DayRule, _Template

#: The most hundredths of a mL/min a group's block numbers are held for: 1,000 mL/min, past any GFR a patient has (an
#: estimate is at most :data:`~regimen.clinical.patient.GFR`'s limit, 300 mL/min). A larger one sends its group to
#: the blocks by text.
_MOST_HUNDREDTHS = 100_000


def plain_calvert(rule: _DayRule) -> bool:
    """A rule whose dose is a target AUC given once a day over no stated duration: its fields are
    :func:`calvert_columns`'."""
    dose = rule.dose
    return (
        isinstance(dose, AucDose)
        and rule.duration is None
        and rule.comp.times_per_day == 1
        and dose.value.is_finite()
        and dose.value > 0
    )


def calvert_columns(
    dose: AucDose, used: np.ndarray, gfr_texts: Sequence[str], rounding: Rounding, added: str | None
) -> dict[str, Any] | None:
    """The :data:`DOSE_FIELDS` of a Calvert dose of target ``dose`` (given once a day over no stated duration:
    :func:`plain_calvert`), for each GFR used (``used``: after the cap, in hundredths of a mL/min, an int64 array)
    whose working's text is ``gfr_texts`` (:attr:`Gfr.text`); ``added``: the component's additives step
    (:func:`additives_step`). Arrays, text as lists of str: the fields :func:`dose_fields` gives of
    :func:`~regimen.engine.doses.auc_dose`'s dose for each, exactly. None where the numbers are beyond the arrays (an
    AUC of many digits): the caller works those out one by one."""
    import numpy as np

    _, digits, exponent = dose.value.as_tuple()
    target = int("".join(map(str, digits))) * 10 ** max(int(exponent), 0)  # the AUC × 10^auc_places
    # AUC × (GFR + 25) = target × (hundredths + 2,500) × 10^-(auc_places + 2), exactly
    places = max(-int(exponent), 0) + 2
    if not len(used) or target * (int(used.max()) + 100 * CALVERT_OFFSET) >= 10**17 or places > 8:
        return None
    q = target * (used + 100 * CALVERT_OFFSET)
    amounts = decimal_amounts(q, places, "mg", rounding)
    whole = np.gcd(q, np.int64(10**places))
    shown = dose.display
    tail = "" if added is None else f"; {added}"
    return {
        "dose": amounts.rounded,
        "dose_exact": decimal_texts(q.tolist(), places, grouping=False),
        "rate": np.nan,
        "duration_h": np.nan,
        "calculation": [
            calvert_working(shown, t, amount) + tail for t, amount in zip(gfr_texts, amounts.texts, strict=True)
        ],
        "dose_exact_num": q // whole,
        "dose_exact_den": np.int64(10**places) // whole,
    }


class CalvertBlocks:
    """The blocks of Calvert rows of a group whose GFRs are all estimated in columns, by the GFR's hundredths."""

    if TYPE_CHECKING:  # the expander's (:class:`~regimen.engine.cohort.expander.CohortExpander`)
        rounding: Rounding
        # per signature: the row table's first row of each GFR's block (-1: none yet), at its hundredths
        _gfr_blocks: dict[tuple[Any, ...], np.ndarray]

        def _plain_block(self, body: tuple[Any, ...]) -> bool: ...

        def _rules(self, template: _Template, basis: str) -> tuple[list[int], list[_DayRule], np.ndarray]: ...

        def _put_fields(
            self, values: dict[str, Any], r: int, at: np.ndarray, worked: np.ndarray, worked_ints: np.ndarray
        ) -> None: ...

        def _append_blocks(
            self, template: _Template, rows: list[int], rule_of: np.ndarray, worked: np.ndarray, worked_ints: np.ndarray
        ) -> tuple[int, int]: ...

    def _gfr_starts(
        self, signature: tuple[Any, ...], template: _Template, cols: dict[str, Column], members: np.ndarray
    ) -> np.ndarray | None:
        """For each of ``members`` (roster positions), where the template's Calvert rows for their GFR start in the
        run's row table, -1 for a member whose GFR is prepare()'s (a value near a rounding tie, a measured GFR): the
        blocks of the GFRs this group has not yet met worked out together and added at once. None when the group is
        not for this path (no GFR estimated in columns, a rule not of :func:`plain_calvert`, numbers beyond the
        arrays): the blocks of all are then found by their GFR's text (:meth:`_block_starts`), as those of the
        members left at -1 are."""
        import numpy as np

        codes = cols[_ESTIMATE].codes[members]
        estimated = codes >= 0
        if not estimated.any() or not self._plain_block(("auc",)):
            return None
        rows, spec, rule_of = self._rules(template, "auc")
        hundredths = np.asarray(cols[_ESTIMATE].values, dtype=np.int64)[codes[estimated]]
        if not all(plain_calvert(rule) for rule in spec) or int(hundredths.max()) >= _MOST_HUNDREDTHS:
            return None
        known = self._gfr_blocks.get(signature, np.empty(0, dtype=np.int64))
        if len(known) <= hundredths.max():  # held up to the largest GFR met yet (an int64 a hundredth)
            grown = np.full(int(hundredths.max()) + 1, -1, dtype=np.int64)
            grown[: len(known)] = known
            known = self._gfr_blocks[signature] = grown
        starts = np.full(len(codes), -1, dtype=np.int64)
        starts[estimated] = known[hundredths]
        new = np.unique(hundredths[starts[estimated] < 0])
        if not len(new):
            return starts
        cap = _DEFAULT_OPTIONS.gfr_cap
        if cap is not None and (cap.numerator * 100) % cap.denominator:  # a cap between hundredths: by text
            return None
        used = new if cap is None else np.minimum(new, gfr_cap_hundredths(cap))
        texts = calvert_gfr_texts(new.tolist(), COCKCROFT_GAULT, cap)
        fields = [calvert_columns(rule.dose, used, texts, self.rounding, additives_step(rule.comp)) for rule in spec]
        if any(f is None for f in fields):
            return None
        worked = np.zeros((len(DOSE_FIELDS), len(spec), len(new)), dtype=np.float64)
        worked_ints = np.zeros((len(DOSE_FIELDS), len(spec), len(new)), dtype=np.int64)
        at = np.arange(len(new))
        for r, values in enumerate(fields):
            assert values is not None  # checked above
            self._put_fields(values, r, at, worked, worked_ints)
        first, size = self._append_blocks(template, rows, rule_of, worked, worked_ints)
        known[new] = first + at * size
        starts[estimated] = known[hundredths]
        return starts


__all__ = ["CalvertBlocks", "calvert_columns", "plain_calvert"]
