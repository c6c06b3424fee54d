"""What each cycle of training measured: kept in checkpoints, frames.jsonl and the log.

Plain data, no TensorFlow: the command line reads a stored history before it
loads TensorFlow.
"""

from dataclasses import dataclass, field


@dataclass
class CycleResult:
    cycle: int
    loss: float
    psnr: float
    seconds: float
    pixels_per_second: float
    epochs: int


@dataclass
class History:
    cycles: list = field(default_factory=list)

    def add(self, result):
        self.cycles.append(result)

    def to_list(self):
        return [vars(c) for c in self.cycles]

    @classmethod
    def from_list(cls, items):
        return cls([CycleResult(**item) for item in items])
