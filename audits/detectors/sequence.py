"""Gaps by sequence: aggregate-trade ids and depth update ids.

aggTrade: ids `a` (stored as `trade_id`) are contiguous, and each row's first raw trade id `f` follows the previous
row's last `l`. Raw trades: `t` contiguous. Depth diffs: each update's `pu` equals the previous update's `u`; a break
loses at least one message, and how many is unknowable (update ids advance per order-book change, not per message),
so a depth gap counts one missing message and names the lost id range.
"""

from dataclasses import dataclass
from datetime import datetime

from . import Finding, FoundGap


@dataclass
class _Last:
    id: int
    time: datetime
    last_trade_id: int | None = None


class TradeSequence:
    """Breaks in `trade_id`, and in the `first_trade_id`/`last_trade_id` chain where ids are contiguous.

    `expect_from`/`expect_to` bound an id range that must be complete (rechecking a known gap): ids before the
    first row or after the last one inside it are missing too.
    """

    def __init__(
        self,
        *,
        expect_from: tuple[int, datetime] | None = None,
        expect_to: tuple[int, datetime] | None = None,
    ) -> None:
        self.last = _Last(expect_from[0] - 1, expect_from[1]) if expect_from else None
        self.expect_to = expect_to
        self.gaps: list[FoundGap] = []
        self.findings: list[Finding] = []

    def feed(self, trade_id: int, time: datetime, first_trade_id: int | None, last_trade_id: int | None) -> None:
        last = self.last
        if last is not None and trade_id <= last.id:
            return  # a duplicate: the duplicate check counts it
        if last is not None and trade_id > last.id + 1:
            raw = ""
            if last.last_trade_id is not None and first_trade_id is not None:
                raw = f"raw trade ids {last.last_trade_id + 1}..{first_trade_id - 1} missing"
            self.gaps.append(
                FoundGap("sequence", last.time, time, trade_id - last.id - 1, last.id + 1, trade_id - 1, raw)
            )
        elif (
            last is not None
            and None not in (last.last_trade_id, first_trade_id)
            and (first_trade_id != last.last_trade_id + 1)
        ):
            self.findings.append(_chain_break(last, trade_id, first_trade_id, time))
        self.last = _Last(trade_id, time, last_trade_id)

    def finish(self) -> list[FoundGap]:
        if self.expect_to and self.last and self.last.id < self.expect_to[0]:
            last_id, time = self.expect_to
            self.gaps.append(
                FoundGap("sequence", self.last.time, time, last_id - self.last.id, self.last.id + 1, last_id)
            )
        return self.gaps


def _chain_break(last: _Last, trade_id: int, first_trade_id: int, time: datetime) -> Finding:
    return Finding(
        audit_type="sequence_gap",
        severity="error",
        message=(
            f"aggTrade {trade_id} starts at raw trade {first_trade_id}, "
            f"but aggTrade {last.id} ended at raw trade {last.last_trade_id}"
        ),
        key=f"chain:{trade_id}",
        details={
            "trade_id": trade_id,
            "first_trade_id": first_trade_id,
            "previous_last_trade_id": last.last_trade_id,
            "time": time.isoformat(),
        },
    )


class DepthSequence:
    """Breaks in the depth chain: `pu` (or, without it, `U - 1`) different from the previous `u`."""

    def __init__(self, *, expect_from: tuple[int, datetime] | None = None) -> None:
        self.last = _Last(expect_from[0] - 1, expect_from[1]) if expect_from else None
        self.gaps: list[FoundGap] = []
        self.findings: list[Finding] = []

    def feed(self, final_id: int, time: datetime, first_id: int | None, prev_final_id: int | None) -> None:
        last = self.last
        self.last = _Last(final_id, time) if last is None or final_id > last.id else last
        if last is None or final_id <= last.id:
            return
        linked = prev_final_id if prev_final_id is not None else (first_id - 1 if first_id is not None else None)
        if linked is None or linked == last.id:
            return
        if linked > last.id:
            self.gaps.append(FoundGap("sequence", last.time, time, 1, last.id + 1, linked))
        else:
            self.findings.append(
                Finding(
                    audit_type="sequence_gap",
                    severity="warning",
                    message=f"depth update {final_id} links to {linked}, behind the previous update {last.id}",
                    key=f"overlap:{final_id}",
                    details={"final_update_id": final_id, "linked_to": linked, "previous": last.id},
                )
            )

    def finish(self) -> list[FoundGap]:
        return self.gaps
