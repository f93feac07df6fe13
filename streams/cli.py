"""The ``geomon`` command: broker, worker, ingest, classify, alerts tail, demo."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from streams.settings import Settings, get_settings

app = typer.Typer(help="geomon: a geopolitics monitor on Kafka.", no_args_is_help=True)
alerts_app = typer.Typer(help="Subscribe to alerts.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")
replay_app = typer.Typer(help="Replay a time range through today's coder and rules.")
app.add_typer(replay_app, name="replay")
err = Console(stderr=True)
out = Console()

log = logging.getLogger("geomon")


def _setup_logging(settings: Settings) -> None:
    from streams.logsafe import install_redaction, secret_values

    install_redaction(secret_values(settings))  # libraries log configs (kafka-python at DEBUG)
    level = {"warn": "WARNING", "crit": "CRITICAL"}.get(
        settings.log_level, settings.log_level.upper()
    )
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@app.command()
def broker(
    kind: Annotated[str, typer.Option(help="kafka (Apache Kafka jars), tansu, or auto")] = "auto",
    port: Annotated[int | None, typer.Option(help="Port (default: a free one)")] = None,
    data: Annotated[Path | None, typer.Option(help="Keep data here (default: temporary)")] = None,
) -> None:
    """Run an embedded broker in the foreground and print its bootstrap address."""
    from streams.broker import EmbeddedBroker

    _setup_logging(get_settings())
    b = EmbeddedBroker(kind=kind, port=port, data_dir=data)  # type: ignore[arg-type]
    # Block the stop signals first, so sigwait receives them and cleanup below runs.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    b.start()
    out.print(f"{b.url}")
    err.print(
        f"[green]{b.kind} broker ready[/] at {b.bootstrap}; Ctrl-C stops it. "
        f"Use: GEOMON_BROKER={b.url}"
    )
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        b.stop()


def prepare_topics(settings: Settings) -> None:
    """Create every topic the worker uses, with explicit partition counts."""
    from alerts.watchlist import load_watchlist
    from streams.topics import ensure_topics, topic_specs

    wl = load_watchlist(settings.config_dir / "watchlist.yaml")
    ensure_topics(settings, topic_specs(settings, list(wl.pairs)))


@app.command()
def worker() -> None:
    """Run a Faust worker: normalize, code and alert agents, and /metrics."""
    import faust

    from alerts.ledger import LedgerFollower, SentLedger
    from streams.app import create_pipeline
    from streams.offload import Offload
    from streams.topics import ALERTS

    settings = get_settings()
    _setup_logging(settings)
    prepare_topics(settings)
    ledger = SentLedger()
    follower = LedgerFollower(settings, settings.topic(ALERTS), ledger)
    follower.start()
    offload = None
    if settings.coder_processes > 0:
        offload = Offload(settings.config_dir, settings.max_article_bytes, settings.coder_processes)
        pids = offload.start()  # each loads the lexicons now, not on the first article
        log.info("coder processes started: %s", pids)
    pipe = create_pipeline(settings, ledger=ledger, offload=offload)
    if offload is None and pipe.coder is not None:
        pipe.coder()  # load the lexicons now, not inside the event loop on the first article
    w = faust.Worker(pipe.app, loglevel=settings.log_level, quiet=True)
    try:
        w.execute_from_commandline()
    finally:
        follower.stop()
        if offload is not None:
            offload.close()


@app.command()
def ingest(
    paths: Annotated[
        list[str] | None, typer.Argument(help="Files, folders, or - for stdin")
    ] = None,
    topic: Annotated[str | None, typer.Option(help="Topic (default: the articles topic)")] = None,
    feed: Annotated[
        list[str] | None,
        typer.Option(help="RSS/Atom feed URL to poll; the arguments after it are feeds too"),
    ] = None,
    interval: Annotated[
        float | None, typer.Option(min=1.0, help="With --feed: poll every S seconds until Ctrl-C")
    ] = None,
    fetch: Annotated[
        bool, typer.Option("--fetch", help="With --feed: text from the linked page")
    ] = False,
    state: Annotated[
        Path | None, typer.Option(help="With --feed: seen-set file (default: data dir)")
    ] = None,
) -> None:
    """Produce articles (JSON, JSONL, text files, folders, stdin, feeds) to the articles topic."""
    from kafka import KafkaProducer
    from rich.progress import Progress

    from streams.ingest import expand, read_path, read_stdin
    from streams.topics import ARTICLES

    settings = get_settings()
    _setup_logging(settings)
    name = topic or settings.topic(ARTICLES)
    if feed:
        urls = [*feed, *(paths or [])]
        if not all(u.startswith(("http://", "https://")) for u in urls):
            err.print("[red]with --feed, every argument is a feed URL (http or https)[/]")
            raise typer.Exit(2)
        _ingest_feeds(settings, urls, name, interval, fetch, state)
        return
    if not paths:
        err.print("[red]give files, folders, - (stdin) or --feed URL…[/]")
        raise typer.Exit(2)
    producer = KafkaProducer(acks="all", linger_ms=5, **settings.kafka_python_config())
    sent = 0
    try:
        if paths == ["-"]:
            futures = [
                producer.send(name, key=m.key, value=m.value, timestamp_ms=m.timestamp_ms)
                for m in read_stdin()
            ]
        else:
            files = expand(paths)
            futures = []
            with Progress(console=err, transient=True) as progress:
                task = progress.add_task("ingest", total=len(files))
                for f in files:
                    for m in read_path(f):
                        futures.append(
                            producer.send(
                                name, key=m.key, value=m.value, timestamp_ms=m.timestamp_ms
                            )
                        )
                    progress.advance(task)
        producer.flush()
        sent = sum(1 for fut in futures if fut.succeeded())
    finally:
        producer.close()
    err.print(f"sent {sent} article(s) to {name}")
    if sent < len(futures):
        raise typer.Exit(1)


def _ingest_feeds(
    settings: Settings,
    urls: list[str],
    topic: str,
    interval: float | None,
    fetch: bool,
    state: Path | None,
) -> None:
    """Poll feeds once (exit 1 if any failed) or every `interval` seconds until Ctrl-C."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    from streams.feeds import FeedPoller, FeedResult, SeenStore, default_state_path, poll_forever

    def report(results: list[FeedResult]) -> None:
        for r in results:
            err.print(r.describe(), style=None if r.ok else "red", markup=False, soft_wrap=True)

    try:
        producer = KafkaProducer(acks="all", linger_ms=5, **settings.kafka_python_config())
    except KafkaError as exc:
        err.print(f"cannot reach the broker {settings.broker}: {exc}", style="red", markup=False)
        raise typer.Exit(1) from exc
    store = SeenStore(state or default_state_path(settings))
    try:
        poller = FeedPoller(producer, topic, store, fetch_pages=fetch)
        if interval is None:
            results = poller.poll(urls)
            report(results)
            if not all(r.ok for r in results):
                raise typer.Exit(1)
        else:
            err.print(f"polling {len(urls)} feed(s) every {interval:g} s; Ctrl-C stops")
            poll_forever(poller, urls, interval, report)
    except KeyboardInterrupt:
        err.print("stopped")
    finally:
        producer.close()
        store.close()


