"""``python -m recommender.sim OUT_DIR [--seed N] [--hours H]``: write the sample files."""

from .sample import main

raise SystemExit(main())
