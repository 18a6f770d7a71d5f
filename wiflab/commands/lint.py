"""``wiflab lint``: its flags, mapped to ``wiflab_lab.lint``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from wiflab.commands.conventions import EXIT_OK, EXIT_REFUSED, EXIT_USAGE
from wiflab.commands.up import PATH

DESCRIPTION = """\
Check a Workload Identity Federation setup for the mistakes users hit most:
shared issuers without a condition, conditions on mutable names instead of ids,
ids compared as numbers, prefixes without a delimiter, attributes used but never
mapped, subjects over 127 bytes, malformed principals, and Token Creator vs
Workload Identity User. Each finding has an id, a severity, the resource, why
(with the source) and the fix.

PATH is a wiflab topology, the JSON of `gcloud iam workload-identity-pools
providers describe` (one provider or a list), of `gcloud iam service-accounts
get-iam-policy`, or `terraform show -json` output; the kind is told from the
content. Several inputs are checked together."""

EPILOG = """\
\b
examples:
  wiflab lint wif.yaml
  wiflab lint provider.json ci@my-project.iam.gserviceaccount.com.json
  terraform show -json > tf.json && wiflab lint tf.json --format sarif --output lint.sarif

\b
exit status: 0 no error-level finding, 1 at least one, 2 unreadable input."""


@click.command("lint", help=DESCRIPTION, epilog=EPILOG)
@click.argument("paths", metavar="PATH...", nargs=-1, required=True, type=PATH)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif"]),
    default="text",
    show_default=True,
    help="text for people, json for scripts, sarif for GitHub code scanning",
)
@click.option("--output", type=PATH, help="write the report to this file (default: stdout)")
@click.option(
    "--resource",
    metavar="SA_EMAIL",
    help="the service account an IAM policy input belongs to (default: its file name when "
    "that names one)",
)
def lint(paths: tuple[Path, ...], fmt: str, output: Path | None, resource: str | None) -> int:
    from wiflab_lab.lint import InputError, lint_files, report

    try:
        findings = lint_files([str(p) for p in paths], resource=resource)
    except InputError as exc:
        print(f"wiflab lint: {exc}", file=sys.stderr)
        return EXIT_USAGE
    text = report(findings, fmt)
    if output is None:
        sys.stdout.write(text)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"wiflab lint: cannot write {output}: {exc}", file=sys.stderr)
            return EXIT_USAGE
    return EXIT_REFUSED if any(f.level == "error" for f in findings) else EXIT_OK
