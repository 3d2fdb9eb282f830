"""Measurement 4: stub open+close cycles per second through one corrald, at
concurrency 1, 4 and 16 (clients each doing open, then DELETE ?grace=0, in
a loop). Cycles that fail are counted, not retried."""
import threading
import time

LEVELS = (1, 4, 16)


def cycles_per_second(daemon, concurrency, cycles):
    """Run `cycles` open+close cycles spread over `concurrency` clients."""
    failures, lock = [], threading.Lock()
    per_client = [cycles // concurrency + (1 if i < cycles % concurrency else 0) for i in range(concurrency)]

    def client(count):
        for _ in range(count):
            status, session = daemon.request("POST", "/v1/sessions", {})
            if status != 201:
                with lock:
                    failures.append(f"open {status}")
                continue
            status, _ = daemon.request("DELETE", f"/v1/sessions/{session['id']}?grace=0")
            if status != 200:
                with lock:
                    failures.append(f"close {status}")

    threads = [threading.Thread(target=client, args=(n,)) for n in per_client]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {"concurrency": concurrency, "cycles": cycles, "seconds": round(elapsed, 2),
            "cycles_per_s": round((cycles - len(failures)) / elapsed, 1), "failures": len(failures),
            "failure_kinds": sorted(set(failures))}
