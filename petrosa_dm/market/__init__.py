"""Market primitives the whole project stands on: symbols and collection naming, kline intervals, time parsing.

They live in the ground package so that every app (and the console above them) imports them from one place, and
the ground itself imports no app.
"""
