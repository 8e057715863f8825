"""moto_server, with DynamoDB's requests applied one at a time.

moto's threaded server checks a ConditionExpression and then writes the item as two separate
steps, with no lock between them, so two conditional writes to one item at once can both pass
their condition (seen with two concurrent decides on moto 5.2.5). DynamoDB itself applies the
writes to an item one after the other, and that is the guarantee the openings ledger is built
on. Serialising moto's DynamoDB handler restores it; SQS, SSM and EventBridge run as before,
concurrently (an SQS long poll must not hold the others up).

Usage: moto-server.py [moto_server's own options]
"""

import threading

from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_one_at_a_time = threading.Lock()
_call_action = DynamoHandler.call_action


def _serialised_call_action(self):  # type: ignore[no-untyped-def]
    with _one_at_a_time:
        return _call_action(self)


DynamoHandler.call_action = _serialised_call_action  # type: ignore[method-assign]

if __name__ == "__main__":
    main()
