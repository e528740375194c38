"""The engine: statements, planning into per-source fragments, and execution in DuckDB."""
from fedq.engine.executor import Execution
from fedq.engine.planner import Fragment, Plan, Planner

__all__ = ["Execution", "Fragment", "Plan", "Planner"]
