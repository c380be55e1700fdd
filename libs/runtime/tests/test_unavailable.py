"""Which database errors mean "wait and retry" (never dead-letter the event, answer 503) and
which are the work's own fault."""

from pymongo.errors import AutoReconnect, DuplicateKeyError, OperationFailure, ServerSelectionTimeoutError

from beli_runtime.mongo import database_unavailable


def test_a_database_that_is_away_or_failing_over_is_unavailable() -> None:
    assert database_unavailable(AutoReconnect("connection closed"))
    assert database_unavailable(ServerSelectionTimeoutError("no server"))
    assert database_unavailable(OperationFailure("interrupted at shutdown", code=11600))
    assert database_unavailable(OperationFailure("not primary", code=10107))
    assert database_unavailable(OperationFailure("stepped down", code=189))
    assert database_unavailable(OperationFailure("retry me", code=1, details={"errorLabels": ["RetryableWriteError"]}))


def test_errors_of_the_work_itself_are_not() -> None:
    assert not database_unavailable(DuplicateKeyError("E11000 duplicate key", code=11000))
    assert not database_unavailable(OperationFailure("bad update", code=9))
    assert not database_unavailable(ValueError("a handler bug"))
