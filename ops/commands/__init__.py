"""Every `nmc` subcommand, one module each; ``ALL`` is what the CLI registers."""

from ops.commands.bench import bench
from ops.commands.dlq import dlq
from ops.commands.events import events
from ops.commands.ingress import ingress
from ops.commands.migrate import migrate
from ops.commands.pipeline import dispatcher, scheduler, worker
from ops.commands.up import up
from ops.commands.sandbox import sandbox

ALL = [bench, dispatcher, dlq, events, ingress, migrate, scheduler, up, worker, sandbox]