@app.command()
def archive(
    topic: Annotated[str, typer.Option(help="Topic to archive (full name)")],
    out: Annotated[Path, typer.Option(help="Archive folder (OUT/<topic>/<day>.jsonl.gz)")],
    until_end: Annotated[
        bool, typer.Option("--until-end", help="Stop at the end offsets seen at start")
    ] = False,
) -> None:
    """Write a topic's records to one gzip JSONL file per UTC day; resumes where it stopped."""
    from streams.archive import ArchiveError, archive_topic

    settings = get_settings()
    _setup_logging(settings)
    try:
        summary = archive_topic(settings, topic, out, until_end=until_end)
    except ArchiveError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        err.print("stopped")
        return
    days = ", ".join(f"{d} ({n})" for d, n in sorted(summary.days.items()))
    err.print(f"archived {summary.records} record(s) of {topic} to {summary.folder}: {days}")


@app.command()
def classify(
    paths: Annotated[list[str], typer.Argument(help="Article files or folders")],
    as_json: Annotated[bool, typer.Option("--json", help="One CodedEvent JSON per line")] = False,
) -> None:
    """Code articles offline (no broker) and print their events."""
    from rich.table import Table

    from streams.coding.coder import Coder
    from streams.ingest import expand, read_path
    from streams.normalize import Rejection, normalize

    settings = get_settings()
    _setup_logging(settings)
    coder = Coder.from_config_dir(settings.config_dir)
    table = Table("pair", "src→tgt", "cameo", "conf", "evidence")
    failed = 0
    for f in expand(paths):
        for m in read_path(f, stamp=False):
            article = normalize(m.value, settings.max_article_bytes)
            if isinstance(article, Rejection):
                err.print(f"[red]{m.origin}[/]: {article.reason.value}: {article.detail}")
                failed += 1
                continue
            for ev in coder.code(article):
                if as_json:
                    sys.stdout.write(ev.model_dump_json() + "\n")
                else:
                    table.add_row(
                        ev.pair,
                        f"{ev.source}→{ev.target}",
                        ev.cameo,
                        f"{ev.confidence:.2f}",
                        ev.evidence.sentence[:90],
                    )
    if not as_json:
        out.print(table)
    if failed:
        raise typer.Exit(2)


