"""``python -m idp_server --host H --port P [...]``: the IdP on its own, as its image runs it."""

import sys

from idp_server.serve import main

sys.exit(main())
