"""Rerunning one analysis stage of a finished study with its command (``--study RUN --model ID``).

:func:`open_study_model` reads the study's record and settings; the stage commands then call the
same stage function as the study with the same inputs and settings, so their ``--out`` folder holds
the same bytes as ``RUN/<model>/<stage>/`` (all but ``stage.json``, the study's own bookkeeping with
the inputs hash and the timing). Options given next to ``--study`` change the study's settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lm_eval_values.core.errors import UserError
from lm_eval_values.core.files import MATRIX_FILE
from lm_eval_values.matrix.value_matrix import ValueMatrix
from lm_eval_values.results.study import StudyRecord, read_study_record
from lm_eval_values.study.analyses import read_study_matrix, reliability_label, study_scoring
from lm_eval_values.study.settings import AnalysisSettings, parse_analysis_settings


@dataclass(frozen=True)
class StudyModel:
    """One model of a finished study: where its files are and the study's analysis settings."""

    run: Path
    model_id: str
    record: StudyRecord
    settings: AnalysisSettings

    @property
    def model_dir(self) -> Path:
        """``RUN/<model>/``."""
        return self.run / self.model_id

    @property
    def sweep_dir(self) -> Path:
        """``RUN/<model>/sweep/``."""
        return self.model_dir / "sweep"

    @property
    def reliability_label(self) -> str:
        """How the study's ``reliability.json`` names its source."""
        return reliability_label(self.model_id)

    def stage_dir(self, stage: str) -> Path:
        """``RUN/<model>/<stage>/``."""
        return self.model_dir / stage

    def matrix(self) -> ValueMatrix:
        """The value matrix the study's stages read (every row; the stage settings select): the sweep's
        matrix under the study's ``reliability.scoring``."""
        path = self.sweep_dir / MATRIX_FILE
        if not path.is_file():
            raise UserError("--study", f"{path} does not exist", "run the study's sweep first")
        return read_study_matrix(path, *study_scoring(self.settings.reliability))


def open_study_model(run: str | Path, model_id: str | None) -> StudyModel:
    """The study in ``run`` and one of its models (``model_id`` may be left out for a one-model study)."""
    run = Path(run)
    record = read_study_record(run, "--study")
    ids = record.model_ids()
    if model_id is None:
        if len(ids) != 1:
            raise UserError("--model", f"the study has {len(ids)} models", f"pick one of: {', '.join(ids)}")
        model_id = ids[0]
    record.model(model_id)
    return StudyModel(run, model_id, record, parse_analysis_settings(record.config))


__all__ = ["StudyModel", "open_study_model"]
