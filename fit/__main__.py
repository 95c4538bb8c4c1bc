"""Fits the scorer on the seven evaluation files and writes index/search/scorer.json; `--check` refits and compares.

Run: .venv/bin/python -m fit [--check]   (a few minutes: a temporary index of seeds/, and the optional evaluation
files: a folder shared/eval next to the repository's folder)
"""

import argparse
import json
import sys

from fit.examples import examples, require_evaluation_files, seed_index
from fit.models import fit
from index.search.scorer import SCORER_FILE

# scikit-learn's lbfgs stops once its gradient is under 1e-4, so a coefficient is pinned down to about that much
# over the curvature; two fits on the same examples, on a loaded machine, once differed by 1.4e-4 in one of them.
TOLERANCE = 1e-3


def differences(old: object, new: object, path: str = "") -> list[str]:
    """Where two scorer files differ beyond rounding."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for key in sorted(old.keys() | new.keys())
                for d in differences(old.get(key), new.get(key), f"{path}.{key}".lstrip("."))]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [d for i, (a, b) in enumerate(zip(old, new, strict=True)) for d in differences(a, b, f"{path}[{i}]")]
    if isinstance(old, float | int) and isinstance(new, float | int) and not isinstance(old, bool):
        return [] if abs(old - new) <= TOLERANCE * max(1.0, abs(old)) else [f"{path}: {old} → {new}"]
    return [] if old == new else [f"{path}: {old!r} → {new!r}"]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m fit", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="refit and compare with index/search/scorer.json")
    args = parser.parse_args()
    require_evaluation_files()
    with seed_index() as open_searcher:
        searcher = open_searcher()
        scorer = fit(examples(searcher), searcher.index)
    fitted = scorer.to_json()
    if args.check:
        found = differences(json.loads(SCORER_FILE.read_text(encoding="utf-8")), fitted)
        print("\n".join(found) or f"{SCORER_FILE.name} is what the fit gives")
        return 1 if found else 0
    lines = ",\n".join(f"  {json.dumps(key)}: {json.dumps(value)}" for key, value in fitted.items())
    SCORER_FILE.write_text(f"{{\n{lines}\n}}\n", encoding="utf-8")
    print(f"wrote {SCORER_FILE} (threshold {scorer.threshold:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
