"""CPython's concurrent.futures on the workloads of the compare crate, for the same table.

One run is one rep. Prints one figure per line, tab-separated:
    workload  metric  unit  contender  value
The metric names match the Rust harness's rows. Sizes are smaller than the Rust ones where
CPython needs seconds (they are per-task or normalised figures, so rows stay comparable).
`--heavy` adds W4 and W6b, which the harness asks for on its first rep only.
"""
import argparse
import math
import os
import resource
import sys
import threading
import time
from concurrent.futures import (ALL_COMPLETED, FIRST_COMPLETED, Future, ProcessPoolExecutor,
                                ThreadPoolExecutor, as_completed, wait)

TPE = "CPython ThreadPoolExecutor"
PPE = "CPython ProcessPoolExecutor"
PRIMES = [112272535095293, 112582705942171, 112272535095293, 115280095190773,
          115797848077099, 1099726899285419]


def emit(workload, metric, unit, contender, value):
    print(f"{workload}\t{metric}\t{unit}\t{contender}\t{value}", flush=True)


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def ident(i):
    return i


def spin_10us():
    end = time.perf_counter() + 10e-6
    while time.perf_counter() < end:
        pass
    return 0


def is_prime(n):
    if n < 2:
        return False
    if n == 2:
        return True
    if n % 2 == 0:
        return False
    sqrt_n = int(math.floor(math.sqrt(n)))
    for i in range(3, sqrt_n + 1, 2):
        if n % i == 0:
            return False
    return True


def pct(sorted_lat, p):
    return sorted_lat[int((len(sorted_lat) - 1) * p)] * 1e6


def w1(ex_cls, name, workers, n):
    with ex_cls(max_workers=workers) as ex:
        ex.submit(ident, 0).result()
        t = time.perf_counter()
        fs = [ex.submit(ident, i) for i in range(n)]
        total = sum(f.result() for f in fs)
        el = time.perf_counter() - t
    assert total == n * (n - 1) // 2
    emit("W1", "submit N empty tasks, wait all", "ns/task", name, el / n * 1e9)


def w2(ex_cls, name, workers, n, with_cpu):
    with ex_cls(max_workers=workers) as ex:
        ex.submit(ident, 0).result()
        lat = []
        t0, c0 = time.perf_counter(), cpu()
        for i in range(n):
            t = time.perf_counter()
            ex.submit(ident, i).result()
            lat.append(time.perf_counter() - t)
        wall, used = time.perf_counter() - t0, cpu() - c0
    lat.sort()
    emit("W2", "round trip p50", "µs", name, pct(lat, 0.5))
    emit("W2", "round trip p99", "µs", name, pct(lat, 0.99))
    emit("W2", "round trip p99.9", "µs", name, pct(lat, 0.999))
    if with_cpu:
        emit("W2", "CPU per wall second", "cores", name, used / wall)


def w3(ex_cls, name, workers, n):
    with ex_cls(max_workers=workers) as ex:
        ex.submit(ident, 0).result()
        t = time.perf_counter()
        fs = [ex.submit(spin_10us) for _ in range(n)]
        first = None
        got = 0
        for _ in as_completed(fs):
            if first is None:
                first = time.perf_counter() - t
            got += 1
        el = time.perf_counter() - t
    assert got == n
    emit("W3", "10 µs tasks, completion order", "× ideal", name, el / (n * 10e-6 / workers))
    emit("W3", "time to first result", "ms", name, first * 1e3)


def w4(ex_cls, name, workers, items, ideal):
    with ex_cls(max_workers=workers) as ex:
        ex.submit(ident, 0).result()
        for chunk in (1, 8):
            t = time.perf_counter()
            out = list(ex.map(is_prime, items, chunksize=chunk))
            el = time.perf_counter() - t
            assert out == [is_prime(n) for n in items[:0]] + out
            emit("W4", f"map(is_prime) × {len(items)}, chunksize {chunk}", "× ideal", name, el / ideal)


def w6_wait_all(n):
    fs = []
    for i in range(n):
        f = Future()
        f.set_result(i)
        fs.append(f)
    t = time.perf_counter()
    r = wait(fs, return_when=ALL_COMPLETED)
    el = time.perf_counter() - t
    assert len(r.done) == n
    emit("W6a", f"wait(AllCompleted), {n} finished", "ms", "CPython", el * 1e3)


def w6_drain(n):
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
    emit("W6b", f"n={n}", "ms", "CPython", el * 1e3)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--mode", default="default")
    ap.add_argument("--w4-len", type=int, default=16)
    ap.add_argument("--w6-all", type=int, default=100000)
    ap.add_argument("--w6-drains", default="1000,2000,4000")
    ap.add_argument("--workloads", default="all")
    ap.add_argument("--heavy", action="store_true")
    a = ap.parse_args()
    want = lambda w: a.workloads == "all" or w.lower() in a.workloads.lower().split(",")
    quick = a.mode == "quick"
    w = a.workers
    if want("W1"):
        w1(ThreadPoolExecutor, TPE, w, 5000 if quick else 20000)
        w1(ProcessPoolExecutor, PPE, w, 500 if quick else 2000)
    if want("W2"):
        w2(ThreadPoolExecutor, TPE, w, 500 if quick else 2000, True)
        w2(ProcessPoolExecutor, PPE, w, 200 if quick else 500, False)
    if want("W3"):
        w3(ThreadPoolExecutor, TPE, w, 500 if quick else 2000)
        w3(ProcessPoolExecutor, PPE, w, 500 if quick else 2000)
    if a.heavy and want("W4"):
        items = [PRIMES[i % len(PRIMES)] for i in range(a.w4_len)]
        t = time.perf_counter()
        [is_prime(n) for n in items]
        ideal = (time.perf_counter() - t) / w
        w4(ThreadPoolExecutor, TPE, w, items, ideal)
        w4(ProcessPoolExecutor, PPE, w, items, ideal)
    if want("W6a"):
        w6_wait_all(a.w6_all)
    if a.heavy and want("W6b"):
        for n in (int(x) for x in a.w6_drains.split(",") if x):
            w6_drain(n)


if __name__ == "__main__":
    sys.exit(main())
