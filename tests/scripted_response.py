"""The response record scripted test policies return (the fields a rollout reads)."""

from dataclasses import dataclass


@dataclass
class Response:
    prompt_ids: list
    response_ids: list
    logprobs: list
    text: str
    head_entropy: float
