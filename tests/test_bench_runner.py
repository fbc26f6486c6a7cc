"""`make bench`: measurements are judged against their targets, and failures are reported."""

import subprocess
import sys
from pathlib import Path

import pytest

from bench import Measurement, as_measurements

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("value", "higher_is_better", "passed"),
    [
        (4.0, False, True),
        (5.0, False, True),
        (6.0, False, False),
        (6.0, True, True),
        (4.0, True, False),
    ],
)
def test_a_measurement_meets_its_target_on_the_right_side_of_the_limit(
    value, higher_is_better, passed
):
    measurement = Measurement(
        name="m", value=value, limit=5.0, unit="ms", higher_is_better=higher_is_better
    )
    assert measurement.passed is passed
    assert measurement.ratio == pytest.approx(value / 5.0)
    assert measurement.describe().startswith("OK" if passed else "MISSED")


def test_dict_results_are_accepted_like_measurements():
    (measurement,) = as_measurements([{"name": "rate", "value": 3, "limit": 2, "unit": "req/s"}])
    assert measurement == Measurement(name="rate", value=3, limit=2, unit="req/s")
    assert as_measurements(None) == []


def test_an_unknown_benchmark_name_is_refused():
    result = subprocess.run(
        [sys.executable, "-m", "bench", "no_such_benchmark"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "Unknown benchmark(s): no_such_benchmark" in result.stdout
