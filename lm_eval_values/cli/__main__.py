"""``python -m lm_eval_values.cli``: the ``lm-eval-values`` console script."""

import sys

from lm_eval_values.cli import main

sys.exit(main())
