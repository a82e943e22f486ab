# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An ordered map over two CPUs: a forked child works the tail of the list while the parent works the head.

Parsing YAML is most of an offline check and holds the GIL, so threads do not
help; a second process does. Results come back in list order, so what the
caller builds from them is the same as from a serial run. Results travel as
marshal (several times faster to load than pickle) and fall back to pickle
for the rare value marshal cannot carry (a YAML timestamp). If the child
fails in any way, the parent works the rest itself.
"""

from __future__ import annotations

import marshal
import multiprocessing
import os
import pickle
import queue
import threading
from typing import Any, Callable, Iterator, List, Optional, Sequence, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

# Below this much work, starting a process costs more than it saves.
MIN_PARALLEL_WEIGHT = 4 * 1024 * 1024
# The parent also consumes every result, so it takes the smaller share of the work.
PARENT_SHARE = 0.35
_MARSHAL, _PICKLE = b"m", b"p"


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _can_fork() -> bool:
    return usable_cpus() > 1 and "fork" in multiprocessing.get_all_start_methods()


def _encode(value: Any) -> bytes:
    try:
        return _MARSHAL + marshal.dumps(value)
    except ValueError:
        return _PICKLE + pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _decode(payload: bytes) -> Any:
    if payload[:1] == _MARSHAL:
        return marshal.loads(payload[1:])
    return pickle.loads(payload[1:])


def _deliver(outbox: "queue.Queue[Optional[bytes]]", sender: Any) -> None:
    for payload in iter(outbox.get, None):
        sender.send_bytes(payload)
    sender.close()


def _work(function: Callable[[Any], Any], to_plain: Callable[[Any], Any], items: Sequence[Any], sender: Any) -> None:
    """The child: results go out through a thread, so a full pipe (the parent is busy) never stalls the work."""
    outbox: "queue.Queue[Optional[bytes]]" = queue.Queue()
    courier = threading.Thread(target=_deliver, args=(outbox, sender))
    courier.start()
    for item in items:
        outbox.put(_encode(to_plain(function(item))))
    outbox.put(None)
    courier.join()


def ordered_map(function: Callable[[Item], Result], items: List[Item], weights: Sequence[int],
                to_plain: Callable[[Result], Any], from_plain: Callable[[Any], Result]) -> Iterator[Result]:
    """``map(function, items)`` in order; the tail runs in a child when the work is worth it.

    ``to_plain``/``from_plain`` turn a result into builtin types and back (marshal carries nothing else).
    """
    total = sum(weights)
    if len(items) < 2 or total < MIN_PARALLEL_WEIGHT or not _can_fork():
        yield from map(function, items)
        return
    split, running = 1, weights[0]
    while split < len(items) - 1 and running < total * PARENT_SHARE:
        running += weights[split]
        split += 1
    head, tail = items[:split], items[split:]
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_work, args=(function, to_plain, tail, sender), daemon=True)
    child.start()
    sender.close()
    received = 0
    try:
        for item in head:
            yield function(item)
        for _item in tail:
            try:
                payload = receiver.recv_bytes()
            except (EOFError, OSError):
                break  # the child died: the parent works the rest below
            received += 1
            yield from_plain(_decode(payload))
        for item in tail[received:]:
            yield function(item)
    finally:
        receiver.close()
        if child.is_alive():
            child.terminate()
        child.join()
