"""Retention for operators: the rules themselves live in ``db.retention`` so the scheduler (which may not import
``ops``) runs exactly the same code daily."""

from db.retention import DEFAULT_BATCH_SIZE, EXEMPT, RULES, Rule, RuleResult, run_retention

__all__ = ["DEFAULT_BATCH_SIZE", "EXEMPT", "RULES", "Rule", "RuleResult", "run_retention"]
