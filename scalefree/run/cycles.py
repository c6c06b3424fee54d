"""Training cycle after cycle until a stop condition: a cycle is -e epochs, then a report."""

import math
import time

import numpy as np

from ..errors import Diverged
from ..history import CycleResult


def train_cycles(trainer, first_cycle, stop_event, on_cycle, on_steps=None, started=None):
    """Train `trainer` cycle after cycle until a stop condition; return why it stopped.

    After every cycle `on_cycle(result)` is called (it logs, saves, draws);
    a true return value stops the run. `stop_event` (a threading.Event) is
    checked between epochs: when it is set, the epoch under way finishes,
    its partial cycle is reported, and the loop ends. --max_seconds counts
    from `started` (a time.perf_counter() reading; by default, now).
    """
    config = trainer.config
    started = time.perf_counter() if started is None else started
    cycle = first_cycle
    by_others = False  # the stop was asked on another process of the cluster
    while True:
        cycle += 1
        cycle_start = time.perf_counter()
        losses = []
        for _ in range(config.epochs_per_cycle):
            losses.append(trainer.train_epoch(on_steps))
            here = stop_event.is_set()
            if trainer.agree(here):
                by_others = not here
                stop_event.set()
                break
        seconds = time.perf_counter() - cycle_start
        if not (math.isfinite(float(np.mean(losses))) and trainer.weights_finite()):
            raise Diverged(f"training diverged in cycle {cycle}: the loss or the weights are no longer finite numbers")
        result = CycleResult(
            cycle=cycle,
            loss=float(np.mean(losses)),
            psnr=trainer.psnr(),
            seconds=seconds,
            pixels_per_second=trainer.pixels * len(losses) / seconds,
            epochs=len(losses),
        )
        asked = on_cycle(result)
        reason = stop_reason(config, stop_event, cycle - first_cycle, time.perf_counter() - started, result)
        if reason is None and asked:
            reason = "stopped by on_cycle"
        if by_others:
            reason = None
        # In a cluster, one process's reason stops them all after the same cycle.
        if trainer.agree(reason is not None) or by_others:
            return reason or "stopped with the other workers"


def stop_reason(config, stop_event, cycles, seconds, result):
    """Why to stop after this cycle, or None."""
    if stop_event.is_set():
        return "stopped"
    if config.cycles and cycles >= config.cycles:
        return f"finished {config.cycles} cycle{'' if config.cycles == 1 else 's'}"
    if config.max_seconds and seconds >= config.max_seconds:
        return f"reached --max_seconds {config.max_seconds:g}"
    if config.target_psnr and result.psnr >= config.target_psnr:
        return f"reached --target_psnr {config.target_psnr:g} dB"
    return None
