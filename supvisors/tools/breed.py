"""supvisors_breed: duplicate the group definitions of a Supervisor configuration template.

A template folder holds Supervisor configuration files where ``[group:app]`` lists the programs of an
application. Breeding ``app=3`` replaces it with ``[group:app_01]``, ``[group:app_02]`` and ``[group:app_03]``
listing the same programs, so that one program definition serves several homogeneous applications (the rules file
then matches them by pattern). The template folder is not modified: the result is written to a destination folder.
"""

import argparse
import glob
import os
import sys
from configparser import ConfigParser
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

GROUP_PREFIX = 'group:'


class KeyValue(argparse.Action):
    """ Parse ``app=nb`` values into a dict; a new occurrence of the option replaces the previous one. """

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Sequence[str],
                 option_string: Optional[str] = None) -> None:
        breed: Dict[str, int] = {}
        for value in values:
            try:
                key, number = value.split('=')
            except ValueError:
                parser.error('breed format must be: key=value')
            try:
                count = int(number) if number.isdigit() else None
            except ValueError:  # digits that int() does not take (e.g. superscripts)
                count = None
            if count is None:
                parser.error('breed value must be an integer')
            if count < 1:
                parser.error('breed value must be strictly positive')
            breed[key] = count
        setattr(namespace, self.dest, breed)


def parse_args(args: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Duplicate the application definitions')

    def is_folder(arg: str) -> str:
        if not os.path.isdir(arg):
            parser.error(f'The folder "{arg}" does not exist')
        return arg

    parser.add_argument('-t', '--template', type=is_folder, required=True, help='the template folder')
    parser.add_argument('-p', '--pattern', type=str, default='**/*.ini',
                        help='the search pattern from the template folder')
    parser.add_argument('-d', '--destination', type=str, required=True, help='the destination folder')
    parser.add_argument('-b', '--breed', nargs='+', required=True, action=KeyValue, metavar='app=nb',
                        help='the applications to breed')
    parser.add_argument('-x', '--extra', action='store_true', help='create new files')
    parser.add_argument('-v', '--verbose', action='store_true', help='activate logs')
    return parser.parse_args(args)


def new_parser() -> ConfigParser:
    """ No interpolation: expressions like %(process_num)02d are Supervisor's, to be kept as they are. """
    return ConfigParser(interpolation=None)


def read_templates(filenames: List[str], verbose: bool) -> Tuple[Dict[str, ConfigParser], Dict[str, str]]:
    """ Parse the files (relative to the current folder) and locate the group sections. """
    if verbose:
        print('Configuration files found:')
        for filename in filenames:
            print(f'\t{filename}')
    config_files: Dict[str, ConfigParser] = {}
    for filename in filenames:
        config = new_parser()
        config.read(filename)
        config_files[filename] = config
    group_files = {section: filename for filename, config in config_files.items()
                   for section in config.sections() if section.startswith(GROUP_PREFIX)}
    if verbose:
        print('Template group elements found:')
        for section in group_files:
            print(f'\t{section}')
    return config_files, group_files


def breed_groups(breed: Dict[str, int], extra: bool, verbose: bool, config_files: Dict[str, ConfigParser],
                 group_files: Dict[str, str]) -> Dict[str, ConfigParser]:
    """ Replace each bred template group by its copies. Return the new files (with extra). """
    new_files: Dict[str, ConfigParser] = {}
    for app_name, count in breed.items():
        section = f'{GROUP_PREFIX}{app_name}'
        filename = group_files.get(section)
        if filename is None:
            continue
        config = config_files[filename]
        # only the list of programs makes a copy: the other group options (e.g. priority) are not carried over
        programs = config.get(section, 'programs', fallback='')
        for idx in range(1, count + 1):
            new_section = f'{section}_{idx:02d}'
            if extra:
                new_filename = os.path.join(os.path.dirname(filename), f'{new_section.replace(":", "_")}.ini')
                if verbose:
                    print(f'New File: {new_filename}')
                target = new_files.setdefault(new_filename, new_parser())
            else:
                target = config
            if verbose:
                print(f'New [{new_section}]')
            target.add_section(new_section)
            target.set(new_section, 'programs', programs)
        config.remove_section(section)
    return new_files


def write_files(destination: str, files: Iterable[Tuple[str, ConfigParser]], verbose: bool) -> None:
    """ Write the files that still have sections under destination, keeping their relative paths. """
    for filename, config in files:
        if not config.sections():
            if verbose:
                print(f'Empty sections for file: {filename}')
            continue
        path = os.path.join(destination, filename)
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if verbose:
            print(f'Writing file: {path}')
        with open(path, 'w') as stream:
            config.write(stream)


def main(args: Optional[List[str]] = None) -> None:
    options = parse_args(args)
    if options.verbose:
        print(f'ArgumentParser: {options}')
    cwd = os.getcwd()
    # the pattern and the relative paths written under destination are relative to the template folder
    os.chdir(options.template)
    try:
        filenames = glob.glob(options.pattern, recursive=True)
        if not filenames:
            print('No configuration files found')
            sys.exit(0)
        config_files, group_files = read_templates(filenames, options.verbose)
        new_files = breed_groups(options.breed, options.extra, options.verbose, config_files, group_files)
    finally:
        os.chdir(cwd)
    write_files(options.destination, [*config_files.items(), *new_files.items()], options.verbose)


if __name__ == '__main__':
    main()
