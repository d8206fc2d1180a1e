"""How lm-eval sees this package: model registration, task folders, the stock CLI bridge, embedded models."""