@app.command("eval")
def eval_command(
    paths: Annotated[list[Path], typer.Argument(help="Labeled JSONL files (../shared/eval)")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout")] = False,
) -> None:
    """Score the coder on labeled sets, per file and per language, beside a baseline."""
    from rich.table import Table

    from streams.coding.coder import Coder
    from streams.evaluate import METRICS, evaluate_files

    settings = get_settings()
    _setup_logging(settings)
    coder = Coder.from_config_dir(settings.config_dir)
    result = evaluate_files(paths, coder.code)
    if as_json:
        for scores in result["files"].values():
            scores.pop("confusion", None)
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        return

    def fmt(v: Any) -> str:
        return "–" if v is None else f"{v:.3f}"

    for name, scores in result["files"].items():
        table = Table("measure", "geomon", "baseline", title=f"{name} ({scores['rows']} rows)")
        for m in METRICS:
            table.add_row(m, fmt(scores[m]), fmt(scores["baseline"][m]))
        out.print(table)
        pairs = scores["confusion"]
        if pairs:
            labels = sorted({g for g, _ in pairs} | {p for _, p in pairs})
            cm = Table("gold \\ pred", *labels, title="roots of matched pairs")
            for g in labels:
                cm.add_row(
                    g, *[str(sum(1 for a, b in pairs if a == g and b == p) or "") for p in labels]
                )
            out.print(cm)


def _print_alert(alert: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(alert, ensure_ascii=False) + "\n")
        sys.stdout.flush()
        return
    from rich.table import Table

    rule = alert.get("rule", {})
    table = Table(show_header=False, box=None, padding=(0, 1))
    table.add_row(
        f"[bold]{alert.get('pair')}[/]",
        f"[yellow]{alert.get('severity')}[/]",
        f"{rule.get('name')} v{alert.get('version')}",
        f"{len(alert.get('sources') or [])} source(s)",
        str(alert.get("last_seen")),
    )
    out.print(table)
    out.print(f"  {rule.get('reason')}\n  [dim]{alert.get('summary')}[/]")


@alerts_app.command("tail")
def alerts_tail(
    pair: Annotated[str | None, typer.Option(help="Only this pair, e.g. IRN-PRK")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One Alert JSON per line")] = False,
    since: Annotated[
        str | None, typer.Option(help="Start this long ago: 30m, 2h, 7d (default: oldest)")
    ] = None,
    from_beginning: Annotated[bool, typer.Option(help="Start at the oldest alert")] = True,
    max_alerts: Annotated[int | None, typer.Option(help="Stop after this many")] = None,
    timeout: Annotated[float | None, typer.Option(help="Stop after this many idle s")] = None,
) -> None:
    """Follow the alert topics and print each alert."""
    from alerts.tail import follow_alerts, parse_since
    from streams.topics import ALERTS, pair_alert_topic

    settings = get_settings()
    _setup_logging(settings)
    name = (
        pair_alert_topic(settings, "-".join(sorted(pair.upper().split("-"))))
        if pair
        else settings.topic(ALERTS)
    )
    try:
        window = parse_since(since) if since else None
    except ValueError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    alerts = follow_alerts(settings, name, from_beginning, timeout, since=window)
    for n, alert in enumerate(alerts, start=1):
        _print_alert(alert, as_json)
        if max_alerts and n >= max_alerts:
            break


@app.command()
def demo(
    duration: Annotated[float | None, typer.Option(help="Stop after S seconds")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Alerts as JSON lines on stdout")] = False,
    kind: Annotated[str, typer.Option(help="Embedded broker: kafka, tansu or auto")] = "auto",
) -> None:
    """Start a broker and a worker, feed the samples, print alerts as they arrive."""
    from alerts.tail import follow_alerts
    from streams.broker import EmbeddedBroker, free_port, stop_process
    from streams.topics import ALERTS

    base = get_settings()
    _setup_logging(base)
    deadline = time.monotonic() + duration if duration else None
    with tempfile.TemporaryDirectory(prefix="geomon-demo-") as tmp:
        b = EmbeddedBroker(kind=kind)  # type: ignore[arg-type]
        err.print("starting the embedded broker …")
        b.start()
        env = {
            "GEOMON_LOG_LEVEL": "warn",
            **os.environ,
            "GEOMON_BROKER": b.url,
            "GEOMON_WEB_PORT": str(free_port()),
            "GEOMON_DATA_DIR": str(Path(tmp) / "data"),
        }
        settings = base.model_copy(update={"broker": b.url})
        worker_proc: subprocess.Popen[bytes] | None = None
        try:
            prepare_topics(settings)
            err.print(f"broker {b.kind} at {b.bootstrap}; starting a worker …")
            worker_proc = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "worker"],
                env=env,
                stdout=sys.stderr,
                stderr=sys.stderr,
            )
            subprocess.run(
                [sys.executable, "-m", "streams.cli", "ingest", str(settings.samples_dir)],
                env=env,
                stdout=sys.stderr,
                stderr=sys.stderr,
                check=True,
            )
            err.print("[green]samples sent[/]; alerts follow (Ctrl-C stops)")
            for alert in follow_alerts(
                settings,
                settings.topic(ALERTS),
                True,
                None,
                deadline=deadline,
                alive=lambda: worker_proc.poll() is None,
            ):
                _print_alert(alert, as_json)
            if worker_proc.poll() is not None:
                err.print(f"[red]worker exited with {worker_proc.returncode}[/]")
                raise typer.Exit(1)
        except KeyboardInterrupt:
            err.print("stopping …")
        finally:
            if worker_proc is not None:
                stop_process(worker_proc)
            b.stop()


@replay_app.callback(invoke_without_command=True)
def replay(
    ctx: typer.Context,
    start: Annotated[str | None, typer.Option("--from", help="Start (ISO 8601, inclusive)")] = None,
    end: Annotated[str | None, typer.Option("--to", help="End (ISO 8601, exclusive)")] = None,
    topic: Annotated[str | None, typer.Option(help="Read this topic (default: articles)")] = None,
    files: Annotated[
        list[str] | None, typer.Option(help="Read archives/article files matching this glob")
    ] = None,
    run: Annotated[str | None, typer.Option(help="Run name (default: range + hash)")] = None,
    watchlist: Annotated[Path | None, typer.Option(help="Watch list (default: configs')")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Summary as one JSON object")] = False,
) -> None:
    """Replay [--from, --to) into geomon.replay.<run>.events/.alerts (never the live topics)."""
    if ctx.invoked_subcommand is not None:
        return
    from alerts.watchlist import WatchlistError, load_watchlist
    from streams import replay as R
    from streams.coding.coder import Coder
    from streams.topics import ARTICLES

    settings = get_settings()
    _setup_logging(settings)
    if start is None or end is None or (topic and files):
        err.print("[red]give --from and --to, and --topic or --files (not both)[/]")
        raise typer.Exit(2)
    source = R.ReplaySource(topic=None if files else topic or settings.topic(ARTICLES), files=files)
    wl_path = watchlist or settings.config_dir / "watchlist.yaml"
    try:
        t0, t1 = R.parse_time(start), R.parse_time(end)
        wl = load_watchlist(wl_path)
        fingerprint = R.config_fingerprint(settings.config_dir, wl_path)
        name = R.check_run_name(run or R.default_run_name(t0, t1, source.describe(), fingerprint))
        err.print(f"replay run {name}")
        started = time.monotonic()
        with R.progress_hooks(err) as hooks:
            coder = lambda: Coder.from_config_dir(settings.config_dir)  # noqa: E731
            summary = R.run_replay(settings, source, t0, t1, name, coder, wl, hooks)
    except (R.ReplayError, WatchlistError, FileNotFoundError) as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    err.print(f"replayed in {time.monotonic() - started:.1f} s")
    if as_json:
        sys.stdout.write(json.dumps(summary.as_json(), ensure_ascii=False) + "\n")
    else:
        topics = (R.topic_name(settings, name, "events"), R.topic_name(settings, name, "alerts"))
        R.print_summary(summary, out, topics)


@replay_app.command("diff")
def replay_diff(
    run_a: Annotated[str, typer.Argument(help="The run before")],
    run_b: Annotated[str, typer.Argument(help="The run after")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout")] = False,
) -> None:
    """Alerts added, removed and changed (severity, rule numbers, sources) from RUN_A to RUN_B."""
    from streams import replay as R

    settings = get_settings()
    _setup_logging(settings)
    try:
        changes = R.diff_alerts(
            R.read_run_alerts(settings, run_a), R.read_run_alerts(settings, run_b)
        )
    except R.ReplayError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    if as_json:
        sys.stdout.write(json.dumps(R.diff_json(run_a, run_b, changes), ensure_ascii=False) + "\n")
    else:
        R.print_diff(run_a, run_b, changes, out)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
