"""What the event interface clients share, whatever the transport (PyZMQ or websocket): the topics, the
dispatch of an event to the on_* callbacks, and a Supervisor logger.

Kept free of any optional dependency, so that the websocket client works without PyZMQ.
"""

from typing import Any

from supervisor import loggers
from supervisor.loggers import LevelsByName


class EventHeaders:
    """ The topic strings of the event interface. """
    SUPVISORS = 'supvisors'
    INSTANCE = 'instance'
    APPLICATION = 'application'
    PROCESS_EVENT = 'event'
    PROCESS_STATUS = 'process'


EVENT_HEADERS = (EventHeaders.SUPVISORS, EventHeaders.INSTANCE, EventHeaders.APPLICATION,
                 EventHeaders.PROCESS_EVENT, EventHeaders.PROCESS_STATUS)


def create_logger(logfile: str = 'subscriber.log', loglevel: int = LevelsByName.INFO,
                  fmt: str = '%(asctime)s;%(levelname)s;%(message)s\n', rotating: bool = True,
                  maxbytes: int = 10485760, backups: int = 1, stdout: bool = True) -> Any:
    """ Return a Supervisor logger (the API the Supvisors classes expect: warn, trace, blather...), writing to a
    rotating file and, optionally, to stdout. """
    logger = loggers.getLogger(loglevel)
    if stdout:
        loggers.handle_stdout(logger, fmt)
    loggers.handle_file(logger, logfile, fmt, rotating, maxbytes, backups)
    return logger


class EventCallbacks:
    """ Dispatch of the events to overridable callbacks; the default callbacks only log the payload.

    The class using it must have a logger attribute.
    """

    logger: Any

    def dispatch(self, header: str, body: Any) -> None:
        """ Call the callback of the topic; an unknown topic is logged as an error and dropped. """
        if header == EventHeaders.SUPVISORS:
            self.on_supvisors_status(body)
        elif header == EventHeaders.INSTANCE:
            self.on_instance_status(body)
        elif header == EventHeaders.APPLICATION:
            self.on_application_status(body)
        elif header == EventHeaders.PROCESS_EVENT:
            self.on_process_event(body)
        elif header == EventHeaders.PROCESS_STATUS:
            self.on_process_status(body)
        else:
            self.logger.error(f'{type(self).__name__}: unexpected event header: {header}')

    def on_supvisors_status(self, data: Any) -> None:
        self.logger.info(f'got Supvisors Status message: {data}')

    def on_instance_status(self, data: Any) -> None:
        self.logger.info(f'got Instance Status message: {data}')

    def on_application_status(self, data: Any) -> None:
        self.logger.info(f'got Application Status message: {data}')

    def on_process_event(self, data: Any) -> None:
        self.logger.info(f'got Process Event message: {data}')

    def on_process_status(self, data: Any) -> None:
        self.logger.info(f'got Process Status message: {data}')
