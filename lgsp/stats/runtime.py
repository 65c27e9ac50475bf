"""The hub's side of the statistics: the assessment process and writing its results.

Started by the hub's lifespan when ``LGSP_STATS`` is on (the default). The assessment
process (`lgsp.stats.assessor`) reads documents and prints results; this side reads them
from its pipe and stores them in batches, in a transaction of their own (one or two a
second at most), through the hub's write sessions. Nothing here runs on the request path.
If the process dies it is started again after a pause; at stop it is terminated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from lgsp.settings import HubSettings

from .assessor import DATABASE_URL_ENV, Result
from .models import Assessment

log = logging.getLogger(__name__)

_FLUSH_SIZE: Final = 64
_FLUSH_SECONDS: Final = 0.5
_RESTART_SECONDS: Final = 5.0
_STOP_SECONDS: Final = 5.0
# Lowers the priority before the heavy imports (SQLAlchemy, pyHanko: a second of CPU), which
# would otherwise compete with a starting hub; then runs the module as ``python -m`` would.
_BOOTSTRAP: Final = """\
import os
try:
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
except (AttributeError, OSError):
    os.setpriority(os.PRIO_PROCESS, 0, 19)
import runpy
runpy.run_module("lgsp.stats.assessor", run_name="__main__", alter_sys=True)
"""
_INSERTS: Final = {
    "sqlite": sqlite.insert(Assessment).on_conflict_do_nothing(index_elements=["package_id"]),
    "postgresql": postgresql.insert(Assessment).on_conflict_do_nothing(
        index_elements=["package_id"]
    ),
}


async def store_results(
    writes: async_sessionmaker[AsyncSession], results: list[Result], *, at: datetime
) -> None:
    """Store assessment results in one transaction; results already stored are ignored."""
    if not results:
        return
    async with writes() as session:
        dialect = session.get_bind().dialect.name
        await session.exec(
            _INSERTS[dialect],
            params=[
                {
                    "package_id": r.package_id,
                    "personal": r.personal,
                    "agency": r.agency,
                    "recipients": r.recipients,
                    "due_at": r.due_at,
                    "assessed_at": at,
                    "problem": r.problem,
                }
                for r in results
            ],
        )
        await session.commit()


class StatsRuntime:
    """Runs the hub's assessment process and stores what it finds."""

    def __init__(
        self,
        settings: HubSettings,
        writes: async_sessionmaker[AsyncSession],
        *,
        python: str = sys.executable,
    ) -> None:
        self.settings = settings
        self._writes = writes
        self._python = python
        self._process: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._stopped = asyncio.Event()
        self.stored = 0

    @property
    def enabled(self) -> bool:
        """Whether statistics are on (``LGSP_STATS``)."""
        return self.settings.stats

    @property
    def pid(self) -> int | None:
        """The assessment process's pid while it runs."""
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the assessment process and its reader (nothing when statistics are off)."""
        if self.enabled and self._task is None:
            self._task = asyncio.create_task(self._supervise(), name="stats-assessor")

    async def stop(self) -> None:
        """Terminate the assessment process and store what it already printed."""
        self._stopping = True
        self._stopped.set()
        await self._terminate()
        task, self._task = self._task, None
        if task is None:
            return
        # The reader ends at the pipe's end and stores what it holds; then nothing is left.
        try:
            await asyncio.wait_for(asyncio.shield(task), _STOP_SECONDS)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        except Exception:
            log.exception("the assessment reader failed")

    def _command(self) -> list[str]:
        command = [
            self._python,
            "-c",
            _BOOTSTRAP,
            "--hub-id",
            self.settings.hub_id,
            "--keys",
            str(Path(self.settings.keys_dir).resolve()),
            "--parent-pid",
            str(os.getpid()),
        ]
        if self.settings.database_schema:
            command += ["--schema", self.settings.database_schema]
        return command

    async def _supervise(self) -> None:
        while not self._stopping:
            env = dict(os.environ)
            # In the environment, not the command line: ``ps`` shows arguments to everyone.
            env[DATABASE_URL_ENV] = self.settings.resolved_database_url()
            try:
                self._process = await asyncio.create_subprocess_exec(
                    *self._command(),
                    stdout=asyncio.subprocess.PIPE,
                    stdin=asyncio.subprocess.DEVNULL,
                    env=env,
                )
            except OSError:
                log.exception("could not start the assessment process")
                await self._pause()
                continue
            log.info("%s: assessment process %d started", self.settings.hub_id, self._process.pid)
            try:
                await self._read(self._process)
            finally:
                code = await self._process.wait() if self._process.returncode is None else None
                code = self._process.returncode if code is None else code
            if self._stopping:
                return
            log.warning("assessment process exited (%s); starting it again", code)
            await self._pause()

    async def _pause(self) -> None:
        """Wait before starting the process again; a stop ends the wait at once."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), _RESTART_SECONDS)

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        if process.stdout is None:
            raise RuntimeError("the assessment process has no pipe")
        pending: list[Result] = []
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        try:
            while True:
                timeout = None if deadline is None else max(0.0, deadline - loop.time())
                try:
                    line = await asyncio.wait_for(process.stdout.readline(), timeout)
                except TimeoutError:
                    line = None
                if line == b"":
                    break  # the process ended
                if line:
                    try:
                        pending.append(Result.from_line(line))
                    except (ValueError, KeyError, TypeError):
                        log.warning("assessment process printed %r", line[:200])
                    if deadline is None:
                        deadline = loop.time() + _FLUSH_SECONDS
                if pending and (
                    len(pending) >= _FLUSH_SIZE
                    or (deadline is not None and loop.time() >= deadline)
                ):
                    await self._flush(pending)
                    pending = []
                    deadline = None
        finally:
            if pending:
                await self._flush(pending)

    async def _flush(self, results: list[Result]) -> None:
        try:
            await store_results(self._writes, results, at=datetime.now(UTC))
            self.stored += len(results)
        except Exception:
            # The documents stay unassessed and are read again by the next round.
            log.exception("could not store %d assessment results", len(results))

    async def _terminate(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), _STOP_SECONDS)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


def runtime_of(state: Any) -> StatsRuntime | None:
    """The app's `StatsRuntime` (``app.state.stats``), if the hub started one."""
    runtime = getattr(state, "stats", None)
    return runtime if isinstance(runtime, StatsRuntime) else None
