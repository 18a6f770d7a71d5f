"""wiflab: a lab for Google Cloud Workload Identity Federation."""

__version__ = "0.1.0"
