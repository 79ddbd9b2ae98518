"""`nmc sandbox`: the local phone network (Twilio, Clerk JWKS and Stripe stand-ins) on one threaded process."""

from __future__ import annotations

from pathlib import Path

import click

from ops.context import get_settings


@click.command()
@click.option("--bind", default=None, metavar="HOST:PORT", help="Address to listen on (default: SANDBOX_BIND).")
@click.pass_context
def sandbox(ctx: click.Context, bind: str | None) -> None:
    """Serve the sandbox that the twilio SDK, Clerk JWKS clients and Stripe tests talk to."""
    from ops.logging import configure_logging
    from ops.preflight import require_free_address
    from ops.sandbox import create_sandbox_app, refuse_live_mode
    from ops.sandbox.clerk import load_or_create_key
    from ops.serve import serve

    settings = get_settings(ctx)
    # Here, in the parent, so the refusal is one line and not a gunicorn worker that fails to boot.
    refuse_live_mode(settings)
    configure_logging(settings, "sandbox")
    require_free_address(bind or settings.sandbox_bind)
    # The Clerk stand-in's key, made (or read) before forking, so an unwritable place is one line, not a worker
    # that fails to boot.
    key_path = Path(settings.sandbox_key_path)
    try:
        load_or_create_key(key_path)
    except OSError as error:
        raise click.ClickException(
            f"cannot keep the sandbox's signing key at {key_path}: {error.strerror}"
            " (set SANDBOX_KEY_PATH or DATA_DIR to a writable place)"
        ) from None
    # ONE worker: messages, faults and the block list live in this process's memory.
    serve(
        lambda: create_sandbox_app(settings),
        bind=bind or settings.sandbox_bind,
        workers=1,
        threads=settings.sandbox_threads,
        name="nmc-sandbox",
        log_level=settings.log_level,
    )
