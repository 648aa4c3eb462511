"""Lint: house rules applied to contracts and to SavedModels (see :mod:`.rules`)."""

from harness.lint.rules import RULES, Finding, Rule, rule
from harness.lint.run import LintResult, lint_paths

__all__ = ["RULES", "Finding", "LintResult", "Rule", "lint_paths", "rule"]
