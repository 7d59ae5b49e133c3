#!/usr/bin/env python3
"""Time to first token and tokens/s of a running `amusd serve`, seen by streaming clients (standard library only).

    bench_server.py --port P --strategy amusd --clients 4 --requests 8 --max-tokens 128 [--prompts FILE]

Each of --clients threads sends its share of --requests streamed completions one after another (temperature 0,
ignore_eos, so every request generates exactly --max-tokens). Per request: TTFT = from sending the request to the
first text chunk (queueing included); decode rate = (tokens - 1) / (last chunk - first chunk). Aggregate throughput =
all tokens / wall time. Prints one JSON line.
"""

import argparse
import json
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from client import Client, sse_data  # noqa: E402


def one_request(cl, prompt, args):
    body = {"prompt": prompt, "max_tokens": args.max_tokens, "temperature": 0, "ignore_eos": True,
            "strategy": args.strategy, "stream": True}
    conn = cl.connect()
    t0 = time.monotonic()
    conn.request("POST", "/v1/completions", body=json.dumps(body), headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError(f"status {resp.status}: {resp.read()!r}")
    t_first = t_last = None
    usage, spec = None, None
    for data in sse_data(resp):
        if data == "[DONE]":
            break
        ev = json.loads(data)
        if "error" in ev:
            raise RuntimeError(ev["error"])
        now = time.monotonic()
        if any(c.get("text") for c in ev.get("choices", [])):
            t_first = t_first or now
            t_last = now
        usage = ev.get("usage", usage)
        spec = ev.get("speculative", spec)
    conn.close()
    n = usage["completion_tokens"]
    return {"ttft_s": t_first - t0, "decode_tps": (n - 1) / (t_last - t_first) if t_last > t_first else 0.0,
            "tokens": n, "total_s": t_last - t0, "accepted": spec["accepted"], "drafted": spec["drafted"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--strategy", default="ar")
    ap.add_argument("--clients", type=int, default=1)
    ap.add_argument("--requests", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--prompts",
                    default=os.path.join(os.path.dirname(__file__), "../../../shared/datasets/stories-prompts.txt"))
    args = ap.parse_args()
    prompts = [p for p in open(args.prompts).read().splitlines() if p]
    cl = Client(args.port, timeout=600)
    cl.post("/v1/completions", {"prompt": prompts[0], "max_tokens": 4, "strategy": args.strategy})  # warm-up

    results, lock, next_i = [], threading.Lock(), [0]

    def client_loop():
        while True:
            with lock:
                i = next_i[0]
                next_i[0] += 1
            if i >= args.requests:
                return
            r = one_request(cl, prompts[i % len(prompts)], args)
            with lock:
                results.append(r)

    t0 = time.monotonic()
    threads = [threading.Thread(target=client_loop) for _ in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    tokens = sum(r["tokens"] for r in results)
    drafted = sum(r["drafted"] for r in results)
    print(json.dumps({
        "strategy": args.strategy, "clients": args.clients, "requests": len(results), "max_tokens": args.max_tokens,
        "ttft_ms_median": round(1000 * statistics.median(r["ttft_s"] for r in results), 1),
        "ttft_ms_max": round(1000 * max(r["ttft_s"] for r in results), 1),
        "decode_tps_median": round(statistics.median(r["decode_tps"] for r in results), 1),
        "aggregate_tps": round(tokens / wall, 1),
        "acceptance_rate": round(sum(r["accepted"] for r in results) / drafted, 3) if drafted else None,
        "wall_s": round(wall, 2)}))


if __name__ == "__main__":
    main()
