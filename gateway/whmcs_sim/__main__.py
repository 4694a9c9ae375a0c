"""``python -m gateway.whmcs_sim``: run the WHMCS simulator."""

from . import main

raise SystemExit(main())
