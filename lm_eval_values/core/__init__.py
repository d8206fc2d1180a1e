"""Building blocks every other part of lm-eval-values uses; this subpackage imports nothing else of the package.

errors (one-line user errors), atomic (atomic file output), yaml_io, paths (cache home, task folders),
hashing (canonical JSON, SHA-256, file digests), versions (package versions), files (file and stage
names, answer-format suffixes), conditions (condition ids, the no-role / no-steering ids, coefficient
text), jsonable (JSON-ready numbers), dtypes (default model dtype), png (deterministic PNG bytes).
"""
