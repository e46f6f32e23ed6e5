"""A job's target credentials: the token the Kubernetes client sends is renewed from the
hub as it nears expiry, a failed renewal keeps the token in hand, and no repr shows it."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from spoke_agent.access.source_connection import Credentials, TargetAccess

from tests.support.clock import FakeClock

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def grant(token: str, minutes: int) -> TargetAccess:
    return TargetAccess(
        server="https://west:6443", token=token, expires_at=START + timedelta(minutes=minutes)
    )


class Hub:
    def __init__(self, *answers: TargetAccess | Exception) -> None:
        self.answers = list(answers)
        self.asked = 0

    def __call__(self) -> TargetAccess:
        self.asked += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_the_token_is_kept_until_it_nears_expiry_then_renewed() -> None:
    clock, hub = FakeClock(START), Hub(grant("second", 120))
    credentials = Credentials(grant("first", 60), hub, clock)
    assert credentials.token() == "first"
    clock.advance(44 * 60)
    assert (credentials.token(), hub.asked) == ("first", 0)
    clock.advance(60)
    assert (credentials.token(), hub.asked) == ("second", 1)


def test_a_failed_renewal_keeps_the_token_and_is_retried_later_not_on_every_call() -> None:
    clock = FakeClock(START + timedelta(minutes=50))
    hub = Hub(ConnectionError("hub down"), grant("second", 120))
    credentials = Credentials(grant("first", 60), hub, clock)
    assert credentials.token() == "first"
    assert credentials.token() == "first"
    assert hub.asked == 1, "no second try within retry_every"
    clock.advance(30)
    assert (credentials.token(), hub.asked) == ("second", 2)


def test_an_answer_no_fresher_than_the_token_in_hand_is_ignored() -> None:
    clock = FakeClock(START + timedelta(minutes=50))
    credentials = Credentials(grant("first", 60), Hub(grant("older", 55)), clock)
    assert credentials.token() == "first"


@pytest.mark.parametrize("shown", [repr, str])
def test_no_repr_shows_the_token(shown: Callable[[object], str]) -> None:
    access = grant("s3cr3t-token", 60)
    credentials = Credentials(access, Hub(), FakeClock(START))
    assert "s3cr3t-token" not in shown(access)
    assert "s3cr3t-token" not in shown(credentials)
