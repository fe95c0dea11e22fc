"""Parameters of a dashboard request: validation (interfaces 3.3), link building (3.4) and messages (3.5).

A ViewContext is built for each request from the merged query and form values. Invalid values are replaced by
their default and reported as an error message; the redirection that follows an action or an error is built
from the corrected parameters, so that a bad value can never cause a redirection loop.
"""

import math
import time
from typing import Any, Dict, List, Mapping, Optional, Tuple
from urllib.parse import quote

from ..ttypes import StartingStrategies, enum_by_name

# parameter names
IDENTIFIER = 'ident'
APPLI_NAME = 'appliname'
ACTION = 'action'
NAMESPEC = 'namespec'
PROCESS_NAME = 'processname'
PERIOD = 'period'
STRATEGY = 'strategy'
CPU = 'cpuid'
INTF = 'intfname'
AUTO = 'auto'
SHRINK_EXPAND = 'shex'
LIMIT = 'limit'
MESSAGE = 'message'
GRAVITY = 'gravity'

# parameters kept in every link built by a page (3.4)
URL_PARAMETERS = (STRATEGY, AUTO, IDENTIFIER, APPLI_NAME, PROCESS_NAME, NAMESPEC, SHRINK_EXPAND, PERIOD, CPU, INTF)

# message gravities
INFO, WARN, ERROR = 'info', 'warn', 'erro'
GRAVITIES = (INFO, WARN, ERROR)

SUPERVISORD = 'supervisord'
DEFAULT_LIMIT = 1024

_TRUE_WORDS = ('y', 'yes', 't', 'true', 'on', '1')
_FALSE_WORDS = ('n', 'no', 'f', 'false', 'off', '0')


def strtobool(value: str) -> bool:
    """ distutils' strtobool (removed from recent Pythons): ValueError when the value is not boolean-like. """
    lowered = value.lower()
    if lowered in _TRUE_WORDS:
        return True
    if lowered in _FALSE_WORDS:
        return False
    raise ValueError(value)


def format_message(text: str, identifier: Optional[str] = None) -> str:
    """ '<text> at <ctime>' (+ ' on <identifier>'): the texts built by Supvisors. """
    message = f'{text} at {time.ctime()}'
    return f'{message} on {identifier}' if identifier else message


def info_message(text: str, identifier: Optional[str] = None) -> Tuple[str, str]:
    return INFO, format_message(text, identifier)


def warn_message(text: str, identifier: Optional[str] = None) -> Tuple[str, str]:
    return WARN, format_message(text, identifier)


def error_message(text: str, identifier: Optional[str] = None) -> Tuple[str, str]:
    return ERROR, format_message(text, identifier)


def supervisor_message(text: str) -> Tuple[str, str]:
    """ A message from Supervisor's status view: gravity guessed from its words, 'ERROR: ' prefix removed. """
    if 'ERROR' in text:
        return ERROR, text.replace('ERROR: ', '')
    if 'unexpected rpc fault' in text:
        return WARN, text
    return INFO, text


def build_query(parameters: Mapping[str, Any]) -> str:
    """ Falsy values dropped, keys sorted, values str()-ed and quoted. """
    return '&'.join(f'{key}={quote(str(value))}' for key, value in sorted(parameters.items()) if value)


