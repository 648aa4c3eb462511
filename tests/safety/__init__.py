"""Tests of the pre-load op scan (harness.safety)."""
