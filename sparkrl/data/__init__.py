"""Cold-start data: expert (golden) trajectories, their explore/think annotation (rule-based
or by a teacher LLM), and the tiny model's tokenizer corpus."""

from sparkrl.data.annotate import AnnotatedStep, AnnotatedTrajectory, RuleAnnotator
from sparkrl.data.golden import (
    GoldenCollection,
    GoldenStep,
    GoldenTrajectory,
    collect_golden,
    load_jsonl,
    play_expert,
    save_jsonl,
)
from sparkrl.data.teacher import TeacherAnnotator, TeacherConfig, TeacherStats

__all__ = [
    "AnnotatedStep",
    "AnnotatedTrajectory",
    "GoldenCollection",
    "GoldenStep",
    "GoldenTrajectory",
    "RuleAnnotator",
    "TeacherAnnotator",
    "TeacherConfig",
    "TeacherStats",
    "collect_golden",
    "load_jsonl",
    "play_expert",
    "save_jsonl",
]
