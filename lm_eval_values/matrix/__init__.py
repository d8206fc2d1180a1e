"""From results files to the tidy value matrix.

condition_files (find and read per-condition lm-eval files), tables (``matrix.csv`` and ``items.csv``),
value_matrix (:class:`ValueMatrix`, one row per condition, one column per value), reading (a value
matrix from a CSV or a folder).
"""
