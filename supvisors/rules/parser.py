"""Rules files: loading into registries, element lookup, and assembly of application and process rules.

Loading is all-or-nothing: any file that cannot be read, parsed or validated leaves the system without rules
at all, so that a half-loaded rules set never drives a deployment.

The resolution functions are pure: everything that comes from supervisord (the instance identifiers, the default
starting strategy, the local process index and autorestart setting) is passed by the caller, so the whole
precedence logic is testable without a running supervisord.
"""

import re
import sys
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from importlib import resources
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, TextIO, Tuple, Type, TypeVar, Union
from xml.etree import ElementTree

from supvisors.rules.model import (ALL_IDENTIFIERS, APPLICATION_RUNNING_FAILURES, HASH_IDENTIFIER, UNSET_SEQUENCE,
                                   ApplicationRules, ProcessRules)
from supvisors.ttypes import (DistributionRules, RunningFailureStrategies, StartingFailureStrategies,
                              StartingStrategies, make_namespec)

# an XML element of either lxml or xml.etree.ElementTree (both offer find, findall, get and text)
Element = Any

SCHEMA_PACKAGE = 'supvisors'
SCHEMA_RESOURCE = 'rules.xsd'

CANNOT_PARSE_MSG = 'Supvisors: cannot parse rules files: {files} - {reason}'
NOT_VALIDATED_MSG = 'XML NOT validated: {filename}'
NO_RULES_FILES_REASON = 'rules_files not set'


@dataclass
class ApplicationEntry:
    """ An application element with its own program patterns (they are never shared between elements). """

    element: Element
    program_patterns: Dict[str, Element] = field(default_factory=dict)


class RulesParser:
    """ The union of the rules files, as registries global across files.

    Registries are plain dicts: a redefinition replaces the value but keeps the first insertion position,
    which is the registration order expected by the pattern tie-break and by the alias expansion.
    """

    def __init__(self, files: Iterable[str] = (), identifiers: Iterable[str] = ()) -> None:
        self.files: List[str] = list(files)
        self.identifiers: List[str] = list(identifiers)
        # every application element, in file order then document order (exact-name lookup)
        self.applications: List[ApplicationEntry] = []
        self.aliases: Dict[str, List[str]] = {}
        self.models: Dict[str, Element] = {}
        self.application_patterns: Dict[str, ApplicationEntry] = {}
        # patterns already reported as invalid, so that the ERROR is logged once
        self._invalid_patterns: Set[str] = set()

    def register(self, root: Element) -> None:
        """ Register the direct children of a document element (its tag is not checked here). """
        for element in root.findall('alias'):
            name, text = element.get('name'), element.text
            if name is not None and text:
                self.aliases[name] = [item.strip() for item in text.split(',')]
        for element in root.findall('model'):
            name = element.get('name')
            if name is not None:
                self.models[name] = element
        for element in root.findall('application'):
            entry = ApplicationEntry(element)
            for program in element.findall('programs/program'):
                pattern = program.get('pattern')
                if pattern is not None:
                    entry.program_patterns[pattern] = program
            self.applications.append(entry)
            pattern = element.get('pattern')
            if pattern is not None:
                self.application_patterns[pattern] = entry

    # lookup
    def find_application(self, application_name: str, logger: Any) -> Optional[ApplicationEntry]:
        """ Exact name first across all files, then the best application pattern; None means unmanaged. """
        for entry in self.applications:
            if entry.element.get('name') == application_name:
                return entry
        pattern = self.best_pattern(self.application_patterns, application_name, logger)
        return None if pattern is None else self.application_patterns[pattern]

    def find_program(self, entry: ApplicationEntry, process_name: str, logger: Any) -> Optional[Element]:
        """ Exact process name inside the application element only, then its own best program pattern. """
        for program in entry.element.findall('programs/program'):
            if program.get('name') == process_name:
                return program
        pattern = self.best_pattern(entry.program_patterns, process_name, logger)
        return None if pattern is None else entry.program_patterns[pattern]

    def best_pattern(self, patterns: Iterable[str], name: str, logger: Any) -> Optional[str]:
        """ Most specific pattern: greatest length of the leftmost match, ties to the first registered.

        An invalid regular expression is reported once and never matches, instead of breaking the lookup.
        """
        best: Optional[str] = None
        best_score = -1
        for pattern in patterns:
            try:
                match = re.search(f'({pattern})', name)
            except Exception as exc:  # noqa: BLE001 - re.error, but also overflows of huge repeat counts
                if pattern not in self._invalid_patterns:
                    self._invalid_patterns.add(pattern)
                    logger.error(f'RulesParser: invalid pattern={pattern!r} ignored ({exc})')
                continue
            if match is not None and len(match.group(0)) > best_score:
                best, best_score = pattern, len(match.group(0))
        return best


