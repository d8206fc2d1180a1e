"""Comparisons and uses of the value graph: the human Schwartz structure (circumplex), side effects, plans."""
