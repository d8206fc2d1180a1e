"""The study report: summaries and figures read from a run folder's files, and the HTML page."""
