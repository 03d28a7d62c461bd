"""One math thread per worker: numerical pools (OpenBLAS/OpenMP, OpenCV) default to every core per call, which
oversubscribes a machine running one worker per core (the bench-workers finding)."""

from __future__ import annotations

import cv2
from threadpoolctl import threadpool_info, threadpool_limits

from service.jobs.startup import limit_math_threads


def test_limit_math_threads_caps_every_pool_of_the_process() -> None:
    before = cv2.getNumThreads()
    with threadpool_limits(limits=None):  # whatever the test process had, restored afterwards
        try:
            limit_math_threads(1)
            assert cv2.getNumThreads() == 1
            pools = threadpool_info()
            assert pools, "numpy's BLAS pool should be visible to threadpoolctl"
            assert all(pool["num_threads"] == 1 for pool in pools), pools
        finally:
            cv2.setNumThreads(before)
