"""Names of the files and folders the tool writes and reads, and of the stages of a study.

One home for every name that more than one module needs: a sweep writes them, the matrix
builder, the merge, the study and the report read them.
"""

from __future__ import annotations

# ----------------------------------------------------------------------------- sweep folders
#: per-condition folders of a sweep: ``conditions/<condition_id>/``
CONDITIONS_DIR = "conditions"
#: a finished condition's record (meta, role text, steering, the model's condition record)
CONDITION_FILE = "condition.json"
#: lm-eval's results of one condition (samples removed)
RESULTS_FILE = "results.json"
#: one row per condition, one column per value
MATRIX_FILE = "matrix.csv"
#: one row per answered item
ITEMS_FILE = "items.csv"
#: what a sweep ran (config, resolved identity, conditions, file digests)
MANIFEST_FILE = "manifest.json"


def shard_suffix(shard: tuple[int, int]) -> str:
    """``""`` for an unsharded run, ``".shard-i-of-N"`` otherwise."""
    i, n = shard
    return "" if n == 1 else f".shard-{i}-of-{n}"


def matrix_file(suffix: str = "") -> str:
    """``matrix<suffix>.csv`` (suffix: :func:`shard_suffix`)."""
    return f"matrix{suffix}.csv"


def items_file(suffix: str = "") -> str:
    """``items<suffix>.csv`` (suffix: :func:`shard_suffix`)."""
    return f"items{suffix}.csv"


def manifest_file(suffix: str = "") -> str:
    """``manifest<suffix>.json`` (suffix: :func:`shard_suffix`)."""
    return f"manifest{suffix}.json"


# ----------------------------------------------------------------------------- study folders
#: the stages of a study, in run order; each writes ``RUN/<model>/<stage>/``
STAGES: tuple[str, ...] = ("vectors", "sweep", "reliability", "graph", "human", "side_effects")
#: the run record of a study, and its ``format`` field
STUDY_FILE = "study.json"
STUDY_FORMAT = "lm-eval-values/study"
#: a finished stage's record (settings, inputs hash, timings)
STAGE_FILE = "stage.json"
#: the config a study ran, as YAML
STUDY_CONFIG_FILE = "config.yaml"
#: the study report
REPORT_FILE = "report.html"
#: the graph stage's graph (node-link JSON)
GRAPH_FILE = "graph.json"
#: the human stage's comparison
COMPARE_HUMAN_FILE = "compare_human.json"
#: the human stage's PC graph of the human correlations
HUMAN_GRAPH_FILE = "human_graph.json"
#: an analysis stage's record (settings, rows used, counts, what was skipped), written by the stage function
#: into the study's stage folder and into a command's ``--out`` folder alike
RESULT_FILE = "result.json"
#: the reliability stage's analysis (``lm-eval-values reliability --out``)
RELIABILITY_FILE = "reliability.json"

# ----------------------------------------------------------------------------- value tasks
#: task-name suffix of each answer format of the ``values_*`` task families
FORMAT_SUFFIXES: dict[str, str] = {"yesno": "", "yesno_rev": "_yesno_rev", "likert": "_likert",
                                   "likert_rev": "_likert_rev", "generate": "_gen"}
#: counterbalanced formats: every item is asked in both option orders (the same item id in two tasks);
#: the item table then holds two answers per item and condition, and every item-level consumer
#: (value scores in matrix.csv, the reliability analysis) averages them per item
COUNTERBALANCED_FORMATS: dict[str, tuple[str, str]] = {"yesno_cb": ("yesno", "yesno_rev"),
                                                       "likert_cb": ("likert", "likert_rev")}