# file parsing
@lru_cache(maxsize=None)
def _rules_schema() -> Any:
    """ The schema shipped in the package, built once. """
    from lxml import etree
    data = resources.files(SCHEMA_PACKAGE).joinpath(SCHEMA_RESOURCE).read_bytes()
    return etree.XMLSchema(etree.fromstring(data))


def _lxml_available() -> bool:
    try:
        import lxml.etree  # noqa: F401
    except ImportError:
        return False
    return True


def _parse_validated(filename: str, stderr: TextIO) -> Element:
    """ Parse with lxml and validate; the schema error log goes to stderr so the user sees why. """
    from lxml import etree
    schema = _rules_schema()
    tree = etree.parse(filename)
    if not schema.validate(tree):
        print(schema.error_log, file=stderr)
        first = schema.error_log[0] if len(schema.error_log) else None
        detail = f' (line {first.line}: {first.message})' if first is not None else ''
        raise ValueError(NOT_VALIDATED_MSG.format(filename=filename) + detail)
    return tree.getroot()


def _parse_lenient(filename: str) -> Element:
    """ Parse without any validation (no lxml available). """
    return ElementTree.parse(filename).getroot()


def _file_parser(use_lxml: Optional[bool], stderr: TextIO) -> Callable[[str], Element]:
    if use_lxml is None:
        use_lxml = _lxml_available()
    if use_lxml:
        # fail now if lxml or the schema is missing, so that nothing is half-loaded
        _rules_schema()
        return lambda filename: _parse_validated(filename, stderr)
    return _parse_lenient


def load_rules(rules_files: Optional[List[str]], identifiers: List[str], logger: Any,
               stderr: Optional[TextIO] = None, use_lxml: Optional[bool] = None) -> Optional[RulesParser]:
    """ Build the rules parser from the rules files, in list order.

    Returns a parser holding the union of the files (case A), an empty parser when the list is empty (case B),
    or None after a WARN when the option is not set or when any file fails (case C).
    ``use_lxml``: None selects lxml (validating) when it can be imported, True forces it, False forces the
    lenient ElementTree mode.
    """
    try:
        if rules_files is None:
            raise ValueError(NO_RULES_FILES_REASON)
        parse = _file_parser(use_lxml, stderr if stderr is not None else sys.stderr)
        parser = RulesParser(rules_files, identifiers)
        for filename in rules_files:
            parser.register(parse(filename))
    except Exception as exc:  # noqa: BLE001 - any failure means no rules at all, never a fatal error
        logger.warn(CANNOT_PARSE_MSG.format(files=rules_files, reason=exc))
        return None
    return parser


# ---------------------------------------------------------------------------------------------------------------------
# rules assembly
# ---------------------------------------------------------------------------------------------------------------------

E = TypeVar('E', bound=Enum)

# program -> model -> model: a third model level is not applied
MAX_REFERENCE_DEPTH = 3

TRUE_VALUES = ('y', 'yes', 't', 'true', 'on', '1')
FALSE_VALUES = ('n', 'no', 'f', 'false', 'off', '0')

# application names eligible to '#': a trailing -N or _N
APPLICATION_INDEX_REGEX = re.compile(r'^.*[-_](\d+)$')


# ---------------------------------------------------------------------------------------------------------------------
# identifiers
# ---------------------------------------------------------------------------------------------------------------------

def resolve_identifiers_text(text: str, aliases: Dict[str, List[str]], identifiers: List[str], logger: Any,
                             context: str = '') -> List[str]:
    """ Resolve the text of an identifiers element into a list that may end with '#'.

    Aliases are expanded in registration order, once each, in place of their first occurrence: an alias can
    therefore only use aliases registered after it, and leftover alias names are dropped as unknown.
    """
    items = [item.strip() for item in text.split(',')]
    for alias_name, alias_items in aliases.items():
        if alias_name in items:
            position = items.index(alias_name)
            items[position:position + 1] = alias_items
    hashed = HASH_IDENTIFIER in items
    if ALL_IDENTIFIERS in items:
        result = [ALL_IDENTIFIERS]
    else:
        result = []
        for item in items:
            if item == HASH_IDENTIFIER:
                continue
            if item not in identifiers:
                logger.warn(f'RulesParser: identifier={item} invalid{_in(context)}')
            elif item not in result:
                result.append(item)
    if hashed:
        result.append(HASH_IDENTIFIER)
    return result


