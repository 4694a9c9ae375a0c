"""``python -m gateway.pmp_sim``: run the PMP simulator."""

from . import main

raise SystemExit(main())
