"""Price anomalies: a close-to-close log return further than `sigma` rolling standard deviations from the rolling mean.

The mean and deviation come from the `window` returns before the candle (the candle's own return is not part of
its baseline), kept as running sums so each row costs O(1). A baseline needs at least half a window of returns and a
non-zero deviation (a flat series has no scale to measure against). Anomalies are reported, never counted as invalid:
real markets do jump.
"""

import math
from collections import deque
from datetime import datetime

from . import Finding
from .validity import number


class ReturnAnomalies:
    def __init__(self, *, window: int, sigma: float) -> None:
        self.window, self.sigma = window, sigma
        self.returns: deque[float] = deque()
        self.total = self.total_sq = 0.0
        self.previous_close: float | None = None
        self.findings: list[Finding] = []
        self.count = 0

    def feed(self, open_time: datetime, close: object, *, report: bool = True) -> None:
        value = number(close)
        if value is None or value <= 0:
            return
        price = float(value)
        if self.previous_close is not None:
            log_return = math.log(price / self.previous_close)
            if report:
                self._check(open_time, log_return)
            self._push(log_return)
        self.previous_close = price

    def _check(self, open_time: datetime, log_return: float) -> None:
        size = len(self.returns)
        if size < max(2, self.window // 2):
            return
        mean = self.total / size
        variance = max(self.total_sq / size - mean * mean, 0.0)
        deviation = math.sqrt(variance)
        if deviation == 0 or abs(log_return - mean) <= self.sigma * deviation:
            return
        self.count += 1
        score = (log_return - mean) / deviation
        self.findings.append(
            Finding(
                audit_type="anomaly",
                severity="warning",
                message=f"return {log_return:+.4%} at {open_time.isoformat()} is {score:+.1f} rolling deviations",
                key=f"return:{open_time.isoformat()}",
                details={"open_time": open_time.isoformat(), "log_return": log_return, "z_score": score},
            )
        )

    def _push(self, log_return: float) -> None:
        self.returns.append(log_return)
        self.total += log_return
        self.total_sq += log_return * log_return
        if len(self.returns) > self.window:
            dropped = self.returns.popleft()
            self.total -= dropped
            self.total_sq -= dropped * dropped
