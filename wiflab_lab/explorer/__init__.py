"""The flow explorer: a web page for workshops and debugging, served by ``wiflab up``.

It draws the topology in force, shows the journal's chains live (each step's request, its
JWTs decoded, its checks), runs the whole chain from the page (**Try it**) and breaks it on
purpose (**Break it**), restoring the topology afterwards. A small Flask app
(``wiflab_lab.explorer.app``) and plain static assets shipped in the package (no CDN, no
build step). Its server relays the Google side's journal and topology over HTTP, so the
page talks to one origin only, and it performs Try it with real HTTP against the same
endpoints any client uses (the demo's chain, ``wiflab_lab.demo.steps``).

It listens on loopback only: it mints tokens and changes the topology for whoever reaches it.
"""
