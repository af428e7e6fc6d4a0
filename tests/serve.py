"""Daphne as `make run` installs it, for the live tests and the bench.

The test requirements bring click (schemathesis needs it), and autobahn, finding click,
colours the arguments of its debug log calls on every frame it sends, logged or not: about
4 µs a frame that a server installed from requirements.txt alone does not spend. This
runs Daphne's command line with click hidden, as it is there.

    python -m tests.serve [daphne's arguments]
"""

import sys

sys.modules["click"] = None  # `import click` raises ImportError, as without the package

from daphne.cli import CommandLineInterface  # noqa: E402

if __name__ == "__main__":
    CommandLineInterface.entrypoint()
