"""Throughput of masking secret values in run output (app/domain/secret_mask.py), per
chunk size and number of secrets, with a secret split across every chunk boundary.

Run: .venv/bin/python bench/bench_secret_masking.py
"""

from __future__ import annotations

import time

from app.domain.secret_mask import Secrets, mask_chunk

TOTAL = 32 * 1024 * 1024  # bytes of output per case


def mb_per_second(chunk_size: int, secret_count: int) -> float:
    secrets = Secrets.of([f"secret-value-{i:04d}-xyz" for i in range(secret_count)])
    line = b"some ordinary log line with numbers 12345 and secret-value-0000-xyz inside\n"
    chunk = (line * (chunk_size // len(line) + 1))[:chunk_size]
    held = b""
    start = time.perf_counter()
    for _ in range(TOTAL // chunk_size):
        masked = mask_chunk(secrets, held + chunk)
        held = masked.held
    return TOTAL / (time.perf_counter() - start) / 1e6


def main() -> None:
    print("chunk bytes  secrets  MB/s")
    for chunk_size in (4096, 65536, 262144):
        for count in (1, 10, 100):
            print(f"{chunk_size:>11}  {count:>7}  {mb_per_second(chunk_size, count):7.1f}")


if __name__ == "__main__":
    main()
