"""The agent's side of a step: the prompt it is shown and the parse of its response."""

from sparkrl.agent.parser import INVALID_STEP_PENALTY, Mode, ParsedResponse, parse_response
from sparkrl.agent.prompt import (
    ACTION_TAG,
    ALL_TAGS,
    EXPLORE_TAG,
    HISTORY_WINDOW,
    PROMPT_STYLES,
    REASONING_TAGS,
    SYSTEM_PROMPT,
    THINK_TAG,
    History,
    HistoryStep,
    ReasoningMode,
    build_messages,
    build_user_message,
    format_response,
)

__all__ = [
    "ACTION_TAG",
    "ALL_TAGS",
    "EXPLORE_TAG",
    "HISTORY_WINDOW",
    "INVALID_STEP_PENALTY",
    "PROMPT_STYLES",
    "REASONING_TAGS",
    "SYSTEM_PROMPT",
    "THINK_TAG",
    "History",
    "HistoryStep",
    "Mode",
    "ParsedResponse",
    "ReasoningMode",
    "build_messages",
    "build_user_message",
    "format_response",
    "parse_response",
]
