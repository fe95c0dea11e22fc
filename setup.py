"""Packaging of Supvisors; static metadata lives in setup.cfg, the version in supvisors/version.txt."""

import os
import sys

from setuptools import find_packages, setup

if sys.version_info < (3, 9):
    raise RuntimeError('Supvisors requires Python 3.9 or later')

HERE = os.path.abspath(os.path.dirname(__file__))


def read(*parts: str) -> str:
    with open(os.path.join(HERE, *parts), encoding='utf-8') as stream:
        return stream.read()


def read_version() -> str:
    """Single source of truth shared with the running plugin: 'version=X.Y' in supvisors/version.txt."""
    for line in read('supvisors', 'version.txt').splitlines():
        key, _, value = line.partition('=')
        if key.strip() == 'version' and value.strip():
            return value.strip()
    raise RuntimeError('no version found in supvisors/version.txt')


setup(version=read_version(),
      long_description=read('README.md') + '\n\n' + read('CHANGES.md'),
      long_description_content_type='text/markdown',
      packages=find_packages(exclude=['tools', 'tools.*', 'benchmarks', 'benchmarks.*', 'docs', 'docs.*']))
