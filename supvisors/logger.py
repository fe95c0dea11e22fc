"""Creation of the Supvisors logger (configuration contract, 1.9).

Supervisor's logger implementation is used in both cases so that the plugin keeps Supervisor's logging API
(``warn``, ``blather``, ``trace``...) and its rotation rules.
"""

from typing import Any

from supervisor import loggers

from supvisors.options import AUTO_LOGFILE, LoggingOptions

LOGGER_FORMAT = '%(asctime)s;%(levelname)s;%(message)s\n'


def create_logger(logging_options: LoggingOptions, supervisor_logger: Any, nodaemon: bool, silent: bool) -> Any:
    """ Return the logger to be used by Supvisors.

    With AUTO, Supervisor's own logger is shared and all its handlers take the Supvisors format
    (so Supervisor's lines change format too); the other logging options are then ignored.
    With a path, a dedicated logger writes to that file, rotating when maxbytes > 0,
    and also to stdout when supervisord runs in the foreground and is not silent.
    """
    if logging_options.logfile == AUTO_LOGFILE:
        for handler in supervisor_logger.handlers:
            handler.setFormat(LOGGER_FORMAT)
        return supervisor_logger
    logger = loggers.getLogger(logging_options.loglevel)
    if nodaemon and not silent:
        loggers.handle_stdout(logger, LOGGER_FORMAT)
    maxbytes = logging_options.logfile_maxbytes
    loggers.handle_file(logger, logging_options.logfile, LOGGER_FORMAT, rotating=maxbytes > 0,
                        maxbytes=maxbytes, backups=logging_options.logfile_backups)
    return logger


def set_level(logger: Any, level: int) -> None:
    """ Change the level of the logger and of all its handlers, as handlers filter records on their own level. """
    logger.level = level
    for handler in logger.handlers:
        handler.setLevel(level)
