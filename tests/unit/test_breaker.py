"""The circuit breaker's states, on a clock the test moves."""

from watchlist_core.external.breaker import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_it_opens_after_consecutive_failures_only() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=3, open_seconds=30, clock=clock)
    breaker.failed()
    breaker.failed()
    breaker.succeeded()  # a success in between resets the count
    breaker.failed()
    breaker.failed()
    assert breaker.seconds_open() == 0
    breaker.failed()
    assert breaker.seconds_open() == 30


def test_after_the_pause_one_failed_trial_reopens_it_and_a_good_one_closes_it() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, open_seconds=10, clock=clock)
    breaker.failed()
    breaker.failed()
    clock.now += 10
    assert breaker.seconds_open() == 0  # the trial call may go
    breaker.failed()
    assert breaker.seconds_open() == 10
    clock.now += 10
    breaker.succeeded()
    breaker.failed()
    assert breaker.seconds_open() == 0


def test_a_rate_limit_holds_it_open_until_the_reset() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=5, open_seconds=10, clock=clock)
    breaker.hold_open(42)
    assert breaker.seconds_open() == 42
    breaker.hold_open(5)  # never shortened
    assert breaker.seconds_open() == 42
