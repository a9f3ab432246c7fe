# ruff: noqa: E501 - the prompts are kept as upstream and the paper print them
"""The judges' prompts and how their answers are read. The texts are part of the method: they are kept
character for character, since a changed word changes the verdicts.

- ``PAIR_SYSTEM`` / ``PAIR_TEMPLATE``: MT-Bench's "pair-v2" judge prompt (Zheng et al. 2023) without its tie
  option, as RewardBench uses it (``MTBENCH_V2``); ``PAIR_MULTI_*``: the two-turn variant
  (``MTBENCH_MULTI_V2``), which judges the answers to the second question.
- ``FOUR_WAY_*``: RewardBench 2's four-answer version of that prompt (``generative_v2.py``).
- ``RATINGS_TEMPLATE`` / ``RATINGS_TIES_TEMPLATE``: RewardBench's 1-10 rating prompts (the Ties variant does
  not ask for depth or detail).
- ``RUBRIC_TEMPLATE``: the Self-Rewarding LLM-as-a-Judge prompt (Yuan et al. 2024, arXiv 2401.10020,
  Figure 2), an additive 5-point rubric, as printed in the paper, line breaks included.

Readers: ``[[A]]`` is looked for before ``[[B]]`` (then ``[[C]]``, ``[[D]]``), as upstream does; a rating is
the integer 1-10 that ends the answer; a rubric score is the last ``Score: N`` (N in 0-5, optionally ``/5``).
"""

from __future__ import annotations

import re
from typing import Final

PAIR_SYSTEM: Final = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI assistants "
    "to the user question displayed below. You should choose the assistant that follows the user's instructions "
    "and answers the user's question better. Your evaluation should consider factors such as the helpfulness, "
    "relevance, accuracy, depth, creativity, and level of detail of their responses. Begin your evaluation by "
    "comparing the two responses and provide a short explanation. Avoid any position biases and ensure that the "
    "order in which the responses were presented does not influence your decision. Do not allow the length of "
    "the responses to influence your evaluation. Do not favor certain names of the assistants. Be as objective "
    "as possible. After providing your explanation, output your final verdict by strictly following this "
    'format: "[[A]]" if assistant A is better, "[[B]]" if assistant B is better.'
)
PAIR_TEMPLATE: Final = (
    "[User Question]\n{question}\n\n"
    "[The Start of Assistant A's Answer]\n{answer_a}\n[The End of Assistant A's Answer]\n\n"
    "[The Start of Assistant B's Answer]\n{answer_b}\n[The End of Assistant B's Answer]"
)

PAIR_MULTI_SYSTEM: Final = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI assistants "
    "to the user questions. You should focus on who provides a better answer to the second user question. "
    "You should choose the assistant that follows the user's instructions and answers the user's question "
    "better. Your evaluation should consider factors such as the helpfulness, relevance, accuracy, depth, "
    "creativity, and level of detail of their responses. Begin your evaluation by comparing the two responses "
    "and provide a short explanation. Avoid any position biases and ensure that the order in which the "
    "responses were presented does not influence your decision. Do not allow the length of the responses to "
    "influence your evaluation. Do not favor certain names of the assistants. Be as objective as possible. "
    "After providing your explanation, output your final verdict by strictly following this format: "
    '"[[A]]" if assistant A is better, "[[B]]" if assistant B is better.'
)
PAIR_MULTI_TEMPLATE: Final = (
    "<|The Start of Assistant A's Conversation with User|>\n\n### User:\n{question_1}\n\n### Assistant A:\n"
    "{answer_a_1}\n\n### User:\n{question_2}\n\n### Assistant A:\n{answer_a_2}\n\n"
    "<|The End of Assistant A's Conversation with User|>\n\n\n"
    "<|The Start of Assistant B's Conversation with User|>\n\n### User:\n{question_1}\n\n### Assistant B:\n"
    "{answer_b_1}\n\n### User:\n{question_2}\n\n### Assistant B:\n{answer_b_2}\n\n"
    "<|The End of Assistant B's Conversation with User|>"
)

