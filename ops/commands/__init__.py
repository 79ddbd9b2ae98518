"""Every `nmc` subcommand, one module each; ``ALL`` is what the CLI registers."""

from ops.commands.backup import backup, dr
from ops.commands.bench import bench
from ops.commands.calendar import calendar
from ops.commands.chaos import chaos
from ops.commands.compliance import campaign
from ops.commands.demo import demo
from ops.commands.dlq import dlq
from ops.commands.doctor import doctor
from ops.commands.eval import eval_group
from ops.commands.events import events
from ops.commands.ingress import ingress
from ops.commands.member import member
from ops.commands.migrate import migrate
from ops.commands.pipeline import dispatcher, scheduler, worker
from ops.commands.report import report
from ops.commands.retention import retention
from ops.commands.sandbox import sandbox
from ops.commands.soak import soak
from ops.commands.status import status
from ops.commands.tenant import tenant
from ops.commands.up import up

ALL = [
    campaign,
    tenant,
    member,
    bench,
    calendar,
    chaos,
    demo,
    doctor,
    dispatcher,
    dlq,
    eval_group,
    events,
    ingress,
    migrate,
    scheduler,
    up,
    worker,
    sandbox,
    soak,
    report,
    retention,
    status,
    backup,
    dr,
]
