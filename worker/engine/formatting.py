"""Turn a conversation and a response into the text and token ids a classifier scores, as upstream does.

With a tokenizer chat template: the template over the conversation's turns then the assistant response, no
generation prompt. Without one (or when ``tulu`` is asked): FastChat's Tulu template, each turn as
``<|role|>\\n{content}\\n`` (an empty turn as ``<|role|>\\n`` alone), plus EOS where upstream's
``tokenizer.add_eos_token = True`` takes effect (see ``upstream_appends_eos``). Token ids longer than
``max_length`` are cut on the benchmark's side (RewardBench v1's run_rm.py: from the left, so the response's
end is kept; RewardBench 2's run_v2.py: the tokenizer's own side, usually the right); the tokenizer's own
special tokens are kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from worker.engine.benchmarks.base import TruncationSide
from worker.engine.errors import InvalidSpecError, TokenizerLoadError
from worker.engine.types import Message

TemplateName = Literal["tokenizer", "tulu"]

# Upstream sets ``tokenizer.add_eos_token = True`` in the Tulu path. Under the transformers it pins (4.51)
# only these tokenizer classes (and their Fast twins) act on it; on any other class it does nothing.
_EOS_TOKENIZER_CLASSES: Final = frozenset(
    "LlamaTokenizer CodeLlamaTokenizer GemmaTokenizer CohereTokenizer GPTNeoXTokenizer ClvpTokenizer".split()  # noqa: SIM905
)
# Model types whose default tokenizer (no ``tokenizer_class`` in tokenizer_config.json) is one of those.
_EOS_MODEL_TYPES: Final = frozenset(
    """
    aria aya_vision chameleon clvp code_llama cohere cohere2 colpali deepseek_v3 diffllama falcon_mamba gemma
    gemma2 gemma3 gemma3_text gpt_neox idefics idefics2 idefics3 jamba jetmoe llama llama4 llama4_text llava
    llava_next llava_next_video llava_onevision mamba mamba2 mistral mixtral mllama mpt olmo olmo2 olmoe
    paligemma persimmon phi3 phimoe recurrent_gemma rwkv shieldgemma2 siglip2 stablelm video_llava vipllava
    zamba zamba2
    """.split()  # noqa: SIM905
)
# Class names of newer transformers that the pinned version does not know; the model type decides for them.
_UNPINNED_TOKENIZER_CLASSES: Final = frozenset({"TokenizersBackend"})


def upstream_appends_eos(tokenizer_class: str | None, model_type: str | None) -> bool:
    """Whether upstream's Tulu path really ends the text with EOS for this tokenizer."""
    if tokenizer_class and tokenizer_class not in _UNPINNED_TOKENIZER_CLASSES:
        return tokenizer_class.removesuffix("Fast") in _EOS_TOKENIZER_CLASSES
    return model_type in _EOS_MODEL_TYPES


TEMPLATE_CHOICES: Final = ("auto", "tokenizer", "tulu")


def tulu_text(conversation: Sequence[Message], response: str) -> str:
    """FastChat's ``tulu`` template: ``<|role|>\\n{content}\\n`` a turn, an empty turn its role line alone."""
    turns = [*conversation, ("assistant", response)]
    return "".join(f"<|{role}|>\n{content}\n" if content else f"<|{role}|>\n" for role, content in turns)


def resolve_template(tokenizer: Any, asked: str) -> TemplateName:
    """``auto`` picks the tokenizer's template when it has one, else Tulu."""
    if asked not in TEMPLATE_CHOICES:
        raise InvalidSpecError(
            f"unknown chat template {asked!r}; choose one of {', '.join(TEMPLATE_CHOICES)}"
        )
    has_template = getattr(tokenizer, "chat_template", None) is not None
    if asked == "tokenizer" and not has_template:
        raise TokenizerLoadError("the tokenizer has no chat template; use chat_template 'auto' or 'tulu'")
    if asked == "tulu" or not has_template:
        return "tulu"
    return "tokenizer"


def render(tokenizer: Any, template: TemplateName, conversation: Sequence[Message], response: str) -> str:
    if template == "tulu":
        return tulu_text(conversation, response)
    messages = [{"role": role, "content": content} for role, content in conversation]
    messages.append({"role": "assistant", "content": response})
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    if not isinstance(text, str):
        raise TokenizerLoadError(f"the chat template rendered {type(text).__name__}, not text")
    return text


@dataclass(frozen=True, slots=True)
class Encoded:
    """Token ids of one text; ``mask_first``: a duplicated leading BOS whose attention is switched off."""

    ids: tuple[int, ...]
    mask_first: bool

    def __len__(self) -> int:
        return len(self.ids)


class Encoder:
    """Renders and tokenizes texts with one tokenizer, template and max length."""

    def __init__(
        self,
        tokenizer: Any,
        template: TemplateName,
        max_length: int,
        *,
        tulu_eos: bool = True,
        truncation_side: TruncationSide = "left",
    ) -> None:
        if max_length < 2:
            raise InvalidSpecError(f"max_length must be at least 2, got {max_length}")
        self.tokenizer = tokenizer
        self.template = template
        self.max_length = max_length
        self.bos_id: int | None = tokenizer.bos_token_id
        self.eos_id: int | None = tokenizer.eos_token_id
        self.append_eos = template == "tulu" and tulu_eos
        if self.append_eos and self.eos_id is None:
            raise TokenizerLoadError("the tokenizer has no EOS token, which the Tulu template needs")
        if truncation_side == "left":
            tokenizer.truncation_side = "left"
        self.truncation_side: str = tokenizer.truncation_side

    def texts(self, conversation: Sequence[Message], responses: Sequence[str]) -> list[str]:
        return [render(self.tokenizer, self.template, conversation, response) for response in responses]

    def encode(self, texts: Sequence[str]) -> list[Encoded]:
        append_eos = self.append_eos
        limit = self.max_length - 1 if append_eos else self.max_length
        batch = self.tokenizer(list(texts), truncation=True, max_length=limit, padding=False)
        encoded = []
        for ids in batch["input_ids"]:
            ids = [*ids, self.eos_id] if append_eos else list(ids)
            encoded.append(Encoded(tuple(ids), self._double_bos(ids)))
        return encoded

    def _double_bos(self, ids: Sequence[int]) -> bool:
        return self.bos_id is not None and len(ids) >= 2 and ids[0] == self.bos_id and ids[1] == self.bos_id
