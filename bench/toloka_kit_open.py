"""Opens pools with toloka-kit's own `open_pool` (POST open, wait_operation, GET the pool), one thread
and one TolokaClient per pool, and prints one JSON line per pool when open_pool returns.

Usage:
    TOLOKA_TOKEN=... python toloka_kit_open.py --url <origin> --pool ID:OFFSET_MS [--pool ...]

Each pool is opened OFFSET_MS after the script is ready. The line is
{"poolId", "operationId", "startedAtMs", "returnedAtMs", "ok", "status" | "error"}; times are epoch
milliseconds by the wall clock (time.time()), the clock the emulator's operation dates use.
"""

import argparse
import json
import os
import sys
import threading
import time
from typing import Any, Dict, Optional

import toloka.client as toloka

_print_lock = threading.Lock()


def emit(line: Dict[str, Any]) -> None:
    with _print_lock:
        sys.stdout.write(json.dumps(line) + '\n')
        sys.stdout.flush()


def open_one(url: str, token: str, pool_id: str, start_at: float) -> None:
    client = toloka.TolokaClient(token, url=url, retries=3, timeout=10.0)
    captured: Dict[str, Optional[str]] = {'operation_id': None}
    original = client.open_pool_async

    def recording(pid: str) -> Any:
        operation = original(pid)
        captured['operation_id'] = None if operation is None else operation.id
        return operation

    # open_pool calls self.open_pool_async, so an instance attribute sees the operation it waits for.
    client.open_pool_async = recording  # type: ignore[method-assign]
    time.sleep(max(0.0, start_at - time.time()))
    started = time.time()
    line: Dict[str, Any] = {'poolId': pool_id, 'startedAtMs': round(started * 1000, 1)}
    try:
        pool = client.open_pool(pool_id)
        line.update(ok=True, status=getattr(pool.status, 'value', str(pool.status)))
    except Exception as error:  # noqa: BLE001 - reported, the bench decides
        line.update(ok=False, error=f'{type(error).__name__}: {error}')
    line['returnedAtMs'] = round(time.time() * 1000, 1)
    line['operationId'] = captured['operation_id']
    emit(line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--url', required=True)
    parser.add_argument('--pool', action='append', required=True, help='ID:OFFSET_MS')
    args = parser.parse_args()
    token = os.environ.get('TOLOKA_TOKEN', '')
    if not token:
        emit({'error': 'TOLOKA_TOKEN is not set'})
        return 2
    ready = time.time()
    emit({'ready': True, 'atMs': round(ready * 1000, 1)})
    threads = []
    for spec in args.pool:
        pool_id, _, offset = spec.partition(':')
        start_at = ready + float(offset or 0) / 1000
        thread = threading.Thread(target=open_one, args=(args.url, token, pool_id, start_at), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    return 0


if __name__ == '__main__':
    sys.exit(main())
