"""Engine errors. Each carries a one-line reason a user can read; ``kind`` names it for the database."""

from __future__ import annotations


class EngineError(Exception):
    kind = "engine_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ModelNotFoundError(EngineError):
    kind = "model_not_found"


class InvalidModelError(EngineError):
    """The model cannot be evaluated as asked (wrong head, several labels, remote code, no safetensors)."""

    kind = "invalid_model"


class ModelLoadError(EngineError):
    kind = "model_load_error"


class TokenizerLoadError(EngineError):
    kind = "tokenizer_error"


class DatasetError(EngineError):
    kind = "dataset_error"


class HubUnreachableError(EngineError):
    """The Hub could not be reached or answered 5xx; worth retrying later."""

    kind = "hub_unreachable"


class OutOfMemoryError(EngineError):
    """Even the smallest batch did not fit on the device."""

    kind = "out_of_memory"


class InvalidSpecError(EngineError):
    """Settings this machine or engine cannot honour: device, dtype, model type, template, sizes."""

    kind = "invalid_spec"


class DiskFullError(EngineError):
    """The machine ran out of disk space (weights cache or data); worth retrying once space is freed."""

    kind = "disk_full"
