"""`python -m followup` is the `followup` command."""

from followup.cli import main

raise SystemExit(main())
