"""Sphinx configuration of the Supvisors user documentation.

Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` (``pip install .[docs]`` first).
Pages are written in Markdown (MyST); every configuration or code snippet is included from a real file
(``docs/examples/`` or the shipped use case), that ``supvisors/tests/unit/test_docs.py`` checks.
"""

import os

DOCS_DIR = os.path.dirname(os.path.abspath(__file__))


def _read_version() -> str:
    """ The version of the package (supvisors/version.txt), as displayed by the plugin itself. """
    with open(os.path.join(DOCS_DIR, '..', 'supvisors', 'version.txt'), encoding='utf-8') as stream:
        for line in stream:
            key, _, value = line.partition('=')
            if key.strip() == 'version' and value.strip():
                return value.strip()
    raise RuntimeError('no version found in supvisors/version.txt')


project = 'Supvisors'
author = 'Supvisors contributors'
copyright = 'Supvisors contributors, Apache License 2.0'
version = _read_version()
release = version

extensions = ['myst_parser']
source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
root_doc = 'index'
exclude_patterns = ['_build', 'examples', 'Thumbs.db', '.DS_Store']

# explicit targets only ((label)= in the pages); headings also get anchors for links inside a page
myst_heading_anchors = 3

html_theme = 'alabaster'
html_title = f'Supvisors {version}'
html_theme_options = {
    'description': 'A control system for distributed applications, as a plugin of Supervisor',
    'fixed_sidebar': True,
    'page_width': '1280px',
    'sidebar_width': '240px',
    'body_max_width': 'none',
}
html_static_path = ['_static']
html_css_files = ['custom.css']
html_show_sourcelink = False
