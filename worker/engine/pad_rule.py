"""The pad token a sequence classifier is scored with: upstream's rule (rewardbench's run_rm.py).

A sequence-classification head reads each text at its rightmost token that is not the config's
``pad_token_id``. Upstream, when the tokenizer has no pad token, makes EOS the pad token of the tokenizer
*and* of the config, whatever the config said before; so a text ending in EOS is read one token earlier.
When only the config lacks one, it takes the tokenizer's. The published numbers follow this rule, so ours
do too, and the result records which case applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from worker.engine.errors import TokenizerLoadError


@dataclass(frozen=True, slots=True)
class PadChoice:
    pad_id: int  # what padded rows are filled with and what the head's pooling skips
    rule: str  # which case of the rule applied, in words (recorded with the result)
    saved_side: str  # the tokenizer's saved padding side


def apply_upstream_pad_rule(tokenizer: Any, config: Any) -> PadChoice:
    """Set the tokenizer's and the config's pad token as upstream does, and say what was done."""
    target = config.get_text_config() if hasattr(config, "get_text_config") else config
    saved_side = str(getattr(tokenizer, "padding_side", "right"))
    configured = target.pad_token_id
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token_id is None:
            raise TokenizerLoadError("the tokenizer has neither a pad nor an EOS token")
        tokenizer.pad_token = tokenizer.eos_token
        target.pad_token_id = tokenizer.eos_token_id
        replaced = (
            "" if configured in (None, target.pad_token_id) else f", replacing the config's {configured}"
        )
        rule = f"no pad token: EOS ({target.pad_token_id}) pads and is skipped by the head{replaced}"
    elif configured is None:
        target.pad_token_id = tokenizer.pad_token_id
        rule = f"the tokenizer's pad token ({target.pad_token_id}); the config named none"
    elif configured != tokenizer.pad_token_id:
        # Upstream pads with the tokenizer's token, which this head does not skip: its padded rows are read
        # at their padding, a number that depends on the batch. Each text is read at its own last
        # non-pad token here (what upstream gives the longest text of each batch).
        rule = (
            f"the config's pad_token_id ({configured}), which differs from the tokenizer's pad token "
            f"({tokenizer.pad_token_id}); texts are read at their last token that is not {configured}"
        )
    else:
        rule = f"the tokenizer's pad token ({configured}), which the config names too"
    return PadChoice(int(target.pad_token_id), rule, saved_side)
