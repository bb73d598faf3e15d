"""Template filters for what a person reads on the console: UTC times with seconds, durations in words."""

from django import template

from petrosa_dm.market.timeutils import format_duration, format_utc

register = template.Library()


@register.filter
def utc(value) -> str:
    """`2024-08-08 23:55:39 UTC`."""
    return format_utc(value)


@register.filter
def duration(seconds) -> str:
    """`20 h 17 min`."""
    return format_duration(seconds)
