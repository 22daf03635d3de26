"""``python -m loadtests run ...``: see ``loadtests/runner.py``."""

from __future__ import annotations

import argparse
import sys

from loadtests import runner


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the load test."""
    parser = argparse.ArgumentParser(prog="python -m loadtests", description=__doc__)
    sub = parser.add_subparsers(title="commands", required=True)
    run = sub.add_parser("run", help="run a festival-day scenario headless")
    runner.add_arguments(run)
    args = parser.parse_args(argv)
    return runner.run(args)


if __name__ == "__main__":
    sys.exit(main())
