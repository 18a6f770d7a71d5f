"""Intercept mode: clients keep Google's URLs and reach the stand-in through a loopback proxy.

``ca``: the local certificate authority (name-constrained to the hosts wiflab serves);
``routes``: which Google host goes to which part; ``proxy``: the HTTP proxy (CONNECT with TLS
termination for those hosts, an untouched tunnel for every other); ``environment``: the
variables that make a client use it (``wiflab env``).
"""
