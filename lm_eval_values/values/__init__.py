"""What is measured: value names and definitions, item banks and inventories, answer scoring, task YAMLs."""
