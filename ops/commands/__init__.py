"""Every `nmc` subcommand, one module each; ``ALL`` is what the CLI registers."""

from ops.commands.bench import bench
from ops.commands.events import events
from ops.commands.migrate import migrate
from ops.commands.sandbox import sandbox

ALL = [bench, events, migrate, sandbox]
