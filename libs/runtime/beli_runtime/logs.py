"""Structured JSON logs on stdout, one object per line: ours (structlog) and the libraries' (the
standard library's logging: uvicorn, aiokafka, PyMongo), rendered by the same processors."""

import logging
import sys

import structlog

# Libraries whose INFO lines are noise here: aiokafka is chatty about coordinator churn, httpx and
# httpcore log every request (notifications' own log says which sends failed). Their warnings show.
QUIET = ("aiokafka", "httpx", "httpcore")


def configure_logging(service: str, level: str = "INFO") -> None:
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    # uvicorn gives its loggers handlers of their own (plain text) before the app is imported.
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    # Our middleware logs each request once (`http.request`, with its duration and trace). uvicorn
    # writes its access line whenever `uvicorn.access` has a handler, its own or an ancestor's,
    # whatever `--no-access-log` said: propagated to ours, every request was logged twice.
    access = logging.getLogger("uvicorn.access")
    access.handlers, access.propagate = [], False
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    # configure_logging's wrapper class (make_filtering_bound_logger) is what structlog hands out.
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name)
    return logger
