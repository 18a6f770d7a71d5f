"""The protected "dump" service that shows who called."""
