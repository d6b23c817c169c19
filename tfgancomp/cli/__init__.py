"""The `tfgancomp` command: compress, decompress, info, compare, evaluate,
compare-codecs, demo, models.

Every user mistake ends in one line on stderr and a non-zero exit status;
TensorFlow is imported only by the subcommands that run a model. Each
command group is a module with `add_parsers` and thin `run` functions over
the library.
"""

from __future__ import annotations

import os
import sys

from tfgancomp.cli import coding, compare, evaluate, models, serve
from tfgancomp.cli.common import Parser
from tfgancomp.errors import TfgancompError

GROUPS = (coding, compare, evaluate, models, serve)


def build_parser() -> Parser:
    from tfgancomp import __version__
    parser = Parser(prog="tfgancomp", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True,
                                     parser_class=Parser)
    for group in GROUPS:
        group.add_parsers(commands)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except TfgancompError as e:
        print(f"tfgancomp: error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader left, as `| head` does: no error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as e:
        print(f"tfgancomp: error: {e.strerror or e}"
              + (f": {e.filename}" if e.filename else ""), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tfgancomp: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
