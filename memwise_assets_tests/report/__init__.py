"""Tests of the memory report."""
