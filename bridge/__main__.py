"""``python -m bridge``: the same program as the ``clickai-bridge`` console script."""

from bridge.cli import main

raise SystemExit(main())
