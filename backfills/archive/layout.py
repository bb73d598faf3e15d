"""Where Binance publishes USD-M futures archives: `data/futures/um/{monthly,daily}/{type}/{SYMBOL}/...zip`.

Every zip holds one CSV named like the zip and has a `.CHECKSUM` beside it (`<sha256>  <name>.zip`). Klines add the
interval as a folder and in the name: `klines/BTCUSDT/1m/BTCUSDT-1m-2024-01.zip`; the others are
`{type}/{SYMBOL}/{SYMBOL}-{type}-{date}.zip`, with `YYYY-MM` for monthly files and `YYYY-MM-DD` for daily ones.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

MONTHLY, DAILY = "monthly", "daily"

# Backfill data type -> (archive type, periods Binance publishes it in). Funding rates come in monthly files only.
ARCHIVE_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "candles": ("klines", (MONTHLY, DAILY)),
    "trades": ("aggTrades", (MONTHLY, DAILY)),
    "raw_trades": ("trades", (MONTHLY, DAILY)),
    "funding_rates": ("fundingRate", (MONTHLY,)),
    "book_tickers": ("bookTicker", (MONTHLY, DAILY)),
}


def month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(moment: datetime) -> datetime:
    return (moment.replace(day=28) + timedelta(days=4)).replace(day=1)


def day_start(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class ArchiveFile:
    """One published file: a month or a day of one series."""

    archive_type: str
    period: str
    symbol: str
    day: date  # the month's first day for monthly files
    interval: str = ""

    @property
    def start(self) -> datetime:
        return datetime(self.day.year, self.day.month, self.day.day, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return next_month(self.start) if self.period == MONTHLY else self.start + timedelta(days=1)

    @property
    def label(self) -> str:
        return self.day.strftime("%Y-%m") if self.period == MONTHLY else self.day.isoformat()

    @property
    def name(self) -> str:
        kind = self.interval if self.archive_type == "klines" else self.archive_type
        return f"{self.symbol}-{kind}-{self.label}.zip"

    @property
    def path(self) -> str:
        folder = f"data/futures/um/{self.period}/{self.archive_type}/{self.symbol}"
        if self.archive_type == "klines":
            folder += f"/{self.interval}"
        return f"{folder}/{self.name}"

    def url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/{self.path}"

    def checksum_url(self, base_url: str) -> str:
        return self.url(base_url) + ".CHECKSUM"

    def to_dict(self) -> dict:
        return {
            "archive_type": self.archive_type,
            "period": self.period,
            "symbol": self.symbol,
            "day": self.day.isoformat(),
            "interval": self.interval,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "ArchiveFile":
        return cls(
            archive_type=data["archive_type"],
            period=data["period"],
            symbol=data["symbol"],
            day=date.fromisoformat(data["day"]),
            interval=data.get("interval", ""),
        )


def archive_file(data_type: str, period: str, symbol: str, moment: datetime, interval: str = "") -> ArchiveFile:
    archive_type, _periods = ARCHIVE_TYPES[data_type]
    start = month_start(moment) if period == MONTHLY else day_start(moment)
    return ArchiveFile(archive_type, period, symbol, start.date(), interval if archive_type == "klines" else "")
