"""python -m labelops.bench <benchmark> [options]

    import   the import pipeline on a generated CSV (see labelops.bench.imports)
    queue    simulated annotators doing next + submit over HTTP (see labelops.bench.queue)
    round    training rounds on the BANKING77 demo data in a real worker (see labelops.bench.rounds)
    loop     a simulated team through the real platform, with and without the loop (see labelops.bench.loop)
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labelops.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="benchmark", required=True)
    from labelops.bench import imports, loop, queue, rounds

    benchmarks = {"import": imports, "queue": queue, "round": rounds, "loop": loop}
    for name, module in benchmarks.items():
        module.add_arguments(commands.add_parser(name, help=module.__doc__.splitlines()[0]))
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labelops.settings")
    import django

    django.setup()
    return benchmarks[args.benchmark].run(args)


if __name__ == "__main__":
    sys.exit(main())
