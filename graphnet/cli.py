"""The ``graphnet`` command.

graphnet info FILE        summary of a saved graph (neurons per level, edges, density)
graphnet check FILE       verify every invariant; exit 1 with the problem if one breaks
graphnet graphml FILE OUT export a saved graph to GraphML
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="graphnet", description="Neural networks that grow their own structure."
    )
    sub = p.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="print a summary of a saved graph")
    info.add_argument("file", help="an HDF5 graph written by graphnet.save")
    chk = sub.add_parser("check", help="verify every invariant of a saved graph")
    chk.add_argument("file")
    gml = sub.add_parser("graphml", help="export a saved graph to GraphML")
    gml.add_argument("file")
    gml.add_argument("out", help="the .graphml file to write")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Examples
    --------
    >>> main(["info", "no/such.h5"])
    1
    """
    args = _parser().parse_args(argv)
    import graphnet as gn

    try:
        g = gn.load(args.file)
    except gn.GraphError as err:
        print(f"graphnet: {err}", file=sys.stderr)
        return 1
    if args.command == "info":
        print(f"{args.file}: {g!r}")
        print(g.summary())
        print(
            f"edit log: {len(g.log)} records; next ids: neuron {g.next_neuron_id}, edge {g.next_edge_id}"
        )
    elif args.command == "check":
        print(f"{args.file}: ok ({g!r})")  # load() already ran g.check()
    elif args.command == "graphml":
        gn.write_graphml(g, args.out)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