def store_identifiers(rules: Union[ApplicationRules, ProcessRules], result: List[str]) -> None:
    """ Store a resolved identifiers list.

    A previous '#' reference list is deliberately kept when the new list has no '#' (upstream behaviour),
    so a '#' set by a model is still resolved when the program overrides the identifiers.
    """
    if HASH_IDENTIFIER in result:
        others = [item for item in result if item != HASH_IDENTIFIER]
        rules.hash_identifiers = [ALL_IDENTIFIERS] if not others or ALL_IDENTIFIERS in others else others
        rules.identifiers = []
    elif ALL_IDENTIFIERS in result:
        rules.identifiers = [ALL_IDENTIFIERS]
    else:
        rules.identifiers = result


def _hash_reference(rules: Union[ApplicationRules, ProcessRules], identifiers: List[str]) -> List[str]:
    return list(identifiers) if rules.hash_identifiers == [ALL_IDENTIFIERS] else rules.hash_identifiers


def _in(context: str) -> str:
    return f' in {context}' if context else ''


# ---------------------------------------------------------------------------------------------------------------------
# element values
# ---------------------------------------------------------------------------------------------------------------------

class _ElementReader:
    """ Checked values of the children of one element; None when absent (empty text) or invalid (logged). """

    def __init__(self, element: Element, context: str, logger: Any) -> None:
        self.element = element
        self.context = context
        self.logger = logger

    def text(self, tag: str) -> Optional[str]:
        # the first occurrence is used; an empty element counts as absent
        child = self.element.find(tag)
        if child is None:
            return None
        return child.text or None

    def _invalid(self, level: str, tag: str, text: str, expected: str) -> None:
        getattr(self.logger, level)(f'RulesParser: invalid value for {tag}: {text!r}{_in(self.context)}'
                                    f' ({expected} expected)')

    def _integer(self, tag: str, valid: Callable[[int], bool], level: str, expected: str) -> Optional[int]:
        """ int() of the text (sign and surrounding blanks allowed); an invalid value is logged and ignored. """
        text = self.text(tag)
        if text is None:
            return None
        try:
            value: Optional[int] = int(text)
        except ValueError:
            value = None
        if value is None or not valid(value):
            self._invalid(level, tag, text, expected)
            return None
        return value

    def sequence(self, tag: str) -> Optional[int]:
        return self._integer(tag, lambda value: value >= 0, 'error', 'integer >= 0')

    def loading(self, tag: str) -> Optional[int]:
        return self._integer(tag, lambda value: 0 <= value <= 100, 'warn', 'integer in [0;100]')

    def boolean(self, tag: str) -> Optional[bool]:
        # strtobool semantics: case-insensitive but no trimming
        text = self.text(tag)
        if text is None:
            return None
        lowered = text.lower()
        if lowered in TRUE_VALUES:
            return True
        if lowered in FALSE_VALUES:
            return False
        self._invalid('warn', tag, text, 'boolean')
        return None

    def enum(self, tag: str, klass: Type[E]) -> Optional[E]:
        text = self.text(tag)
        if text is None:
            return None
        member = klass.__members__.get(text)
        if member is None:
            self._invalid('warn', tag, text, f'one of {", ".join(klass.__members__)}')
        return member


def _apply_common(reader: _ElementReader, rules: Union[ApplicationRules, ProcessRules], parser: RulesParser,
                  identifiers: List[str]) -> None:
    """ Values shared by application, program and model elements. """
    text = reader.text('identifiers')
    if text is not None:
        store_identifiers(rules, resolve_identifiers_text(text, parser.aliases, identifiers, reader.logger,
                                                          reader.context))
    for tag in ('start_sequence', 'stop_sequence'):
        value = reader.sequence(tag)
        if value is not None:
            setattr(rules, tag, value)
    starting_failure = reader.enum('starting_failure_strategy', StartingFailureStrategies)
    if starting_failure is not None:
        rules.starting_failure_strategy = starting_failure
    running_failure = reader.enum('running_failure_strategy', RunningFailureStrategies)
    if running_failure is not None:
        rules.running_failure_strategy = running_failure


def _apply_application_element(element: Element, rules: ApplicationRules, parser: RulesParser,
                                identifiers: List[str], context: str, logger: Any) -> None:
    reader = _ElementReader(element, context, logger)
    distribution = reader.enum('distribution', DistributionRules)
    if distribution is not None:
        rules.distribution = distribution
    starting_strategy = reader.enum('starting_strategy', StartingStrategies)
    if starting_strategy is not None:
        rules.starting_strategy = starting_strategy
    _apply_common(reader, rules, parser, identifiers)


def _apply_program_element(element: Element, rules: ProcessRules, parser: RulesParser,
                           identifiers: List[str], context: str, logger: Any) -> None:
    reader = _ElementReader(element, context, logger)
    _apply_common(reader, rules, parser, identifiers)
    for tag in ('required', 'wait_exit'):
        value = reader.boolean(tag)
        if value is not None:
            setattr(rules, tag, value)
    loading = reader.loading('expected_loading')
    if loading is not None:
        rules.expected_loading = loading


