"""Several encoded texts as one padding-free row: ids back to back, positions restarting at each text.

A text whose first token is a duplicated BOS (``Encoded.mask_first``) leaves that token out and starts at
position 1, which is what masking it in a padded row amounts to: no other token sees it and the rest keep
their positions. Each text's reward is read where a sequence classifier pools it: at its rightmost token that
is not the pad token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from worker.engine.formatting import Encoded


@dataclass(frozen=True, slots=True)
class PackedRow:
    input_ids: torch.Tensor  # (1, total) int64
    position_ids: torch.Tensor  # (1, total) int64
    boundaries: torch.Tensor  # (texts + 1,) int32: where each text starts, then the total
    longest: int  # tokens of the longest text in the row
    scored: torch.Tensor  # (texts,) int64: the position each text's reward is read from

    def to(self, device: torch.device) -> PackedRow:
        return PackedRow(
            self.input_ids.to(device, non_blocking=True),
            self.position_ids.to(device, non_blocking=True),
            self.boundaries.to(device, non_blocking=True),
            self.longest,
            self.scored.to(device, non_blocking=True),
        )

    @property
    def attention_kwargs(self) -> dict[str, object]:
        """The keyword arguments transformers' packed attention functions read."""
        return {
            "cu_seq_lens_q": self.boundaries,
            "cu_seq_lens_k": self.boundaries,
            "max_length_q": self.longest,
            "max_length_k": self.longest,
        }


def pack(items: Sequence[Encoded], pad_id: int) -> PackedRow:
    if not items:
        raise ValueError("nothing to pack")
    ids: list[int] = []
    positions: list[int] = []
    boundaries = [0]
    scored: list[int] = []
    longest = 0
    for item in items:
        kept = item.ids[1:] if item.mask_first else item.ids
        if not kept:
            raise ValueError("an encoded text has no tokens to score")
        first = 1 if item.mask_first else 0
        start = len(ids)
        ids.extend(kept)
        positions.extend(range(first, first + len(kept)))
        boundaries.append(len(ids))
        scored.append(start + _pooled_index(kept, pad_id))
        longest = max(longest, len(kept))
    return PackedRow(
        torch.tensor([ids], dtype=torch.long),
        torch.tensor([positions], dtype=torch.long),
        torch.tensor(boundaries, dtype=torch.int32),
        longest,
        torch.tensor(scored, dtype=torch.long),
    )


def _pooled_index(ids: Sequence[int], pad_id: int) -> int:
    """The rightmost token that is not the pad token (the first token when all are), as the heads pool."""
    for index in range(len(ids) - 1, -1, -1):
        if ids[index] != pad_id:
            return index
    return 0
