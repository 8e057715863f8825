"""Drives Toloka's own Python SDK (toloka-kit) against a Toloka API, e.g. the emulator in emulator/.

Usage:
    TOLOKA_TOKEN=... python toloka_kit_peer.py <scenario> --url <origin> [--pool-id ID ...] [--training-id ID]
        [--operation-id ID ...] [--timeout SECONDS] [--http-timeout SECONDS] [--retries N]

`--url` is the origin (http://127.0.0.1:1234): toloka-kit itself appends `/api/v1/...` to it.
The token comes from `--token` or, better (it stays out of `ps`), from the TOLOKA_TOKEN environment variable.

Prints exactly one JSON line on stdout. Exit status 0: the scenario went as it expects, and the line is
`{"scenario": ..., "ok": true, ...what toloka-kit returned or raised...}`. Exit status 1: something unexpected
happened (an exception the scenario did not ask for, or no exception where it asked for one), and the line is
`{"scenario": ..., "ok": false, "unexpected": {...}}`; exit status 2, the same for a usage error. The token
never appears in the output.
"""

import argparse
import datetime
import enum
import json
import os
import sys
import traceback
from decimal import Decimal
from typing import Any, Callable, Dict, List, Optional

import httpx
import toloka.client as toloka
from toloka.client.exceptions import ApiError, FailedOperation
from toloka.client.operations import Operation


class ScenarioError(Exception):
    """The SDK did something other than what the scenario expects of it."""


def plain(value: Any) -> Any:
    """JSON-ready copy of what toloka-kit returned: enums by value, datetimes in ISO 8601 with their zone."""
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def describe_datetime(value: Optional[datetime.datetime]) -> Optional[Dict[str, Any]]:
    if value is None:
        return None
    if not isinstance(value, datetime.datetime):
        raise ScenarioError(f'expected a datetime, toloka-kit gave {type(value).__name__}: {value!r}')
    offset = value.utcoffset()
    return {'iso': value.isoformat(), 'utc_offset_s': None if offset is None else offset.total_seconds()}


def unexpected_fields(obj: Any) -> List[str]:
    """Names of the fields toloka-kit did not recognise: it keeps those aside in `_unexpected`."""
    return sorted(getattr(obj, '_unexpected', None) or {})


def operation_unexpected_fields(op: Operation) -> List[str]:
    # Parsing straight into the concrete class (open_pool_async does) leaves the `type` the server sent in
    # `_unexpected`, with Toloka's own answers too. Only a `type` that disagrees with the class is reported.
    names = unexpected_fields(op)
    if 'type' in names and op._unexpected['type'] == plain(op.type):
        names.remove('type')
    return names


def describe_operation(op: Optional[Operation]) -> Optional[Dict[str, Any]]:
    if op is None:
        return None
    return {
        'class': type(op).__name__,
        'id': op.id,
        'type': plain(op.type),
        'status': plain(op.status),
        'status_class': type(op.status).__name__,
        'progress': op.progress,
        'submitted': describe_datetime(op.submitted),
        'started': describe_datetime(op.started),
        'finished': describe_datetime(op.finished),
        'parameters': plain(op.parameters.unstructure()) if op.parameters is not None else None,
        'parameters_class': type(op.parameters).__name__,
        'details': plain(op.details),
        'is_completed': op.is_completed(),
        'unexpected_fields': operation_unexpected_fields(op),
    }


def describe_resource(resource: Any) -> Dict[str, Any]:
    """A pool or a training, as toloka-kit's `Pool` / `Training` parsed it."""
    described = {
        'class': type(resource).__name__,
        'id': resource.id,
        'project_id': resource.project_id,
        'private_name': resource.private_name,
        'status': plain(resource.status),
        'status_class': type(resource.status).__name__,
        'is_open': resource.is_open(),
        'is_closed': resource.is_closed(),
        'created': describe_datetime(resource.created),
        'last_started': describe_datetime(resource.last_started),
        'last_stopped': describe_datetime(resource.last_stopped),
        'unexpected_fields': unexpected_fields(resource),
    }
    if isinstance(resource, toloka.Pool):
        reason = resource.last_close_reason
        described['last_close_reason'] = plain(reason)
        described['last_close_reason_class'] = None if reason is None else type(reason).__name__
        described['will_expire'] = describe_datetime(resource.will_expire)
    return described


def describe_api_error(error: ApiError) -> Dict[str, Any]:
    return {
        'class': type(error).__name__,
        'status_code': error.status_code,
        'code': error.code,
        'message': error.message,
        'payload': plain(error.payload),
        'request_id': error.request_id,
    }


