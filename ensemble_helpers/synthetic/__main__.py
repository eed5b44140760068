"""``python -m ensemble_helpers.synthetic``: write a synthetic cohort."""

from ensemble_helpers.synthetic.io import main

if __name__ == "__main__":  # pragma: no cover - importing the module must not run the CLI
    raise SystemExit(main())
