"""How good a target is once the batch has landed, as a 0..100 score with its reasons.

Every component is a fraction in 0..1 so no resource dominates by its units. The same
arithmetic runs on plain numbers (one cluster, exact) and on numpy arrays (the whole fleet at
once, for ranking); it depends only on cluster aggregates, never on which node a VM takes,
which is what lets the fleet be ranked before any node-level placement is done.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hub.models.check import Score, ScoreComponent
from hub.models.policy import Weights

Number = Any
"""A float or a numpy array of them: the formulas below serve both."""


@dataclass(frozen=True, slots=True)
class Aggregates:
    cpu_allocatable: Number
    memory_allocatable: Number
    cpu_used_after: Number
    memory_used_after: Number
    largest_cpu: Number
    largest_memory: Number
    storage_free_fraction: Number
    locality: Number


def cpu_free_fraction(a: Aggregates) -> Number:
    return np.clip(1 - a.cpu_used_after / np.maximum(a.cpu_allocatable, 1), 0, 1)


def memory_free_fraction(a: Aggregates) -> Number:
    return np.clip(1 - a.memory_used_after / np.maximum(a.memory_allocatable, 1), 0, 1)


def survives_node_loss(a: Aggregates) -> Number:
    """N+1 in aggregate: without its largest node, the cluster still holds all it runs."""
    cpu_ok = a.cpu_used_after <= a.cpu_allocatable - a.largest_cpu
    memory_ok = a.memory_used_after <= a.memory_allocatable - a.largest_memory
    return np.logical_and(cpu_ok, memory_ok)


def components(a: Aggregates) -> dict[str, Number]:
    cpu, memory = cpu_free_fraction(a), memory_free_fraction(a)
    return {
        "headroom": np.minimum(np.minimum(cpu, memory), a.storage_free_fraction),
        "n_plus_one": survives_node_loss(a).astype(float),
        "locality": a.locality,
        "balance": 1 - np.abs(cpu - memory),
    }


def total(values: Mapping[str, Number], weights: Weights) -> Number:
    weighted = {
        "headroom": weights.headroom,
        "n_plus_one": weights.n_plus_one,
        "locality": weights.locality,
        "balance": weights.balance,
    }
    whole = sum(weighted.values())
    return 100 * sum(values[name] * w for name, w in weighted.items()) / whole


def explain(a: Aggregates, weights: Weights) -> Score:
    values = {name: float(v) for name, v in components(a).items()}
    cpu, memory = float(cpu_free_fraction(a)), float(memory_free_fraction(a))
    storage = float(a.storage_free_fraction)
    reasons = {
        "headroom": (
            f"after placement {cpu:.0%} CPU, {memory:.0%} memory"
            + (f", {storage:.0%} storage" if storage < 1 else "")
            + " stay free"
        ),
        "n_plus_one": (
            "survives the loss of its largest node"
            if values["n_plus_one"]
            else "could not absorb the loss of its largest node"
        ),
        "locality": f"{values['locality']:.0%} of locality labels match the source",
        "balance": f"CPU and memory use differ by {abs(cpu - memory):.0%} after placement",
    }
    weight_of = weights.model_dump()
    return Score(
        total=round(float(total(values, weights)), 2),
        components=tuple(
            ScoreComponent(
                name=name, value=round(value, 4), weight=weight_of[name], reason=reasons[name]
            )
            for name, value in values.items()
        ),
    )


def locality(
    source: Mapping[str, str] | None, target: Mapping[str, str], keys: tuple[str, ...]
) -> float:
    if not source or not keys:
        return 0.0
    matched = sum(1 for k in keys if k in source and source.get(k) == target.get(k))
    return matched / len(keys)
