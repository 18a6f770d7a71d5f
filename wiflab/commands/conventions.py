"""What every ``wiflab`` subcommand shares with its callers: exit statuses and the environment
variables the command line reads.

The IdP's own ``IDP_*`` settings (issuer, bind host, key source, ...) are read by
``idp_server.settings.IdpSettings.from_env``; only the ones a subcommand passes on itself are
named here.
"""

from __future__ import annotations

EXIT_OK = 0
# Google (or the IdP, or gcloud) refused a step, or a running part failed.
EXIT_REFUSED = 1
# Bad flags, topology, settings or files: nothing was started or run (click's usage status).
EXIT_USAGE = 2

# The /token secret: `wiflab up` and `wiflab demo` guard the IdP with it; `wiflab mint` and
# `wiflab deploy tokens` send it.
IDP_TOKEN_SECRET = "IDP_TOKEN_SECRET"
# The bearer secret of a running IdP's admin routes (`wiflab idp keys`).
IDP_ADMIN_SECRET = "IDP_ADMIN_SECRET"
# Set to anything: `wiflab demo` prints no colour (https://no-color.org).
NO_COLOR = "NO_COLOR"
