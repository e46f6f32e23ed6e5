"""A failure many watches share is said once, then once a minute with a count; a new one at
once."""

from spoke_agent.report.repeats import Repeats

from tests.support.clock import FakeClock


def test_the_same_failure_is_said_once_a_minute_with_how_many_were_held() -> None:
    clock = FakeClock()
    repeats = Repeats(lambda: clock().timestamp(), every=60.0)
    assert repeats.say("ConnectionRefusedError") == 0
    assert [repeats.say("ConnectionRefusedError") for _ in range(19)] == [None] * 19
    assert repeats.say("503 Service Unavailable") == 0  # another cause is said at once
    clock.advance(61)
    assert repeats.say("ConnectionRefusedError") == 19
    assert repeats.say("ConnectionRefusedError") is None
