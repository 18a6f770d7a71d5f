"""Cloud Run + WIF setup and teardown on real Google Cloud, generated from the topology."""
