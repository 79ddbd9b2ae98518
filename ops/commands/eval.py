"""`nmc eval conversations`: the scripted caller conversations through the configured engine, and their figures."""

from __future__ import annotations

import time
from contextlib import ExitStack

import click
from pydantic import SecretStr

from db.settings import Settings
from domain.conversations.engine import make_engine
from domain.conversations.engine.eval import Report, SuiteError, evaluate
from ops.context import echo_json, get_settings
from ops.sandbox.chat_completions import running_chat_completions


@click.group(name="eval")
def eval_group() -> None:
    """Measure the conversation engine on the built-in evaluation suite."""


@eval_group.command()
@click.option(
    "--engine",
    "engine_name",
    type=click.Choice(["builtin", "openai"]),
    default="builtin",
    show_default=True,
    help="openai: the LLM engine (built-in fallback on errors) against AI_BASE_URL / AI_MODEL; with AI_BASE_URL "
    "empty, the sandbox's chat-completions stand-in, run for the evaluation on a loopback port.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures and every failed conversation as JSON.")
@click.option("--verbose", "-v", is_flag=True, help="Also print each failed conversation's transcript.")
@click.pass_context
def conversations(ctx: click.Context, engine_name: str, as_json: bool, verbose: bool) -> None:
    """Pass rate, ungrounded claims (must be 0) and median caller texts to a booking over every scripted caller
    conversation, run against an in-memory calendar on a fixed clock."""
    settings = get_settings(ctx)
    started = time.monotonic()
    with ExitStack() as stack:
        if engine_name == "openai" and not settings.ai_base_url and not settings.live_mode:
            # The local default: the sandbox's stand-in, here in-process (the evaluation touches no database).
            url = stack.enter_context(running_chat_completions(settings.ai_key))
            settings = settings.model_copy(update={"ai_base_url": url, "ai_api_key": SecretStr(settings.ai_key)})
        report = _evaluate(settings, engine_name)
    seconds = time.monotonic() - started
    if as_json:
        echo_json(report.to_json())
        return
    median = report.median_texts_to_booking
    click.echo(f"engine: {engine_name}")
    click.echo(f"conversations: {report.total}  passed: {report.passed}  pass rate: {report.pass_rate:.1%}")
    click.echo(f"ungrounded claims: {report.ungrounded}")
    click.echo(f"median caller texts to a booking: {'-' if median is None else f'{median:g}'}")
    if engine_name != "builtin":
        click.echo(f"model: {settings.ai_model} at {settings.ai_api_url}")
        click.echo(f"turns answered by the built-in fallback: {report.fallback_turns} of {report.turns}")
        if report.fallback_turns:
            click.echo(
                f"warning: these figures are partly the built-in engine's; is the model at {settings.ai_api_url} up?",
                err=True,
            )
    click.echo(f"wall time: {seconds:.1f} s")
    for outcome in report.failures():
        click.echo(f"FAIL {outcome.id}: {'; '.join(outcome.failures)}")
        if verbose:
            for text, reply in outcome.transcript:
                click.echo(f"    > {text}")
                click.echo(f"    < {reply}")


def _evaluate(settings: Settings, engine_name: str) -> Report:
    engine = make_engine(settings.model_copy(update={"ai_provider": engine_name}))
    try:
        return evaluate(engine, engine_name)
    except SuiteError as error:
        raise click.ClickException(f"evaluation suite: {error}") from None
    finally:
        close = getattr(getattr(engine, "inner", None), "close", None)
        if callable(close):
            close()
