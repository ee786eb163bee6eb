"""Interleaved best-of-N timing for a shared, noisy machine.

Absolute times on a shared 2-core machine drift by 30% or more between
minutes, so the runners of one case are timed in rounds: each round times every
runner once, in an order shuffled each round (seeded, so runs repeat), so
bitops and its peers see the same background load and no runner always follows
the same one (a runner's after-effects on the caches, or on the clock of a core
that has just run AMX or AVX-512 code, would otherwise land on one neighbour
every round), and ratios taken from the best of each are fair. Within
a sample, a call shorter than `min_sample` seconds is repeated `number` times
(chosen at warm-up) and the mean is kept, so timer resolution never dominates.

Only `runner.run()` is inside the timed region; thread settings are applied
around it (`runner.thread_scope()`), outside the clock.
"""
import math
import random
import statistics
import time
from dataclasses import dataclass


@dataclass
class Timing:
    """Seconds per call: the best and the median sample, all samples, calls per sample."""

    best: float
    median: float
    samples: list
    number: int


def _sample(runner, number):
    if runner.timer is not None:  # a peer in another process times itself (no pipe round trip)
        return runner.timer(number)
    with runner.thread_scope():
        fn = runner.run
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        return (time.perf_counter() - t0) / number


def measure(runners, repeat=5, warmup=1, min_sample=0.02, progress=None, each_round=None):
    """Time `runners` interleaved; returns a list of Timing in the same order.

    repeat     : timed rounds (each runner sampled once per round)
    warmup     : untimed calls per runner before the first round
    min_sample : seconds a sample should last at least (short calls are repeated)
    progress   : optional callable(str), told about each round
    each_round : optional callable(), run once per round outside the clock (e.g. a roofline sample)
    """
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    numbers = []
    for r in runners:
        for _ in range(max(0, warmup - 1)):
            _sample(r, 1)
        t = _sample(r, 1)  # the last warm-up call also sizes the sample
        numbers.append(max(1, math.ceil(min_sample / max(t, 1e-9))))
    samples = [[] for _ in runners]
    shuffle = random.Random(0).shuffle
    for rnd in range(repeat):
        if progress is not None:
            progress(f"round {rnd + 1}/{repeat}")
        if each_round is not None:
            each_round()
        order = list(range(len(runners)))
        shuffle(order)
        for i in order:
            samples[i].append(_sample(runners[i], numbers[i]))
    return [Timing(min(s), statistics.median(s), s, n) for s, n in zip(samples, numbers)]
