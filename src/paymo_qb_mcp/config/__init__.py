"""Configuration: settings from the environment and the policies.yaml schema and evaluator."""

from paymo_qb_mcp.config.policy import Decision, PlanFacts, Policy, load_policy
from paymo_qb_mcp.config.settings import Settings, load_settings, shipped_policy_path

__all__ = [
    "Decision",
    "PlanFacts",
    "Policy",
    "Settings",
    "load_policy",
    "load_settings",
    "shipped_policy_path",
]