class ViewContext:
    """ The validated parameters of one page request and the means to build its links. """

    def __init__(self, dashboard, page: str, form: Mapping[str, str], server_url: str = '', path: str = ''):
        """ dashboard gives access to the runtime (fleet model, mapper, options, statistics). """
        self.dashboard = dashboard
        self.page = page
        self.form = form
        self.server_url = server_url
        self.path = path or f'/{page}'
        self.parameters: Dict[str, Any] = {}
        self.errors: List[str] = []
        self.message: Optional[Tuple[str, str]] = None  # (gravity, text) to display
        self.action: Optional[str] = form.get(ACTION) or None
        self._validate()

    # ------------------------------------------------------------------ shortcuts
    @property
    def runtime(self):
        return self.dashboard.runtime

    @property
    def local_identifier(self) -> str:
        return self.runtime.mapper.local_identifier

    def get(self, name: str, default: Any = None) -> Any:
        return self.parameters.get(name, default)

    @property
    def identifier(self) -> str:
        return self.parameters[IDENTIFIER]

    @property
    def auto(self) -> bool:
        return bool(self.parameters.get(AUTO))

    @property
    def period(self) -> Optional[int]:
        return self.parameters.get(PERIOD)

    @property
    def strategy(self) -> StartingStrategies:
        return enum_by_name(StartingStrategies, self.parameters[STRATEGY])

    # ------------------------------------------------------------------ validation (3.3)
    def _error(self, text: str) -> None:
        self.errors.append(text)

    def _validate(self) -> None:
        runtime = self.runtime
        form = self.form
        # auto first: the wait argument of the actions depends on it
        self.parameters[AUTO] = self._boolean(AUTO, False)
        self.parameters[STRATEGY] = self._choice(STRATEGY, [x.name for x in StartingStrategies],
                                                 runtime.options.starting_strategy.name)
        self.parameters[IDENTIFIER] = self._choice(IDENTIFIER, list(runtime.mapper.instances), self.local_identifier)
        applications = runtime.core.context.applications
        self.parameters[APPLI_NAME] = self._choice(APPLI_NAME, list(applications), None)
        self.parameters[NAMESPEC] = self._namespec(form.get(NAMESPEC))
        periods = list(self.dashboard.statistics.periods)
        self.parameters[PERIOD] = self._integer_choice(PERIOD, periods, periods[0] if periods else None)
        self.parameters[PROCESS_NAME] = self._process_name(form.get(PROCESS_NAME))
        nb_cores = self.dashboard.statistics.nb_cores(self.local_identifier)
        self.parameters[CPU] = self._integer_choice(CPU, list(range(nb_cores + 1)), 0)
        interfaces = self.dashboard.interface_names(self.parameters[PERIOD])
        self.parameters[INTF] = self._choice(INTF, interfaces, interfaces[0] if interfaces else None)
        self.parameters[SHRINK_EXPAND] = self._shex(form.get(SHRINK_EXPAND))
        limit = form.get(LIMIT)
        if limit and not limit.isdigit():
            self._error(f'{LIMIT} is not an integer: {limit}')
            limit = None
        self.parameters[LIMIT] = int(limit) if limit else DEFAULT_LIMIT
        message, gravity = form.get(MESSAGE), form.get(GRAVITY)
        if message:
            self.message = (gravity if gravity in GRAVITIES else INFO, message)

    def _boolean(self, name: str, default: bool) -> bool:
        value = self.form.get(name)
        if not value:
            return default
        try:
            return strtobool(value)
        except ValueError:
            self._error(f'{name} is not a boolean-like: {value}')
            return default

    def _choice(self, name: str, allowed: List[Any], default: Any) -> Any:
        value = self.form.get(name)
        if not value:
            return default
        if value not in allowed:
            self._error(f'Incorrect {name}: {value}')
            return default
        return value

    def _integer_choice(self, name: str, allowed: List[int], default: Optional[int]) -> Optional[int]:
        value = self.form.get(name)
        if not value:
            return default
        try:
            number = int(value)
        except ValueError:
            self._error(f'{name} is not an integer: {value}')
            return default
        if number not in allowed:
            self._error(f'Incorrect {name}: {value}')
            return default
        return number

    def _namespec(self, value: Optional[str]) -> Optional[str]:
        if not value:
            return None
        context = self.runtime.core.context
        name = value[:-1] if value.endswith(':') else value
        if name in context.applications or context.get_process(value) is not None:
            return value
        self._error(f'Incorrect {NAMESPEC}: {value}')
        return None

    def _process_name(self, value: Optional[str]) -> Optional[str]:
        if not value:
            return None
        if value == SUPERVISORD:
            return value
        process = self.runtime.core.context.get_process(value)
        if process is None or not process.running_on(self.parameters[IDENTIFIER]):
            self._error(f'Incorrect {PROCESS_NAME}: {value}')
            return None
        return value

    def _shex(self, value: Optional[str]) -> bytes:
        size = math.ceil(len(self.runtime.core.context.applications) / 8)
        default = b'\xff' * size
        if not value:
            return default
        try:
            decoded = bytes.fromhex(value)
        except ValueError:
            decoded = b''
        if len(decoded) != size:
            self.dashboard.logger.debug(f'ViewContext: invalid {SHRINK_EXPAND} {value!r}, all expanded')
            return default
        return decoded

    # ------------------------------------------------------------------ shex helpers
    def application_index(self, application_name: str) -> int:
        return list(self.runtime.core.context.applications).index(application_name)

    def is_expanded(self, application_name: str) -> bool:
        idx = self.application_index(application_name)
        shex = self.parameters[SHRINK_EXPAND]
        return bool(shex[idx // 8] & (1 << (idx % 8))) if idx // 8 < len(shex) else True

    def toggled_shex(self, application_name: str) -> str:
        """ The shex value with the bit of this application inverted. """
        idx = self.application_index(application_name)
        shex = bytearray(self.parameters[SHRINK_EXPAND])
        shex[idx // 8] ^= 1 << (idx % 8)
        return shex.hex()

    # ------------------------------------------------------------------ links (3.4)
    def url_parameters(self, **overrides: Any) -> Dict[str, Any]:
        values = {key: self.parameters.get(key) for key in URL_PARAMETERS}
        shex = values[SHRINK_EXPAND]
        values[SHRINK_EXPAND] = shex.hex() if isinstance(shex, bytes) else shex
        values.update(overrides)
        return values

    def format_url(self, identifier: Optional[str], page: str, **overrides: Any) -> str:
        """ Relative link without identifier; absolute link to the instance otherwise (shex dropped elsewhere). """
        values = self.url_parameters(**overrides)
        prefix = ''
        if identifier:
            instance = self.runtime.mapper.instances[identifier]
            if identifier != self.local_identifier:
                values.pop(SHRINK_EXPAND, None)
            prefix = f'http://{quote(instance.host_name)}:{instance.http_port}/'
        return f'{prefix}{page}?{build_query(values)}'

    def redirect_location(self, message: Optional[Tuple[str, str]], path: Optional[str] = None) -> str:
        """ Where to go after an action or a parameter error: the corrected parameters plus the message. """
        values = self.url_parameters()
        if message:
            values[GRAVITY], values[MESSAGE] = message
        return f'{self.server_url}{path or self.path}?{build_query(values)}'

    # ------------------------------------------------------------------ messages
    def parameter_error_message(self) -> Optional[Tuple[str, str]]:
        """ The first parameter error as an erro message, None if all the parameters are valid. """
        return error_message(self.errors[0]) if self.errors else None
