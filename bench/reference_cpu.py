"""Shared by the scripts that run under the REFERENCE interpreter: upstream's pipelines hard-code cuda."""

from __future__ import annotations

from typing import Any


def cpu_only_batch_encoding() -> None:
    """Make BatchEncoding.to('cuda') a move to the CPU."""
    from transformers.tokenization_utils_base import BatchEncoding

    original = BatchEncoding.to

    def to(self: Any, device: Any, *args: Any, **kwargs: Any) -> Any:
        if str(device).startswith("cuda"):
            device = "cpu"
        return original(self, device, *args, **kwargs)

    BatchEncoding.to = to  # type: ignore[method-assign]


# Docstring constants that upstream's model files import and that transformers removed after 4.51; only
# docstrings use them. Restored (empty) so the package imports under a newer transformers 4.x.
_REMOVED_DOC_NAMES = (
    ("transformers.models.llama.modeling_llama", "_CONFIG_FOR_DOC"),
    ("transformers.models.llama.modeling_llama", "LLAMA_INPUTS_DOCSTRING"),
)


def restore_removed_doc_names() -> None:
    """Let ``import rewardbench`` work under a transformers newer than the one it pins."""
    import importlib

    for module_name, name in _REMOVED_DOC_NAMES:
        module = importlib.import_module(module_name)
        if not hasattr(module, name):
            setattr(module, name, "")
