"""The journal: every request to Google's side with its decision, linked into chains.

``record`` builds a ``Record`` from what a service decided (no HTTP here); ``entry`` turns a
record into the journal's JSON entry (redacted); ``chains`` numbers entries into chains by
the tokens they present and issue; ``hints`` says, for a refusal, the nearest miss and what
to check; ``store`` keeps the last N entries (in memory, or in a file shared by every process
of the stack); ``http`` records Flask requests and serves ``/wiflab/v1/journal``.
"""
