"""CPython's concurrent.futures on the workloads of benches/compare.rs, for the same table.

Prints one JSON object per line: {"workload": ..., "n": ..., "seconds": [...]}.
Usage: python3 wait_bench.py REPS N_WAIT_ALL DRAIN_N [DRAIN_N ...]
"""
import json
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ALL_COMPLETED, Future, wait


def wait_all_finished(n):
    fs = []
    for i in range(n):
        f = Future()
        f.set_result(i)
        fs.append(f)
    t = time.perf_counter()
    r = wait(fs, return_when=ALL_COMPLETED)
    el = time.perf_counter() - t
    assert len(r.done) == n
    return el


def drain_first_completed(n):
    """Another thread finishes one future per wait() call; the caller loops
    wait(pending, FIRST_COMPLETED) and drops what is done."""
    fs = [Future() for _ in range(n)]
    consumed = threading.Semaphore(0)

    def producer():
        for f in fs:
            f.set_result(1)
            consumed.acquire()

    th = threading.Thread(target=producer)
    t = time.perf_counter()
    th.start()
    pending = set(fs)
    while pending:
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        for _ in done:
            consumed.release()
    el = time.perf_counter() - t
    th.join()
    return el


def round_trip(n):
    """Another thread sets a result; this one blocks on result(). Seconds per round trip."""
    req = [Future() for _ in range(n)]
    go = [threading.Event() for _ in range(n)]

    def producer():
        for i in range(n):
            go[i].wait()
            req[i].set_result(i)

    th = threading.Thread(target=producer)
    th.start()
    t = time.perf_counter()
    for i in range(n):
        go[i].set()
        req[i].result()
    el = (time.perf_counter() - t) / n
    th.join()
    return el


def main():
    reps = int(sys.argv[1])
    n_all = int(sys.argv[2])
    drains = [int(x) for x in sys.argv[3:]]
    out = lambda w, n, s: print(json.dumps({"workload": w, "n": n, "seconds": s}), flush=True)
    out("wait_all_finished", n_all, [wait_all_finished(n_all) for _ in range(reps)])
    out("round_trip", 2000, [round_trip(2000) for _ in range(reps)])
    for n in drains:
        out("drain_first_completed", n, [drain_first_completed(n) for _ in range(max(1, reps // 2))])


if __name__ == "__main__":
    main()
