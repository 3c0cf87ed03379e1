"""What a scoring run produces: slot outcomes and their tallies (JSON-serialisable).

Kept apart from the scoring itself so the text table, the HTML report and comparisons
depend on the result shape only, not on how it was computed.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field

from extractor.core.records import CheckStatus, Evidence
from extractor.evaluate.evidence import EvidenceCheck, EvidenceCounts

TOLERANCE = 0.005
"""Absolute tolerance for amounts (万元) and percentages: half a unit of the printed 0.01."""

Outcome = Literal["correct", "wrong", "missing", "spurious", "abstain"]
"""``correct`` TP; ``wrong`` FP+FN; ``missing`` FN; ``spurious`` FP; ``abstain`` both null."""
MatchKind = Literal["code", "exact", "containment"]
Value = float | int | str | None
ERROR_OUTCOMES: tuple[Outcome, ...] = ("missing", "wrong", "spurious")


def ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def fmt_rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


class Counts(BaseModel):
    """Micro counts; rates are ``None`` where their denominator is zero (undefined)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    abstain: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def precision(self) -> float | None:
        return ratio(self.tp, self.tp + self.fp)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def recall(self) -> float | None:
        return ratio(self.tp, self.tp + self.fn)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def f1(self) -> float | None:
        """2TP / (2TP + FP + FN): the harmonic mean of P and R, defined even when P is not."""
        return ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    def add(self, outcome: Outcome) -> None:
        if outcome == "correct":
            self.tp += 1
        elif outcome == "wrong":
            self.fp += 1
            self.fn += 1
        elif outcome == "missing":
            self.fn += 1
        elif outcome == "spurious":
            self.fp += 1
        else:
            self.abstain += 1


class SlotResult(BaseModel):
    """One scored slot. ``gold_path``/``pred_path`` index the respective record's lists
    (they differ when matched items sit at different positions; one is ``None`` for an
    unmatched item). ``status`` is the prediction's ``check_status`` for ``pred_path``;
    ``cited`` its evidence and ``evidence`` the verdict on that evidence."""

    doc_id: str
    field: str
    gold_path: str | None
    pred_path: str | None
    item: str | None = None
    gold: Value = None
    pred: Value = None
    outcome: Outcome
    status: CheckStatus | None = None
    cited: Evidence | None = None
    evidence: EvidenceCheck | None = None

    @property
    def path(self) -> str:
        """The path to show: gold side when there is one."""
        return self.gold_path or self.pred_path or self.field


class ItemMatch(BaseModel):
    doc_id: str
    list_path: str
    gold_index: int
    pred_index: int
    how: MatchKind


class SilentErrors(BaseModel):
    """How often wrong predicted values escaped the extractor's own cross-checks.

    A *wrong predicted value* is a predicted non-null value that is a false positive: a
    mismatch (``wrong``) or a value where gold has none (``spurious``). Only values that
    carry a ``check_status`` can be judged flagged or not; ``unchecked`` counts as not
    flagged (the checks did not object). Values without a status are counted in
    ``wrong_without_status`` and kept out of both rates.
    """

    with_status: int = 0
    """Predicted non-null values that carry a status."""
    wrong: int = 0
    """All wrong predicted values, with or without a status."""
    wrong_with_status: int = 0
    wrong_without_status: int = 0
    wrong_unflagged: int = 0
    """Wrong, carrying a status, and that status is not ``flagged``."""
    flagged: int = 0
    flagged_wrong: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def silent_error_rate(self) -> float | None:
        """wrong_unflagged / with_status: of all statused predictions, the share that is
        wrong and not flagged (what a user trusting the flags would get burnt by)."""
        return ratio(self.wrong_unflagged, self.with_status)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def unflagged_error_share(self) -> float | None:
        """wrong_unflagged / wrong_with_status: the contract's silent-error rate, i.e. the
        share of wrong predicted values that the cross-checks did not flag."""
        return ratio(self.wrong_unflagged, self.wrong_with_status)

    def add(self, slot: SlotResult) -> None:
        if slot.pred is None:
            return
        is_wrong = slot.outcome in ("wrong", "spurious")
        self.wrong += is_wrong
        if slot.status is None:
            self.wrong_without_status += is_wrong
            return
        self.with_status += 1
        flagged = slot.status == CheckStatus.FLAGGED
        self.flagged += flagged
        self.flagged_wrong += flagged and is_wrong
        self.wrong_with_status += is_wrong
        self.wrong_unflagged += is_wrong and not flagged


