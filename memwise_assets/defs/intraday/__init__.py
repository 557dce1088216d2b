"""Intraday bars: the input of the intraday labels."""
