"""``python -m nnfast``: the ``nnfast`` command line."""
import sys

from .cli import main

sys.exit(main())
