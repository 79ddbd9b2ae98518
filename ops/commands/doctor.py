"""`nmc doctor`: a deployment's configuration and reachability, one line per check (exit 1 when any fails)."""

from __future__ import annotations

import sys

import click

from ops.context import echo_json, get_settings
from ops.doctor import examine


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def doctor(ctx: click.Context, as_json: bool) -> None:
    """Check the settings, Postgres (and its schema), Redis, Twilio's credentials, Clerk's keys and the public URL."""
    findings = examine(get_settings(ctx))
    if as_json:
        echo_json({"ok": all(finding.ok for finding in findings), "checks": [f.to_json() for f in findings]})
    else:
        for finding in findings:
            click.echo(finding.line())
    if not all(finding.ok for finding in findings):
        sys.exit(1)
