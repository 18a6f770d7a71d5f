"""``wiflab lint``: static checks of a Workload Identity Federation setup.

``inputs`` reads a topology, ``gcloud ... describe`` / ``get-iam-policy`` JSON or ``terraform
show -json`` into one ``Inventory`` (``model``); ``rules`` are pure functions from an inventory
(and the IdP presets' provider knowledge) to ``Finding``s; ``render`` writes them as text, JSON
or SARIF 2.1.0.
"""

from wiflab_lab.lint.inputs import InputError, load_inventory
from wiflab_lab.lint.model import Finding, Inventory, Rule
from wiflab_lab.lint.rules import RULES, lint

__all__ = ["RULES", "Finding", "InputError", "Inventory", "Rule", "lint", "load_inventory"]
