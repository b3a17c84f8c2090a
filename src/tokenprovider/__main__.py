"""``python -m tokenprovider``: the command line."""

from tokenprovider.cli import main

raise SystemExit(main())