def record_get_operation(client: toloka.TolokaClient) -> List[Dict[str, Any]]:
    """Makes the client remember every operation `get_operation` parses, including wait_operation's polls."""
    seen: List[Dict[str, Any]] = []
    original = client.get_operation

    def recording(operation_id: str) -> Operation:
        op = original(operation_id)
        seen.append(
            {
                'id': op.id,
                'class': type(op).__name__,
                'type': plain(op.type),
                'status': plain(op.status),
                'progress': op.progress,
                'parameters': plain(op.parameters.unstructure()) if op.parameters is not None else None,
            }
        )
        return op

    # wait_operation calls self.get_operation, so an instance attribute intercepts its polling.
    client.get_operation = recording  # type: ignore[method-assign]
    return seen


def expect_raise(error_class: type, action: Callable[[], Any]) -> BaseException:
    try:
        returned = action()
    except error_class as error:
        return error
    raise ScenarioError(f'expected {error_class.__name__}, toloka-kit returned {plain(returned)!r:.300}')


def one(args: argparse.Namespace, name: str) -> str:
    """The single value this scenario needs of a repeatable option."""
    values = many(args, name)
    if len(values) != 1:
        raise ScenarioError(f'this scenario takes exactly one --{name.replace("_", "-")}')
    return values[0]


def many(args: argparse.Namespace, name: str) -> List[str]:
    values = getattr(args, name) or []
    if not values:
        raise ScenarioError(f'this scenario needs --{name.replace("_", "-")}')
    return values


def wait(client: toloka.TolokaClient, args: argparse.Namespace, op: Operation) -> Operation:
    return client.wait_operation(op, timeout=datetime.timedelta(seconds=args.timeout), disable_progress=True)


# Scenarios: each takes the client and the arguments and returns what to print. The read-only ones take
# their ID option several times and answer a list, one entry per ID: each Python start costs seconds.


def open_pool(client: toloka.TolokaClient, args: argparse.Namespace) -> Dict[str, Any]:
    """toloka-kit's `open_pool`: POST open, wait_operation until terminal, raise_on_fail, then GET the pool."""
    polls = record_get_operation(client)
    pool = client.open_pool(one(args, 'pool_id'))
    return {'pool': describe_resource(pool), 'polls': polls}


def open_pool_async(client: toloka.TolokaClient, args: argparse.Namespace) -> Dict[str, Any]:
    """`open_pool_async` only: the 202 body as toloka-kit parses it (None on 204)."""
    return {'operation': describe_operation(client.open_pool_async(one(args, 'pool_id')))}


def wait_operation(client: toloka.TolokaClient, args: argparse.Namespace) -> Dict[str, Any]:
    """`open_pool_async`, then `wait_operation` on the operation it returned."""
    polls = record_get_operation(client)
    submitted = client.open_pool_async(one(args, 'pool_id'))
    if submitted is None:
        raise ScenarioError('open_pool_async returned None: the pool was already open')
    finished = wait(client, args, submitted)
    return {'submitted': describe_operation(submitted), 'operation': describe_operation(finished), 'polls': polls}


def get_operation(client: toloka.TolokaClient, args: argparse.Namespace) -> Dict[str, Any]:
    return {'operations': [describe_operation(client.get_operation(id_)) for id_ in many(args, 'operation_id')]}


def get_operation_log(client: toloka.TolokaClient, args: argparse.Namespace) -> Dict[str, Any]:
    logs = []
    for id_ in many(args, 'operation_id'):
        items = client.get_operation_log(id_)
        logs.append(
            [
                {
                    'class': type(item).__name__,
                    'type': item.type,
                    'success': item.success,
                    'input': plain(item.input),
                    'output': plain(item.output),
                    'unexpected_fields': unexpected_fields(item),
                }
                for item in items
            ]
        )
    return {'logs': logs}


def get_pool(client: toloka.TolokaClient, args: argparse.Namespace) -> Dict[str, Any]:
    return {'pools': [describe_resource(client.get_pool(id_)) for id_ in many(args, 'pool_id')]}


def open_open_pool(client: toloka.TolokaClient, args: argparse.Namespace) -> Dict[str, Any]:
    """On an open pool: `open_pool_async` gets 204 and returns None; `open_pool` returns the pool, no waiting."""
    pool_id = one(args, 'pool_id')
    polls = record_get_operation(client)
    operation = client.open_pool_async(pool_id)
    pool = client.open_pool(pool_id)
    return {
        'async_returned_none': operation is None,
        'async_operation': describe_operation(operation),
        'pool': describe_resource(pool),
        'polls': polls,
    }


def open_refused(client: toloka.TolokaClient, args: argparse.Namespace) -> Dict[str, Any]:
    """A 409 on open: toloka-kit raises an ApiError subclass chosen by the body's `code`. One entry per pool."""
    errors = []
    for pool_id in many(args, 'pool_id'):
        error = expect_raise(ApiError, lambda: client.open_pool(pool_id))  # noqa: B023 - called at once
        errors.append(describe_api_error(error))  # type: ignore[arg-type]
    return {'errors': errors}