def _load_program_element(element: Element, budget: int, rules: ProcessRules, parser: RulesParser,
                          identifiers: List[str], context: str, logger: Any) -> None:
    """ Apply the referenced model first (deeper first), then the element; an exhausted budget applies nothing. """
    if budget == 0:
        logger.warn(f'RulesParser: maximum number of references reached{_in(context)}')
        return
    reference = _ElementReader(element, context, logger).text('reference')
    if reference is not None:
        model = parser.models.get(reference)
        if model is not None:
            _load_program_element(model, budget - 1, rules, parser, identifiers, context, logger)
    _apply_program_element(element, rules, parser, identifiers, context, logger)


# ---------------------------------------------------------------------------------------------------------------------
# public resolution API
# ---------------------------------------------------------------------------------------------------------------------

def resolve_application_rules(parser: Optional[RulesParser], application_name: str,
                              default_starting_strategy: StartingStrategies, identifiers: List[str],
                              logger: Any) -> ApplicationRules:
    """ Rules of an application, computed once when the application is first known.

    Without a rules parser, the defaults are returned untouched (starting strategy CONFIG, stop_sequence unset),
    as upstream never post-processes rules in that case.
    """
    if parser is None:
        return ApplicationRules()
    rules = ApplicationRules(starting_strategy=default_starting_strategy)
    context = f'application={application_name}'
    entry = parser.find_application(application_name, logger)
    if entry is not None:
        rules.managed = True
        _apply_application_element(entry.element, rules, parser, identifiers, context, logger)
    # post-processing
    if rules.stop_sequence == UNSET_SEQUENCE:
        rules.stop_sequence = rules.start_sequence
    if rules.hash_identifiers:
        _resolve_application_hash(rules, application_name, identifiers, logger)
    return rules


def _resolve_application_hash(rules: ApplicationRules, application_name: str, identifiers: List[str],
                              logger: Any) -> None:
    """ '#' picks one identifier from the -N/_N suffix of the name; a failure only removes the auto-start. """
    ref = _hash_reference(rules, identifiers)
    match = APPLICATION_INDEX_REGEX.match(application_name)
    index = int(match.group(1)) if match else 0
    if index < 1 or not ref:
        logger.error(f'RulesParser: cannot apply "#" to application={application_name}'
                     ' (name ending with -N or _N, N >= 1, expected)')
        rules.start_sequence = 0
        return
    rules.identifiers = [ref[(index - 1) % len(ref)]]


def resolve_process_rules(parser: Optional[RulesParser], application_name: str, process_name: str,
                          application_rules: ApplicationRules,
                          process_index: Union[Optional[int], Callable[[], Optional[int]]],
                          autorestart: Optional[bool], identifiers: List[str],
                          logger: Any) -> Tuple[ProcessRules, bool]:
    """ Rules of a process, computed once when the process is first known.

    ``process_index`` is the 0-based position of the process in its program's process list in the local
    Supervisor configuration (None when unknown locally); ``autorestart`` is its local autorestart setting
    (None when unknown locally; Supervisor's non-boolean values count as not false). The returned flag tells the caller to force autorestart to false locally,
    because Supvisors handles the whole application on a running failure.
    """
    rules = ProcessRules(starting_failure_strategy=application_rules.starting_failure_strategy,
                         running_failure_strategy=application_rules.running_failure_strategy)
    if parser is None:
        return rules, False
    namespec = make_namespec(application_name, process_name)
    context = f'program={namespec}'
    entry = parser.find_application(application_name, logger)
    if entry is not None:
        program = parser.find_program(entry, process_name, logger)
        if program is not None:
            _load_program_element(program, MAX_REFERENCE_DEPTH, rules, parser, identifiers, context, logger)
    # post-processing, in this order
    if rules.required and rules.start_sequence == 0:
        logger.warn(f'RulesParser: required forced to False because no start_sequence defined{_in(context)}')
        rules.required = False
    if rules.stop_sequence == UNSET_SEQUENCE:
        rules.stop_sequence = rules.start_sequence
    force_autorestart = False
    if rules.running_failure_strategy in APPLICATION_RUNNING_FAILURES and autorestart not in (None, False):
        logger.warn(f'RulesParser: autorestart forced to False{_in(context)} because of'
                    f' running_failure_strategy={rules.running_failure_strategy.name}')
        force_autorestart = True
    if rules.hash_identifiers:
        ref = _hash_reference(rules, identifiers)
        if callable(process_index):
            process_index = process_index()  # looked up only when needed
        if process_index is None or not ref:
            logger.error(f'RulesParser: cannot apply "#" to unknown program={namespec}')
            rules.start_sequence = 0
        else:
            rules.identifiers = [ref[process_index % len(ref)]]
    return rules, force_autorestart
