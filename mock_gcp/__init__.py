"""Google's side of the WIF chain, locally: one module per emulated service."""