class ErrorSplit(BaseModel):
    """Where the points went for one field or document: missing / wrong / spurious, and
    for wrong and spurious values whether the extractor's checks flagged them."""

    missing: int = 0
    wrong: int = 0
    spurious: int = 0
    silent: SilentErrors = Field(default_factory=SilentErrors)

    def add(self, slot: SlotResult) -> None:
        if slot.outcome == "missing":
            self.missing += 1
        elif slot.outcome == "wrong":
            self.wrong += 1
        elif slot.outcome == "spurious":
            self.spurious += 1
        self.silent.add(slot)


class InvalidFile(BaseModel):
    """A gold or prediction file that was not scored, and why."""

    side: Literal["gold", "pred"]
    file: str
    reason: str


class CheckNote(BaseModel):
    """A failing cross-check of the run, with the prediction slots it involves."""

    name: str
    rule: str
    summary: str
    paths: list[str] = Field(default_factory=list)
    blamed: list[str] = Field(default_factory=list)


class RepairNote(BaseModel):
    """A repair the run made: the prediction slot it changed, from what to what, why."""

    path: str | None
    slot: str
    before: Any = None
    after: Any = None
    rule: str
    source: str | None = None


class DocContext(BaseModel):
    """What the run knew about a document beside its values: failing checks, repairs and
    the findings about the report itself (``document_findings``, when the record has it)."""

    failed_checks: list[CheckNote] = Field(default_factory=list)
    repairs: list[RepairNote] = Field(default_factory=list)
    findings: list[dict[str, Any]] = Field(default_factory=list)

    def checks_on(self, path: str | None) -> list[CheckNote]:
        return [] if path is None else [c for c in self.failed_checks if path in c.paths]

    def repairs_on(self, path: str | None) -> list[RepairNote]:
        return [] if path is None else [r for r in self.repairs if r.path == path]


class ScoreReport(BaseModel):
    """Everything ``eval score`` reports; JSON-serialisable with ``model_dump_json``."""

    tolerance: float = TOLERANCE
    documents: list[str] = Field(default_factory=list)
    missing_in_pred: list[str] = Field(default_factory=list)
    missing_in_gold: list[str] = Field(default_factory=list)
    invalid: list[InvalidFile] = Field(default_factory=list)
    overall: Counts = Field(default_factory=Counts)
    by_section: dict[str, Counts] = Field(default_factory=dict)
    by_field: dict[str, Counts] = Field(default_factory=dict)
    by_document: dict[str, Counts] = Field(default_factory=dict)
    silent: SilentErrors = Field(default_factory=SilentErrors)
    errors_by_field: dict[str, ErrorSplit] = Field(default_factory=dict)
    errors_by_document: dict[str, ErrorSplit] = Field(default_factory=dict)
    evidence: EvidenceCounts = Field(default_factory=EvidenceCounts)
    evidence_by_section: dict[str, EvidenceCounts] = Field(default_factory=dict)
    context: dict[str, DocContext] = Field(default_factory=dict)
    slots: list[SlotResult] = Field(default_factory=list)
    matches: list[ItemMatch] = Field(default_factory=list)

    def errors(self) -> list[SlotResult]:
        """Every slot that cost a point (missing, wrong or spurious)."""
        return [s for s in self.slots if s.outcome in ERROR_OUTCOMES]