def open_failing(client: toloka.TolokaClient, args: argparse.Namespace) -> Dict[str, Any]:
    """An open whose operation ends FAIL: open_pool waits, then raise_on_fail raises FailedOperation."""
    polls = record_get_operation(client)
    error = expect_raise(FailedOperation, lambda: client.open_pool(one(args, 'pool_id')))
    operation = describe_operation(error.operation)  # type: ignore[attr-defined]
    return {'error_class': type(error).__name__, 'operation': operation, 'polls': polls}


def open_training(client: toloka.TolokaClient, args: argparse.Namespace) -> Dict[str, Any]:
    """toloka-kit's `open_training` (POST, wait, GET the training), then `open_training_async` on the now open
    training: the 204 path, None."""
    polls = record_get_operation(client)
    training_id = one(args, 'training_id')
    training = client.open_training(training_id)
    again = client.open_training_async(training_id)
    return {
        'training': describe_resource(training),
        'polls': polls,
        'async_returned_none': again is None,
        'async_operation': describe_operation(again),
    }


def close_pool(client: toloka.TolokaClient, args: argparse.Namespace) -> Dict[str, Any]:
    """toloka-kit's `close_pool`: like open_pool, through a POOL.CLOSE operation."""
    polls = record_get_operation(client)
    pool = client.close_pool(one(args, 'pool_id'))
    return {'pool': describe_resource(pool), 'polls': polls}


def unauthorized(client: toloka.TolokaClient, args: argparse.Namespace) -> Dict[str, Any]:
    """`get_pool` with a token the API does not accept: toloka-kit raises its 401 error class."""
    error = expect_raise(ApiError, lambda: client.get_pool(one(args, 'pool_id')))
    return {'error': describe_api_error(error)}  # type: ignore[arg-type]


SCENARIOS: Dict[str, Callable[[toloka.TolokaClient, argparse.Namespace], Dict[str, Any]]] = {
    'open_pool': open_pool,
    'open_pool_async': open_pool_async,
    'wait_operation': wait_operation,
    'get_operation': get_operation,
    'get_operation_log': get_operation_log,
    'get_pool': get_pool,
    'open_open_pool': open_open_pool,
    'open_refused': open_refused,
    'open_failing': open_failing,
    'open_training': open_training,
    'close_pool': close_pool,
    'unauthorized': unauthorized,
}


class JsonArgumentParser(argparse.ArgumentParser):
    """Reports a usage error as the one JSON line too, with exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        emit({'scenario': None, 'ok': False, 'unexpected': {'class': 'UsageError', 'message': message}}, '')
        sys.exit(2)


def parse_args(argv: List[str]) -> argparse.Namespace:
    parser = JsonArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('scenario', choices=sorted(SCENARIOS))
    parser.add_argument('--url', required=True, help='the API origin; toloka-kit appends /api/v1')
    parser.add_argument('--token', help='default: the TOLOKA_TOKEN environment variable')
    parser.add_argument('--pool-id', action='append', help='repeatable where the scenario reads several')
    parser.add_argument('--training-id', action='append')
    parser.add_argument('--operation-id', action='append', help='repeatable where the scenario reads several')
    parser.add_argument('--timeout', type=float, default=20.0, help='wait_operation timeout, seconds')
    parser.add_argument('--retries', type=int, default=3, help="toloka-kit's HTTP retries (its default: 3)")
    parser.add_argument('--http-timeout', type=float, default=10.0, help="toloka-kit's per-request timeout (its default: 10)")
    return parser.parse_args(argv)


def emit(line: Dict[str, Any], token: str) -> None:
    text = json.dumps(line, default=repr)
    if token:
        text = text.replace(token, '<redacted>')
    sys.stdout.write(text + '\n')
    sys.stdout.flush()


def main(argv: List[str]) -> int:
    args = parse_args(argv)
    token = args.token or os.environ.get('TOLOKA_TOKEN') or ''
    if not token:
        emit({'scenario': args.scenario, 'ok': False, 'unexpected': {'class': 'UsageError', 'message': 'no token'}}, '')
        return 2
    try:
        client = toloka.TolokaClient(token, url=args.url, retries=args.retries, timeout=args.http_timeout)
        result = SCENARIOS[args.scenario](client, args)
    except Exception as error:  # noqa: BLE001 - everything unexpected is reported, as JSON
        unexpected: Dict[str, Any] = {
            'class': type(error).__name__,
            'message': str(error),
            'traceback': traceback.format_exc(limit=8),
        }
        if isinstance(error, ApiError):
            unexpected.update(describe_api_error(error))
        if isinstance(error, httpx.HTTPStatusError):
            unexpected['status_code'] = error.response.status_code
        emit({'scenario': args.scenario, 'ok': False, 'unexpected': unexpected}, token)
        return 1
    emit({'scenario': args.scenario, 'ok': True, **result}, token)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
