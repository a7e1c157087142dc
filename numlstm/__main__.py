"""``python -m numlstm``: the same as the ``numlstm`` command."""

import sys

from .cli import main

sys.exit(main())
