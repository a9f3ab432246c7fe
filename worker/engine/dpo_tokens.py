"""Texts and token ids a DPO model is scored on, split into prompt and response exactly as upstream does.

Upstream (``scripts/run_dpo.py`` with ``rewardbench/dpo.py::DPOInference.tokenize_row``, a copy of TRL's
DPO tokenisation) does this, quirks included; every step below reproduces one of them:

1. ``prompt`` is the chat template over the conversation alone (no generation prompt), ``text`` the template
   over the conversation plus the response. With a tokenizer template that is ``apply_chat_template``; without
   one FastChat's Tulu (``<|user|>\\n{content}\\n``), never with an EOS added to the text.
2. The response string is ``text.replace(prompt, "")``: every occurrence of the prompt is removed, so the
   response starts with the assistant header of the template (``<|assistant|>\\n``), which is scored too.
3. ``prompt + response`` and ``prompt`` are tokenised without special tokens; the response's ids are the
   full ids after the prompt's, one earlier when the last prompt token merged with the response
   (TRL's ``build_tokenized_answer``).
4. BOS is prepended to the prompt ids, even when the template already starts with BOS; EOS is appended
   to the response ids.
5. Truncation with max_length 2048, max_prompt_length 128, "keep_end": when a candidate's prompt plus the
   longest response of the example exceeds 2048, the prompt keeps its last 128 ids; when that is still too
   long, every response keeps its first 1920 ids (the appended EOS may be cut).
6. The reward sums the response tokens' log-probabilities (labels -100 over the prompt).

Upstream compares two responses; with k candidates (RewardBench 2) the "longest response" of step 5 is the
longest of all k, which is upstream's rule when k = 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from worker.engine.errors import TokenizerLoadError
from worker.engine.formatting import TemplateName
from worker.engine.types import Message

MAX_LENGTH: Final = 2048
MAX_PROMPT_LENGTH: Final = 128
TRUNCATION_MODE: Final = "keep_end"


@dataclass(frozen=True, slots=True)
class ScoredSequence:
    """Token ids of prompt and response; the response (scored) tokens are ``ids[response_start:]``."""

    ids: tuple[int, ...]
    response_start: int

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def response_length(self) -> int:
        return len(self.ids) - self.response_start


def prompt_text(tokenizer: Any, template: TemplateName, conversation: Sequence[Message]) -> str:
    """The template over the conversation alone: what upstream removes from every candidate's text."""
    if template == "tulu":
        return "".join(
            f"<|{role}|>\n{content}\n" if content else f"<|{role}|>\n" for role, content in conversation
        )
    messages = [{"role": role, "content": content} for role, content in conversation]
    return _checked(tokenizer.apply_chat_template(messages, tokenize=False))


def full_text(tokenizer: Any, template: TemplateName, conversation: Sequence[Message], response: str) -> str:
    if template == "tulu":
        return prompt_text(tokenizer, template, [*conversation, ("assistant", response)])
    messages = [{"role": role, "content": content} for role, content in conversation]
    messages.append({"role": "assistant", "content": response})
    return _checked(tokenizer.apply_chat_template(messages, tokenize=False))


def _checked(text: object) -> str:
    if not isinstance(text, str):
        raise TokenizerLoadError(f"the chat template rendered {type(text).__name__}, not text")
    return text


@dataclass(frozen=True, slots=True)
class _Split:
    prompt_ids: list[int]
    answer_ids: list[int]


def _split_answer(tokenizer: Any, prompt: str, answer: str) -> _Split:
    """TRL's rule: ``enc(prompt + answer)`` cut after ``enc(prompt)``, one id earlier when they merged."""
    full: list[int] = list(tokenizer(prompt + answer, add_special_tokens=False)["input_ids"])
    prompt_ids: list[int] = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    if len(prompt_ids) > len(full):
        raise TokenizerLoadError("the tokenizer gave the prompt more ids than the prompt with its response")
    start = len(prompt_ids)
    if prompt_ids != full[:start]:
        start -= 1
    return _Split(full[:start], full[start:])


def candidate_sequences(
    tokenizer: Any,
    template: TemplateName,
    conversation: Sequence[Message],
    candidates: Sequence[str],
    *,
    bos_id: int,
    eos_id: int,
    max_length: int = MAX_LENGTH,
    max_prompt_length: int = MAX_PROMPT_LENGTH,
) -> list[ScoredSequence]:
    """One scored sequence per candidate, tokenised and truncated as upstream's ``tokenize_row``."""
    prompt = prompt_text(tokenizer, template, conversation)
    splits = []
    for candidate in candidates:
        answer = full_text(tokenizer, template, conversation, candidate).replace(prompt, "")
        split = _split_answer(tokenizer, prompt, answer)
        splits.append(_Split([bos_id, *split.prompt_ids], [*split.answer_ids, eos_id]))
    longest = max(len(split.answer_ids) for split in splits)
    sequences = []
    for split in splits:
        prompt_ids, answer_ids = split.prompt_ids, split.answer_ids
        if len(prompt_ids) + longest > max_length:
            prompt_ids = prompt_ids[-max_prompt_length:]
        if len(prompt_ids) + longest > max_length:
            answer_ids = answer_ids[: max_length - max_prompt_length]
        sequences.append(ScoredSequence(tuple(prompt_ids + answer_ids), len(prompt_ids)))
    return sequences
