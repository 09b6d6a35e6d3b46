import threading

from watchlist_core.services.health import Check, CheckResult, HealthService


def test_all_passing_checks_pass() -> None:
    report = HealthService([Check("a", lambda: None)], timeout_seconds=1).report()
    assert report.status == "pass"
    assert report.checks["a"].status == "pass"


def test_a_hanging_required_dependency_fails_within_the_deadline() -> None:
    release = threading.Event()
    service = HealthService([Check("slow", release.wait), Check("fast", lambda: None)], timeout_seconds=0.2)
    report = service.report()
    hung_throughout = not release.is_set()  # the report came while the probe still hung: the deadline ended the wait
    release.set()
    assert hung_throughout
    assert report.status == "fail"
    assert report.checks["slow"] == CheckResult("fail", 200.0, required=True)  # cut off at the deadline
    assert report.checks["fast"].status == "pass"


def test_an_optional_dependency_failing_only_warns() -> None:
    def broken() -> None:
        raise ConnectionError("down")

    report = HealthService([Check("cache", broken, required=False)], timeout_seconds=1).report()
    assert report.status == "warn"
    assert report.checks["cache"].status == "fail"
