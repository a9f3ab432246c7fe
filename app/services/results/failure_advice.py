"""What a submitter can do about a failed evaluation, by the failure's kind (``submission.failure_kind``)."""

from __future__ import annotations

from typing import Final

RESUBMIT = "Submit it again once that is fixed (a failed run does not block the same commit)."

ADVICE: Final[dict[str, str]] = {
    "model_not_found": "Check the model id and revision on the Hugging Face Hub: the repository or the "
    "commit could not be found, or it is private or gated. " + RESUBMIT,
    "invalid_model": "The model cannot be scored as this kind of reward model (for a classifier: a sequence "
    "classification head with one output, safetensors weights, no remote code). Fix the repository or choose "
    "the model type that fits it. " + RESUBMIT,
    "model_load_error": "The weights or the config could not be loaded with transformers; check that the "
    "repository loads with from_pretrained. " + RESUBMIT,
    "tokenizer_error": "The tokenizer or its chat template failed on the benchmark's texts; check that "
    "apply_chat_template works on a plain conversation, or submit with the tulu template. " + RESUBMIT,
    "dataset_error": "The benchmark's data could not be read on the worker: this is on our side, not your "
    "model's. It is not counted against your limit; please submit again later.",
    "hub_unreachable": "The Hugging Face Hub could not be reached for a while; the run was retried and then "
    "gave up. This is not counted against your limit: please submit again later.",
    "out_of_memory": "Even the smallest batch did not fit in the worker's memory. A smaller max_length or a "
    "smaller model would fit; you can also ask the maintainers for a larger worker.",
    "invalid_spec": "A setting of this submission cannot be honoured by the workers (device, dtype, template "
    "or size). Submit it again with the default settings.",
    "disk_full": "The worker ran out of disk space: this is on our side. It is not counted against your "
    "limit; please submit again later.",
    "worker_lost": "The worker running it stopped several times without finishing: this is on our side. It "
    "is not counted against your limit; please submit again later.",
    "internal_error": "Something unexpected stopped the run on our side; it was logged. It is not counted "
    "against your limit; please submit again later.",
    "timeout": "The run took longer than the workers' time limit. A smaller max_length shortens it; for "
    "very large models ask the maintainers.",
    # Judges on endpoints (worker.engine.judging.endpoints): the run stops whole, never with part scored.
    "endpoint_unavailable": "The judge's endpoint kept failing (5xx answers, timeouts or refused "
    "connections); every request was retried with backoff before the run stopped, and nothing was scored. "
    "Check the endpoint's health (or the provider's status page), then submit again.",
    "endpoint_rate_limited": "The judge's endpoint kept answering 429 (too many requests) after every retry; "
    "nothing was scored. Lower the endpoint's max_concurrency or requests_per_minute in the registry, or "
    "raise the provider's limits, then submit again.",
    "endpoint_budget_exhausted": "The run needed more requests than the endpoint allows one run "
    "(max_requests_per_run, retries included), so it stopped rather than score part of the data. Raise the "
    "budget in the registry or evaluate fewer examples, then submit again.",
    "endpoint_refused": "The judge's endpoint refused a request (a wrong key, an unknown model name, a limit "
    "of the provider) or answered without a completion; the message says which. Fix the endpoint or its "
    "registration, then submit again.",
    "endpoint_misconfigured": "The worker could not call the endpoint as the submission names it: it is not "
    "registered on the worker, its key is not set there, or it serves another model now. The operator fixes "
    "JUDGE_ENDPOINTS (or its file) and the key on the workers; then submit again.",
}
DEFAULT_ADVICE: Final = "Check the message above; " + RESUBMIT[0].lower() + RESUBMIT[1:]


def advice_for(kind: str | None) -> str:
    return ADVICE.get(kind or "", DEFAULT_ADVICE)
