"""Task helpers shared by every layer that owns background tasks."""

from __future__ import annotations

import asyncio
import contextlib


async def cancel_and_wait(task: asyncio.Task[object] | None) -> None:
    """Cancel ``task`` and wait for it to finish, without swallowing our own cancellation.

    The child's ``CancelledError`` is expected and absorbed; if the caller itself is being
    cancelled while it waits, that cancellation propagates. Any other exception of the child has
    already been reported by the child and is not raised again here.
    """
    if task is None or task.done():
        if task is not None and not task.cancelled():
            task.exception()  # mark a finished task's exception as retrieved
        return
    task.cancel()
    try:
        await asyncio.wait({task})
    except asyncio.CancelledError:
        # We were cancelled while waiting: let the child finish cancelling, then propagate.
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        raise
    if not task.cancelled():
        task.exception()
