"""Shared builders of test data and their comparisons: tests import them from here, never
from another test module."""
