"""Tests of the Supvisors logger creation (configuration contract 1.9)."""

import sys

import pytest
from supervisor import loggers

from supvisors.logger import LOGGER_FORMAT, create_logger, set_level
from supvisors.options import LoggingOptions


@pytest.fixture
def supervisor_logger():
    """ A logger built like Supervisor's own one. """
    logger = loggers.getLogger(loggers.LevelsByName.INFO)
    loggers.handle_boundIO(logger, '%(message)s')
    loggers.handle_stdout(logger, '%(asctime)s %(levelname)s %(message)s\n')
    return logger


def close_files(logger) -> None:
    """ Close the file handlers only: closing a stdout handler would close the captured sys.stdout. """
    for handler in logger.handlers:
        if isinstance(handler, loggers.FileHandler):
            handler.close()


def test_format():
    assert LOGGER_FORMAT == '%(asctime)s;%(levelname)s;%(message)s\n'


@pytest.mark.parametrize('nodaemon, silent', [(True, False), (False, False), (True, True)])
def test_auto(supervisor_logger, nodaemon, silent):
    options = LoggingOptions(logfile='AUTO', logfile_maxbytes=10, logfile_backups=1, loglevel=5)
    handlers = list(supervisor_logger.handlers)
    logger = create_logger(options, supervisor_logger, nodaemon, silent)
    assert logger is supervisor_logger
    assert logger.handlers == handlers
    assert all(handler.fmt == LOGGER_FORMAT for handler in logger.handlers)
    # level options have no effect
    assert logger.level == loggers.LevelsByName.INFO
    logger.info('hello')
    assert logger.getvalue().decode().endswith(';INFO;hello\n')


def test_path_daemon(tmp_path):
    path = str(tmp_path / 'supvisors.log')
    options = LoggingOptions(logfile=path, logfile_maxbytes=1024, logfile_backups=2, loglevel=10)
    logger = create_logger(options, None, nodaemon=False, silent=False)
    try:
        assert logger.level == 10
        assert len(logger.handlers) == 1
        handler = logger.handlers[0]
        assert isinstance(handler, loggers.RotatingFileHandler)
        assert handler.baseFilename == path
        assert handler.maxBytes == 1024
        assert handler.backupCount == 2
        assert handler.fmt == LOGGER_FORMAT
        assert handler.level == 10
        logger.debug('first message')
        logger.trace('not written')
    finally:
        close_files(logger)
    lines = (tmp_path / 'supvisors.log').read_text().splitlines()
    assert len(lines) == 1
    assert lines[0].endswith(';DEBG;first message')
    assert len(lines[0].split(';')) == 3


def test_path_rotation(tmp_path):
    path = str(tmp_path / 'supvisors.log')
    options = LoggingOptions(logfile=path, logfile_maxbytes=200, logfile_backups=2, loglevel=20)
    logger = create_logger(options, None, nodaemon=False, silent=False)
    try:
        for idx in range(40):
            logger.info(f'message {idx:04}')
    finally:
        close_files(logger)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ['supvisors.log', 'supvisors.log.1', 'supvisors.log.2']


def test_path_no_rotation(tmp_path):
    path = str(tmp_path / 'supvisors.log')
    options = LoggingOptions(logfile=path, logfile_maxbytes=0, logfile_backups=2, loglevel=20)
    logger = create_logger(options, None, nodaemon=False, silent=False)
    try:
        handler = logger.handlers[0]
        assert type(handler) is loggers.FileHandler
        for idx in range(40):
            logger.info(f'message {idx:04}')
    finally:
        close_files(logger)
    assert [p.name for p in tmp_path.iterdir()] == ['supvisors.log']


@pytest.mark.parametrize('nodaemon, silent, stdout', [(True, False, True), (True, True, False),
                                                      (False, False, False), (False, True, False)])
def test_path_stdout(tmp_path, capsys, nodaemon, silent, stdout):
    path = str(tmp_path / 'supvisors.log')
    options = LoggingOptions(logfile=path, logfile_maxbytes=1024, logfile_backups=2, loglevel=30)
    logger = create_logger(options, None, nodaemon=nodaemon, silent=silent)
    try:
        stream_handlers = [h for h in logger.handlers if isinstance(h, loggers.StreamHandler)
                           and not isinstance(h, loggers.FileHandler)]
        assert len(stream_handlers) == (1 if stdout else 0)
        assert len(logger.handlers) == (2 if stdout else 1)
        if stdout:
            assert stream_handlers[0].stream is sys.stdout
            assert stream_handlers[0].fmt == LOGGER_FORMAT
            assert stream_handlers[0].level == 30
        logger.warn('warned')
        logger.info('filtered')
    finally:
        close_files(logger)
    out = capsys.readouterr().out
    assert ('warned' in out) == stdout
    assert 'filtered' not in out
    assert 'WARN;warned' in (tmp_path / 'supvisors.log').read_text()


def test_set_level(supervisor_logger):
    set_level(supervisor_logger, loggers.LevelsByName.BLAT)
    assert supervisor_logger.level == loggers.LevelsByName.BLAT
    assert all(handler.level == loggers.LevelsByName.BLAT for handler in supervisor_logger.handlers)
    set_level(supervisor_logger, loggers.LevelsByName.CRIT)
    supervisor_logger.error('hidden')
    supervisor_logger.critical('shown')
    assert 'hidden' not in supervisor_logger.getvalue().decode()
    assert 'shown' in supervisor_logger.getvalue().decode()
