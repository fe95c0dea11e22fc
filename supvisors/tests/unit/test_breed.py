"""supvisors_breed (interfaces contract 5.1): options and their errors, duplication of the template groups, file
naming with -x, verbose output, and what is written to the destination folder."""

import os
from configparser import ConfigParser
from typing import Dict

import pytest

from supvisors.tools import breed
from supvisors.tools.breed import main

PROGRAMS_INI = """\
[program:server]
command = sleep 100
; a comment dropped by the parser
Autostart = false

[program:client]
command = echo %(process_num)02d
numprocs = 2
process_name = client_%(process_num)d
"""

APP_INI = """\
[group:app]
programs = server,client
priority = 5

[program:console]
command = sleep 10
"""

OTHER_INI = """\
[group:other]
programs=server
"""

TOOLS_INI = """\
[group:tools]
programs = console
"""


def write(path, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as stream:
        stream.write(text)


@pytest.fixture
def template(tmp_path, monkeypatch):
    """ tmp_path/template holds the files; the working directory is tmp_path (destinations are relative). """
    root = tmp_path / 'template'
    write(str(root / 'programs.ini'), PROGRAMS_INI)
    write(str(root / 'apps' / 'app.ini'), APP_INI)
    write(str(root / 'apps' / 'deep' / 'other.ini'), OTHER_INI)
    write(str(root / 'tools.conf'), TOOLS_INI)
    monkeypatch.chdir(tmp_path)
    return root


def read_tree(folder) -> Dict[str, str]:
    """ relative path -> content of every file under folder. """
    result = {}
    for dirpath, _, filenames in os.walk(folder):
        for filename in filenames:
            path = os.path.join(dirpath, filename)
            with open(path) as stream:
                result[os.path.relpath(path, folder)] = stream.read()
    return result


def parse(text: str) -> ConfigParser:
    config = ConfigParser(interpolation=None)
    config.read_string(text)
    return config


# ---------------------------------------------------------------------------------------------------------------------
# Options
# ---------------------------------------------------------------------------------------------------------------------

def parse_error(capsys, args) -> str:
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    return capsys.readouterr().err


def test_parser_description(capsys):
    with pytest.raises(SystemExit) as exc:
        main(['-h'])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert 'Duplicate the application definitions' in out
    for option in ('-t TEMPLATE, --template TEMPLATE', '-p PATTERN, --pattern PATTERN',
                   '-d DESTINATION, --destination DESTINATION', '-b app=nb [app=nb ...], --breed app=nb [app=nb ...]',
                   '-x, --extra', '-v, --verbose'):
        assert option in out


@pytest.mark.parametrize('missing', ['-t', '-d', '-b'])
def test_required_options(template, capsys, missing):
    args = {'-t': ['-t', 'template'], '-d': ['-d', 'out'], '-b': ['-b', 'app=1']}
    err = parse_error(capsys, [x for key, value in args.items() if key != missing for x in value])
    assert 'the following arguments are required' in err


def test_template_folder_must_exist(template, capsys):
    err = parse_error(capsys, ['-t', 'missing', '-d', 'out', '-b', 'app=1'])
    assert 'error: The folder "missing" does not exist' in err
    err = parse_error(capsys, ['-t', 'template/programs.ini', '-d', 'out', '-b', 'app=1'])
    assert 'error: The folder "template/programs.ini" does not exist' in err


@pytest.mark.parametrize('value, message', [('app', 'breed format must be: key=value'),
                                            ('app=1=2', 'breed format must be: key=value'),
                                            ('app=x', 'breed value must be an integer'),
                                            ('app=-1', 'breed value must be an integer'),
                                            ('app=1.5', 'breed value must be an integer'),
                                            ('app=', 'breed value must be an integer'),
                                            ('app=²', 'breed value must be an integer'),
                                            ('app=0', 'breed value must be strictly positive'),
                                            ('app=00', 'breed value must be strictly positive')])
def test_breed_errors(template, capsys, value, message):
    err = parse_error(capsys, ['-t', 'template', '-d', 'out', '-b', 'other=2', value])
    assert err.rstrip().endswith(f'error: {message}')
    assert not os.path.exists('out')


def test_options_parsed():
    options = breed.parse_args(['-t', '.', '-d', 'out', '-b', 'a=1', 'b=12'])
    assert options.template == '.' and options.destination == 'out'
    assert options.pattern == '**/*.ini'
    assert options.breed == {'a': 1, 'b': 12}
    assert options.extra is False and options.verbose is False
    options = breed.parse_args(['--template', '.', '--destination', 'out', '--breed', 'a=1', '--pattern', '*.conf',
                                '--extra', '--verbose'])
    assert options.pattern == '*.conf' and options.extra is True and options.verbose is True


def test_repeated_breed_keeps_last():
    options = breed.parse_args(['-t', '.', '-d', 'out', '-b', 'a=1', 'b=2', '-b', 'c=3'])
    assert options.breed == {'c': 3}


# ---------------------------------------------------------------------------------------------------------------------
# Duplication
# ---------------------------------------------------------------------------------------------------------------------

def test_breed_in_template_files(template, capsys):
    main(['-t', 'template', '-d', 'out', '-b', 'app=3', 'other=1', 'unknown=4'])
    assert capsys.readouterr().out == ''
    files = read_tree('out')
    # tools.conf does not match the default pattern; programs.ini is copied as parsed
    assert sorted(files) == ['apps/app.ini', 'apps/deep/other.ini', 'programs.ini']
    assert files['programs.ini'] == ('[program:server]\ncommand = sleep 100\nautostart = false\n\n'
                                     '[program:client]\ncommand = echo %(process_num)02d\nnumprocs = 2\n'
                                     'process_name = client_%(process_num)d\n\n')
    # the new groups are appended to the file of the template, with only the programs option
    assert files['apps/app.ini'] == ('[program:console]\ncommand = sleep 10\n\n'
                                     '[group:app_01]\nprograms = server,client\n\n'
                                     '[group:app_02]\nprograms = server,client\n\n'
                                     '[group:app_03]\nprograms = server,client\n\n')
    assert files['apps/deep/other.ini'] == '[group:other_01]\nprograms = server\n\n'
    # the template folder is untouched
    assert read_tree('template')['apps/app.ini'] == APP_INI


def test_breed_numbering_beyond_nine(template):
    main(['-t', 'template', '-d', 'out', '-b', 'other=12'])
    config = parse(read_tree('out')['apps/deep/other.ini'])
    assert config.sections() == [f'group:other_{idx:02d}' for idx in range(1, 13)]
    assert config.sections()[9:] == ['group:other_10', 'group:other_11', 'group:other_12']


def test_breed_order_of_arguments(template):
    (template / 'apps' / 'more.ini').write_text('[group:b]\nprograms=x\n[group:a]\nprograms=y\n')
    main(['-t', 'template', '-d', 'out', '-b', 'b=1', 'a=2'])
    assert parse(read_tree('out')['apps/more.ini']).sections() == ['group:b_01', 'group:a_01', 'group:a_02']


def test_breed_extra_files(template):
    main(['-t', 'template', '-d', 'out', '-b', 'app=2', 'other=1', '-x'])
    files = read_tree('out')
    # other.ini only held the template group: left without sections, it is not written
    assert sorted(files) == ['apps/app.ini', 'apps/deep/group_other_01.ini', 'apps/group_app_01.ini',
                             'apps/group_app_02.ini', 'programs.ini']
    assert files['apps/app.ini'] == '[program:console]\ncommand = sleep 10\n\n'
    assert files['apps/group_app_01.ini'] == '[group:app_01]\nprograms = server,client\n\n'
    assert files['apps/group_app_02.ini'] == '[group:app_02]\nprograms = server,client\n\n'
    assert files['apps/deep/group_other_01.ini'] == '[group:other_01]\nprograms = server\n\n'


def test_breed_extra_files_at_top_level(tmp_path, monkeypatch):
    write(str(tmp_path / 'tpl' / 'group.ini'), '[group:top]\nprograms = p\n')
    monkeypatch.chdir(tmp_path)
    main(['-t', 'tpl', '-d', 'dest', '-b', 'top=1', '-x'])
    assert read_tree('dest') == {'group_top_01.ini': '[group:top_01]\nprograms = p\n\n'}


def test_breed_pattern(template):
    main(['-t', 'template', '-p', '*.conf', '-d', 'out', '-b', 'tools=2'])
    assert read_tree('out') == {'tools.conf': '[group:tools_01]\nprograms = console\n\n'
                                              '[group:tools_02]\nprograms = console\n\n'}


def test_breed_nested_destination(template):
    main(['-t', 'template', '-d', 'a/b/c', '-b', 'app=1'])
    assert sorted(read_tree('a/b/c')) == ['apps/app.ini', 'apps/deep/other.ini', 'programs.ini']


def test_breed_absolute_folders(template, tmp_path, monkeypatch):
    monkeypatch.chdir('/')
    main(['-t', str(template), '-d', str(tmp_path / 'abs'), '-b', 'app=1'])
    assert 'group:app_01' in parse(read_tree(tmp_path / 'abs')['apps/app.ini']).sections()
    assert os.getcwd() == '/'


def test_working_directory_restored(template, tmp_path):
    main(['-t', 'template', '-d', 'out', '-b', 'app=1'])
    assert os.getcwd() == str(tmp_path)


def test_no_configuration_file(template, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(['-t', 'template', '-p', '*.txt', '-d', 'out', '-b', 'app=1'])
    assert exc.value.code == 0
    assert capsys.readouterr().out == 'No configuration files found\n'
    assert not os.path.exists('out')
    assert os.getcwd() == str(tmp_path)


# ---------------------------------------------------------------------------------------------------------------------
# Verbose output
# ---------------------------------------------------------------------------------------------------------------------

def test_verbose_output(template, capsys):
    main(['-t', 'template', '-d', 'out', '-b', 'app=2', '-v'])
    lines = capsys.readouterr().out.splitlines()
    namespace = breed.parse_args(['-t', 'template', '-d', 'out', '-b', 'app=2', '-v'])
    assert lines[0] == f'ArgumentParser: {namespace}'
    assert lines[0].startswith("ArgumentParser: Namespace(") and "breed={'app': 2}" in lines[0]
    files = lines[lines.index('Configuration files found:') + 1: lines.index('Template group elements found:')]
    assert sorted(files) == ['\tapps/app.ini', '\tapps/deep/other.ini', '\tprograms.ini']
    groups_start = lines.index('Template group elements found:') + 1
    groups = lines[groups_start: groups_start + 2]
    assert sorted(groups) == ['\tgroup:app', '\tgroup:other']
    rest = lines[groups_start + 2:]
    assert rest[:2] == ['New [group:app_01]', 'New [group:app_02]']
    # every file is written, in glob order
    assert sorted(rest[2:]) == ['Writing file: out/apps/app.ini', 'Writing file: out/apps/deep/other.ini',
                                'Writing file: out/programs.ini']
    assert [x[len('Writing file: out/'):] for x in rest[2:]] == [x[1:] for x in files]


def test_verbose_output_extra(template, capsys):
    main(['-t', 'template', '-d', 'out', '-b', 'other=2', '-x', '-v'])
    lines = capsys.readouterr().out.splitlines()
    start = lines.index('Template group elements found:') + 3
    new_lines = lines[start:start + 4]
    assert new_lines == ['New File: apps/deep/group_other_01.ini', 'New [group:other_01]',
                         'New File: apps/deep/group_other_02.ini', 'New [group:other_02]']
    end = lines[start + 4:]
    assert 'Empty sections for file: apps/deep/other.ini' in end
    writes = [x for x in end if x.startswith('Writing file: ')]
    # original files first (in glob order), then the new files in creation order
    assert writes[-2:] == ['Writing file: out/apps/deep/group_other_01.ini',
                           'Writing file: out/apps/deep/group_other_02.ini']
    assert sorted(writes[:-2]) == ['Writing file: out/apps/app.ini', 'Writing file: out/programs.ini']
    assert len(end) == 5


def test_verbose_output_without_groups(tmp_path, monkeypatch, capsys):
    write(str(tmp_path / 'tpl' / 'p.ini'), '[program:p]\ncommand = ls\n')
    monkeypatch.chdir(tmp_path)
    main(['-t', 'tpl', '-d', 'dest', '-b', 'p=1', '-v'])
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:] == ['Configuration files found:', '\tp.ini', 'Template group elements found:',
                         'Writing file: dest/p.ini']
