"""Extraction keeps freed activations in the process (glibc): no page faults per forward pass."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from singaudit.pipeline.executors.memory import _glibc

pytestmark = pytest.mark.skipif(_glibc() is None, reason="the C library is not glibc")

# A fresh process: memory an earlier test kept would hide glibc's default behaviour.
MEASURE = """
import json, resource, torch
from singaudit.pipeline.executors.memory import freed_memory_retained

BLOCK = 64 * 2**20  # above glibc's largest dynamic mmap threshold (32 MiB)

def faults_per_round(rounds=6):
    faults = []
    for _ in range(rounds):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        torch.ones(BLOCK // 4)  # allocated, written, freed
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return faults

outside = faults_per_round()
with freed_memory_retained():
    with freed_memory_retained():
        pass
    inside = faults_per_round()  # still kept: the outer block has not ended
print(json.dumps({"outside": outside, "inside": inside, "pages": BLOCK // resource.getpagesize()}))
"""


def test_freed_blocks_are_reused_inside_and_mapped_afresh_outside():
    run = subprocess.run([sys.executable, "-c", MEASURE], capture_output=True, text=True,
                         check=True, timeout=120)
    faults = json.loads(run.stdout)
    # The fewest faults of several rounds: the kernel may reclaim idle heap pages now and then.
    assert min(faults["outside"]) > faults["pages"] // 2  # glibc maps each block afresh
    assert min(faults["inside"]) < faults["pages"] // 20  # kept in the heap: no new faults
