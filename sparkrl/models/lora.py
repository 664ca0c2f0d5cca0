"""LoRA through peft: the learner trains low-rank adapters, the frozen base is the reference.

With LoRA on (``lora_r > 0``) the policy is the base model wrapped by peft; only the adapter
matrices require gradients. The KL reference policy is the *same* model with its adapters
disabled (peft's ``disable_adapter()`` context), so no second copy of the weights is held.
Checkpoints then hold the adapters only (peft's ``save_pretrained``); resuming rebuilds the
base (the cold-start model) and loads them back with ``load_adapter_weights``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch

from sparkrl.models.policy import Policy, TokenLogprobs

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"


def _peft():
    try:
        import peft
    except ImportError as error:
        raise ImportError(
            "LoRA (lora_r > 0) needs peft: pip install 'peft>=0.13' (install.sh installs it)"
        ) from error
    return peft


def is_lora(model: torch.nn.Module) -> bool:
    """Whether ``model`` carries peft adapters."""
    try:
        from peft import PeftModel
    except ImportError:
        return False
    return isinstance(model, PeftModel)


def apply_lora(policy: Policy, r: int, alpha: float, target_modules: Sequence[str]) -> Policy:
    """A policy whose model is ``policy.model`` with LoRA adapters of rank ``r`` on
    ``target_modules`` (the base weights are frozen in place; dropout is off so the sampled and
    the trained log-probs agree). The tokenizer is shared."""
    if r < 1:
        raise ValueError(f"LoRA rank must be >= 1, got {r}")
    peft = _peft()
    present = {name.rsplit(".", 1)[-1] for name, _ in policy.model.named_modules()}
    missing = sorted(set(target_modules) - present)
    if missing:
        raise ValueError(f"lora_targets: {missing} are not module names of {policy.name} "
                         f"(it has e.g. {sorted(present - {''})[:8]})")
    config = peft.LoraConfig(r=r, lora_alpha=alpha, target_modules=list(target_modules), lora_dropout=0.0,
                             bias="none", task_type="CAUSAL_LM")
    model = peft.get_peft_model(policy.model, config)
    return Policy(model, policy.tokenizer, name=policy.name)


class AdapterDisabledReference:
    """The KL reference as a scoring policy: the LoRA policy's own model, adapters off."""

    def __init__(self, policy: Policy) -> None:
        if not is_lora(policy.model):
            raise ValueError("AdapterDisabledReference needs a policy made by apply_lora")
        self.policy = policy
        self.model = policy.model

    def logprobs(self, rows: Sequence[tuple[Sequence[int], Sequence[int]]],
                 temperature: float = 1.0, masks: Sequence | None = None) -> TokenLogprobs:
        """``Policy.logprobs`` of the base model (adapters disabled for the call)."""
        with self.model.disable_adapter():
            return self.policy.logprobs(rows, temperature, masks)


def load_adapter_weights(policy: Policy, folder: str | Path) -> None:
    """Load the adapters a checkpoint saved into ``policy`` (made by ``apply_lora`` with the
    same rank and targets); a folder without adapters, or with other ones, is a clear error."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    folder = Path(folder)
    if not (folder / ADAPTER_WEIGHTS).is_file():
        raise FileNotFoundError(f"{folder} holds no LoRA adapters ({ADAPTER_WEIGHTS}); "
                                f"was it saved with lora_r = 0?")
    saved = json.loads((folder / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    current = policy.model.peft_config["default"]
    if saved.get("r") != current.r or set(saved.get("target_modules") or ()) != set(current.target_modules):
        raise ValueError(
            f"{folder}: adapters of rank {saved.get('r')} on {sorted(saved.get('target_modules') or ())} "
            f"do not match lora_r={current.r} on {sorted(current.target_modules)}"
        )
    result = set_peft_model_state_dict(policy.model, load_file(str(folder / ADAPTER_WEIGHTS)))
    if result.unexpected_keys:
        raise ValueError(f"{folder}: unexpected adapter tensors {result.unexpected_keys[:5]}")


@torch.no_grad()
def merged_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The weights an inference engine needs, under the plain Hugging Face names: the model's
    own state dict, or for a LoRA model the base weights with each active adapter's update
    ``B·A·alpha/r`` added (the model itself is left unmerged)."""
    if not is_lora(model):
        return {name: tensor.detach() for name, tensor in model.state_dict().items()}
    from peft.tuners.lora import LoraLayer

    base = model.get_base_model()
    weights = {
        key.replace(".base_layer.", "."): tensor.detach()
        for key, tensor in base.state_dict().items()
        if ".lora_" not in key
    }
    for name, module in base.named_modules():
        if isinstance(module, LoraLayer) and not module.merged and not module.disable_adapters:
            for adapter in module.active_adapters:
                if adapter in module.lora_A:
                    key = f"{name}.weight"
                    weights[key] = weights[key] + module.get_delta_weight(adapter)
    return weights
