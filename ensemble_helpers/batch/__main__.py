"""``python -m ensemble_helpers.batch``: the same command line as ``ensemble-run``."""
from __future__ import annotations

if __name__ == "__main__":
    # Hide this __main__ module from multiprocessing, which would otherwise re-import it in every
    # worker (as ``__mp_main__``); workers need nothing from it. Functions sent to workers live
    # in ensemble_helpers.batch.execute and are pickled by that name.
    __spec__ = None  # noqa: A001
    del __file__
    from ensemble_helpers.batch.cli import main

    raise SystemExit(main())
