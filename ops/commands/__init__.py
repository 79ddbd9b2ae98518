"""Every `nmc` subcommand, one module each. ``COMMANDS`` names where each lives; the CLI imports a command's module
only when that command runs (or when ``--help`` lists them all), so `nmc status` does not pay for the benchmarks'
imports."""

from __future__ import annotations

import importlib

import click

# command name -> "module:attribute" under ops.commands
COMMANDS: dict[str, str] = {
    "backup": "backup:backup",
    "bench": "bench:bench",
    "calendar": "calendar:calendar",
    "campaign": "compliance:campaign",
    "chaos": "chaos:chaos",
    "demo": "demo:demo",
    "dispatcher": "pipeline:dispatcher",
    "dlq": "dlq:dlq",
    "doctor": "doctor:doctor",
    "dr": "backup:dr",
    "eval": "eval:eval_group",
    "events": "events:events",
    "ingress": "ingress:ingress",
    "member": "member:member",
    "migrate": "migrate:migrate",
    "report": "report:report",
    "retention": "retention:retention",
    "sandbox": "sandbox:sandbox",
    "scheduler": "pipeline:scheduler",
    "soak": "soak:soak",
    "status": "status:status",
    "tenant": "tenant:tenant",
    "up": "up:up",
    "worker": "pipeline:worker",
}


def load(name: str) -> click.Command:
    """The command called ``name`` (a KeyError for a name that is not one)."""
    module, attribute = COMMANDS[name].split(":")
    command = getattr(importlib.import_module(f"ops.commands.{module}"), attribute)
    if not isinstance(command, click.Command) or command.name != name:
        raise TypeError(f"ops.commands.{module}:{attribute} is not the command {name!r}")
    return command
