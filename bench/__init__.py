"""Benchmarks (not tests): `make bench` runs every module here that has a `main()`.

The contract for a benchmark module `bench/<name>.py`:

- `main()` takes no arguments, runs the benchmark, prints whatever report it likes, and returns
  the measurements that have a target: an iterable of `Measurement` (or of dicts with the same
  keys). Returning None means "a report with no targets".
- It runs in a process of its own (`python -m bench --one <name>`), so it may set environment
  variables, call `django.setup()`, start servers on 127.0.0.1 and stop them, without affecting
  other benchmarks. It must bound its own request loops in count and time.

The runner prints each measurement with its ratio to the limit, then a summary, and exits
non-zero when any target is missed or any benchmark fails to run.
"""

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Measurement:
    """One measured value and the limit it must stay within.

    `higher_is_better=False` (the default) is for costs such as latency: the target is met when
    value <= limit. `higher_is_better=True` is for rates such as throughput: value >= limit.
    """

    name: str
    value: float
    limit: float
    unit: str
    higher_is_better: bool = False

    @property
    def ratio(self) -> float:
        """value / limit: at most 1 meets a cost target, at least 1 meets a rate target."""
        if self.limit == 0:
            return float("inf") if self.value else 1.0
        return self.value / self.limit

    @property
    def passed(self) -> bool:
        if self.higher_is_better:
            return self.value >= self.limit
        return self.value <= self.limit

    def describe(self) -> str:
        comparison = ">=" if self.higher_is_better else "<="
        verdict = "OK" if self.passed else "MISSED"
        return (
            f"{verdict:<6} {self.name}: {self.value:.4g} {self.unit} "
            f"(target {comparison} {self.limit:.4g} {self.unit}; ratio {self.ratio:.2f})"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def as_measurements(results: Iterable[Measurement | Mapping[str, Any]] | None) -> list[Measurement]:
    """Normalise what a benchmark's main() returned."""
    if results is None:
        return []
    if isinstance(results, Measurement | Mapping):
        results = [results]
    return [
        result if isinstance(result, Measurement) else Measurement(**dict(result))
        for result in results
    ]
