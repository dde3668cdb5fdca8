"""Building blocks that more than one search space uses."""

from __future__ import annotations

from collections.abc import Mapping

from torch import nn


def check_task(tasks: Mapping[str, int], task: str, space: str) -> None:
    if task not in tasks:
        raise ValueError(f"unknown {space} task {task!r}; choose from {', '.join(tasks)}")


class ReLUConvBN(nn.Sequential):
    """ReLU, bias-free k x k conv ("same" padding), BatchNorm: the usual NAS conv op."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int = 1, stride: int = 1, affine: bool = True
    ) -> None:
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(c_in, c_out, kernel, stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )
