"""The wiflab pytest plugin (being written)."""
