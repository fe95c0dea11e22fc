"""Rules files: schema, loading, typed rule objects and their resolution for applications and processes.

The component is pure Python and independent of supervisord: callers pass the instance identifiers and the
local Supervisor settings that the rules depend on.
"""

from supvisors.rules.model import (ALL_IDENTIFIERS, HASH_IDENTIFIER, UNSET_SEQUENCE, ApplicationRules,
                                   ProcessRules)
from supvisors.rules.parser import (ApplicationEntry, RulesParser, load_rules, resolve_application_rules,
                                    resolve_identifiers_text, resolve_process_rules, store_identifiers)

__all__ = ['ALL_IDENTIFIERS', 'HASH_IDENTIFIER', 'UNSET_SEQUENCE', 'ApplicationRules', 'ProcessRules',
           'ApplicationEntry', 'RulesParser', 'load_rules',
           'resolve_application_rules', 'resolve_process_rules', 'resolve_identifiers_text', 'store_identifiers']
