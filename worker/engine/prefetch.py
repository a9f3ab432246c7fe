"""Prepare the next chunk of work in a background thread while the current chunk is scored.

Chunks grow geometrically (``FIRST_CHUNK_TEXTS``, twice that, ...) so scoring starts after a small first
chunk while later chunks stay large enough for well-sorted batches. Preparation (rendering and tokenising,
which the tokenizers library runs outside the GIL) overlaps with the model's forward passes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Final, TypeVar

Item = TypeVar("Item")
Prepared = TypeVar("Prepared")

FIRST_CHUNK_TEXTS: Final = 256


def chunk_by_texts(sizes: Sequence[int], first: int = FIRST_CHUNK_TEXTS) -> list[range]:
    """Consecutive ranges over items of ``sizes`` texts each: about ``first``, 2x, 4x... texts a chunk."""
    chunks: list[range] = []
    start = texts = 0
    target = max(1, first)
    for index, size in enumerate(sizes):
        texts += size
        if texts >= target:
            chunks.append(range(start, index + 1))
            start, texts, target = index + 1, 0, target * 2
    if start < len(sizes):
        chunks.append(range(start, len(sizes)))
    return chunks


def prefetched(
    items: Sequence[Item], chunks: Sequence[range], prepare: Callable[[Sequence[Item]], Prepared]
) -> Iterator[tuple[range, Prepared]]:
    """Each chunk with ``prepare`` applied, in order; chunk k+1 is prepared while the caller works on chunk k.

    An exception from ``prepare`` is raised where that chunk is consumed; a chunk not yet started when the
    caller stops (or fails) is cancelled.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch") as pool:
        pending: Future[Prepared] | None = None
        try:
            for index, chunk in enumerate(chunks):
                current = pending or pool.submit(prepare, items[chunk.start : chunk.stop])
                following = chunks[index + 1] if index + 1 < len(chunks) else None
                pending = None
                if following is not None:
                    pending = pool.submit(prepare, items[following.start : following.stop])
                yield chunk, current.result()
        finally:
            if pending is not None:
                pending.cancel()