FOUR_WAY_SYSTEM: Final = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by four AI assistants "
    "to the user question displayed below. You should choose the assistant that follows the user's "
    "instructions and answers the user's question best. Your evaluation should consider factors such as the "
    "helpfulness, relevance, accuracy, depth, creativity, and level of detail of their responses. Begin your "
    "evaluation by comparing the four responses and provide a short explanation. Avoid any position biases and "
    "ensure that the order in which the responses were presented does not influence your decision. Do not "
    "allow the length of the responses to influence your evaluation. Do not favor certain names of the "
    "assistants. Be as objective as possible. After providing your explanation, output your final verdict by "
    'strictly following this format: "[[A]]" if assistant A is best, "[[B]]" if assistant B is best, "[[C]]" '
    'if assistant C is best, and "[[D]]" if assistant D is best.'
)
FOUR_WAY_TEMPLATE: Final = (
    "[User Question]\n{question}\n\n"
    "[The Start of Assistant A's Answer]\n{answer_a}\n[The End of Assistant A's Answer]\n\n"
    "[The Start of Assistant B's Answer]\n{answer_b}\n[The End of Assistant B's Answer]\n\n"
    "[The Start of Assistant C's Answer]\n{answer_c}\n[The End of Assistant C's Answer]\n\n"
    "[The Start of Assistant D's Answer]\n{answer_d}\n[The End of Assistant D's Answer]"
)

_RATINGS_HEAD: Final = (
    "\n### Task Description\n"
    "Please act as an impartial judge and evaluate the quality of the response provided by an\n"
    "AI assistant to the user query displayed below.\n\n"
    "Notes:\n"
)
_RATINGS_TAIL: Final = (
    "2- Begin your evaluation by providing a short explanation.\n"
    "3- Be as objective as possible. After providing your explanation, please rate the response on a scale of "
    "1 to 10. For your rating, only give a number between 1 and 10 (inclusive), do not use any markdown, and do "
    "not put any text after your final rating.\n\n"
    "[Query]\n{prompt}\n\n[Response]\n{completion}\n\n[Your judgement]"
)
RATINGS_TEMPLATE: Final = (
    _RATINGS_HEAD
    + "1- Your evaluation should consider factors such as the helpfulness, relevance, accuracy, "
    "depth, creativity, and level of detail of the response.\n" + _RATINGS_TAIL
)
RATINGS_TIES_TEMPLATE: Final = (
    _RATINGS_HEAD + "1- Your evaluation should consider factors such as the helpfulness, relevance, and "
    "accuracy of the response, but need not consider depth or level of detail of the response.\n"
    + _RATINGS_TAIL
)

RUBRIC_TEMPLATE: Final = """Review the user’s question and the corresponding response using the additive 5-point
scoring system described below. Points are accumulated based on the satisfaction of each
criterion:
- Add 1 point if the response is relevant and provides some information related to
the user’s inquiry, even if it is incomplete or contains some irrelevant content.
- Add another point if the response addresses a substantial portion of the user’s question,
but does not completely resolve the query or provide a direct answer.
- Award a third point if the response answers the basic elements of the user’s question in a
useful way, regardless of whether it seems to have been written by an AI Assistant or if it
has elements typically found in blogs or search results.
- Grant a fourth point if the response is clearly written from an AI Assistant’s perspective,
addressing the user’s question directly and comprehensively, and is well-organized and
helpful, even if there is slight room for improvement in clarity, conciseness or focus.
- Bestow a fifth point for a response that is impeccably tailored to the user’s question
by an AI Assistant, without extraneous information, reflecting expert knowledge, and
demonstrating a high-quality, engaging, and insightful answer.
User: {prompt}
<response>{response}</response>
After examining the user’s instruction and the response:
- Briefly justify your total score, up to 100 words.
- Conclude with the score using the format: “Score: <total points>”
Remember to assess from the AI Assistant perspective, utilizing web search knowledge as
necessary. To evaluate the response in alignment with this additive scoring model, we’ll
systematically attribute points based on the outlined criteria."""

SLOT_LETTERS: Final = "ABCD"
_RATING = re.compile(r"\b([1-9]|10)\b\s*$")
# The last "Score: N" with N in 0-5 (not the first digit of a longer number), optionally "/5".
_RUBRIC_SCORE = re.compile(r"Score:\s*([0-5])(?![0-9])(?:\s*/\s*5)?")


def read_slot(text: str, slots: int) -> int | None:
    """Index of the slot a verdict names (``[[A]]`` first, as upstream reads), or None."""
    for index, letter in enumerate(SLOT_LETTERS[:slots]):
        if f"[[{letter}]]" in text:
            return index
    return None


def read_rating(text: str) -> int | None:
    """The 1-10 rating that ends the answer, or None."""
    match = _RATING.search(text.strip())
    return int(match.group(1)) if match else None


def read_rubric_score(text: str) -> int | None:
    """The last ``Score: N`` of the answer (0-5), or None."""
    matches = _RUBRIC_SCORE.findall(text)
    return int(matches[-1]) if matches else None
