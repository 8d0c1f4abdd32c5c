"""llmstack's fix for one LiteLLM lookup that is linear in its model map, on every request.

Shipped into the LiteLLM container next to its config and loaded by the auth hook when LiteLLM
loads that (before the proxy serves a request); this file is data to the Pulumi program.

LiteLLM 1.108.7 decides whether an Ollama model is in its model map by lower-casing all of the
map's 4,000+ keys into a new set every time it is asked, which is at least once per request:
about 1.5 ms of CPU per request on a 2-core host. LiteLLM keeps a case-insensitive index of the
map for exactly this question (`litellm.utils.get_model_cost_key`, documented there as the only
acceptable, O(1), way to ask it); the replacement asks the index. It gives the same answer for
every name, and sees models registered later, since LiteLLM rebuilds the index when the map
changes. It is applied only to the LiteLLM version it was tested with; any other version is left
exactly as it is.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the program's name for the same file
    from components.shipped.litellm import llmstack_contract as contract
else:  # in the container: uploaded beside this file, whose directory is first on sys.path
    import llmstack_contract as contract


def apply(expected_version: str = contract.TESTED_LITELLM_VERSION) -> bool:
    """Replace the linear lookup if this is the tested LiteLLM; whether it was replaced."""
    if version("litellm") != expected_version:
        return False
    from litellm.llms.ollama.common_utils import OllamaModelInfo
    from litellm.utils import get_model_cost_key

    if not callable(getattr(OllamaModelInfo, "_is_static_ollama_model", None)):
        return False
    # Private on purpose: this replaces LiteLLM internals, pinned to the version tested above.
    strip_prefix = OllamaModelInfo._strip_ollama_model_prefix  # noqa: SLF001

    def is_static_ollama_model(model: str) -> bool:
        stripped = strip_prefix(model)
        names = (model, stripped, "ollama/" + stripped, "ollama_chat/" + stripped)
        return any(get_model_cost_key(name) is not None for name in names)

    OllamaModelInfo._is_static_ollama_model = staticmethod(is_static_ollama_model)  # type: ignore[method-assign]  # noqa: SLF001
    return True
