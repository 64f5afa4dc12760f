"""Configuration: settings from the environment and the policies.yaml schema and evaluator."""
