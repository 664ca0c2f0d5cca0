"""Trajectory trees and the Spark branching rollout."""
