"""Every failure says what to do: each cause of the vocabulary has advice."""

from netcheck import failures
from netcheck.advice import advice_for

CAUSES = sorted(
    value for name, value in vars(failures).items() if name.isupper() and isinstance(value, str)
)


def test_every_cause_has_advice() -> None:
    assert len(CAUSES) > 30
    assert [c for c in CAUSES if not advice_for("firewall", c)] == []
