"""Parsing Binance futures websocket messages into stored rows (see messages.py for what is accepted)."""

from .errors import REASONS, InvalidMessage
from .events import Context
from .messages import ParsedMessage, Rejected, parse_message

__all__ = ["REASONS", "Context", "InvalidMessage", "ParsedMessage", "Rejected", "parse_message"]
