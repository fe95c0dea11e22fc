"""Candidates, load accounting and starting strategies (behaviour §5.4, XML-RPC contract §7.3)."""

import pytest

from supvisors.core.strategies import MAX_LOAD, LoadView, choose, restrict
from supvisors.ttypes import StartingStrategies

SS = StartingStrategies

ALL = ['s1', 's2', 's3', 's4']


def one_node_each(*identifiers):
    return {x: x for x in identifiers}


# ---------------------------------------------------------------------------------------------------- LoadView
def test_instance_load_is_running_plus_pending():
    view = LoadView(one_node_each('s1', 's2'), {'s1': 10}, {'s1': 5, 's2': 7})
    assert view.instance_load('s1') == 15
    assert view.instance_load('s2') == 7
    assert view.instance_load('unknown') == 0


def test_node_load_sums_the_instances_of_the_node():
    node_of = {'a1': 'A', 'a2': 'A', 'b1': 'B'}
    view = LoadView(node_of, {'a1': 10, 'a2': 20, 'b1': 5}, {'a2': 3})
    assert view.node_load('a1') == 33
    assert view.node_load('a2') == 33
    assert view.node_load('b1') == 5
    assert view.instance_load('a1') == 10 and view.instance_load('a2') == 23


def test_add_pending_accumulates_and_does_not_touch_the_given_dict():
    pending = {'s1': 5}
    view = LoadView(one_node_each('s1', 's2'), {}, pending)
    view.add_pending('s1', 10)
    view.add_pending('s2', 4)
    view.add_pending('s2', -4)
    assert view.instance_load('s1') == 15 and view.instance_load('s2') == 0
    assert pending == {'s1': 5}


def test_fits_up_to_100_percent_included():
    assert MAX_LOAD == 100
    view = LoadView(one_node_each('s1'), {'s1': 60}, {'s1': 10})
    assert view.fits('s1', 30)
    assert not view.fits('s1', 31)
    assert LoadView(one_node_each('s1'), {}).fits('s1', 100)
    assert not LoadView(one_node_each('s1'), {}).fits('s1', 101)


def test_admission_limit_is_on_the_node_not_on_the_instance():
    # a2 carries nothing itself, but its node is already at 90 % because of a1
    node_of = {'a1': 'A', 'a2': 'A', 'b1': 'B'}
    view = LoadView(node_of, {'a1': 90})
    assert not view.fits('a2', 20)
    assert view.fits('a2', 10)
    assert view.fits('b1', 20)
    # pending loads of the node count too
    view = LoadView(node_of, {'a1': 50}, {'a2': 40})
    assert not view.fits('a1', 11)
    assert view.fits('a1', 10)


# ---------------------------------------------------------------------------------------------------- restrict
def test_restrict_star_expands_in_supvisors_list_order():
    assert restrict(['*'], ALL, ['s3', 's1', 's4']) == ['s1', 's3', 's4']


def test_restrict_keeps_candidate_order():
    assert restrict(['s4', 's2', 's1'], ALL, ['s1', 's2', 's3', 's4']) == ['s4', 's2', 's1']
    assert restrict(['s4', 's2', 's1'], ALL, ['s1', 's4']) == ['s4', 's1']


def test_restrict_drops_unknown_and_disallowed():
    assert restrict(['s9', 's2'], ALL, ['s1', 's3']) == []
    assert restrict(['*'], ALL, []) == []
    assert restrict([], ALL, ALL) == []


# ---------------------------------------------------------------------------------------------------- choose
def test_no_valid_candidate_gives_none():
    view = LoadView(one_node_each('s1', 's2'), {'s1': 95, 's2': 99})
    for strategy in SS:
        assert choose(strategy, ['s1', 's2'], 10, view, 's1') is None
    assert choose(SS.CONFIG, [], 0, view, 's1') is None


def test_config_takes_the_first_valid_candidate():
    view = LoadView(one_node_each('s1', 's2', 's3'), {'s1': 95, 's2': 50, 's3': 0})
    assert choose(SS.CONFIG, ['s1', 's2', 's3'], 10, view, 's3') == 's2'
    assert choose(SS.CONFIG, ['s3', 's2', 's1'], 10, view, 's1') == 's3'


def test_local_is_the_local_instance_if_candidate_and_valid():
    view = LoadView(one_node_each('s1', 's2', 's3'), {'s1': 95})
    assert choose(SS.LOCAL, ['s1', 's2', 's3'], 5, view, 's2') == 's2'
    assert choose(SS.LOCAL, ['s1', 's3'], 5, view, 's2') is None  # not a candidate
    assert choose(SS.LOCAL, ['s1', 's2'], 10, view, 's1') is None  # not valid
    assert choose(SS.LOCAL, ['s1', 's2'], 5, view, 's1') == 's1'


def test_less_loaded_lowest_instance_load():
    view = LoadView(one_node_each('s1', 's2', 's3'), {'s1': 30, 's2': 10, 's3': 20})
    assert choose(SS.LESS_LOADED, ['s1', 's2', 's3'], 5, view, 's1') == 's2'


def test_most_loaded_highest_instance_load_among_valid():
    view = LoadView(one_node_each('s1', 's2', 's3'), {'s1': 30, 's2': 90, 's3': 20})
    assert choose(SS.MOST_LOADED, ['s1', 's2', 's3'], 5, view, 's1') == 's2'
    # s2 cannot take 20 more: the most loaded valid one
    assert choose(SS.MOST_LOADED, ['s1', 's2', 's3'], 20, view, 's1') == 's1'


def test_less_loaded_ties_go_to_candidate_order():
    view = LoadView(one_node_each('s1', 's2', 's3'), {'s1': 20, 's2': 10, 's3': 10})
    assert choose(SS.LESS_LOADED, ['s1', 's2', 's3'], 5, view, 's1') == 's2'
    assert choose(SS.LESS_LOADED, ['s3', 's2', 's1'], 5, view, 's1') == 's3'
    view = LoadView(one_node_each('s1', 's2'), {})
    assert choose(SS.LESS_LOADED, ['s2', 's1'], 5, view, 's1') == 's2'
    assert choose(SS.LESS_LOADED_NODE, ['s2', 's1'], 5, view, 's1') == 's2'


def test_most_loaded_ties_go_to_the_last_candidate():
    view = LoadView(one_node_each('s1', 's2', 's3'), {'s1': 20, 's2': 20, 's3': 10})
    assert choose(SS.MOST_LOADED, ['s1', 's2', 's3'], 5, view, 's3') == 's2'
    assert choose(SS.MOST_LOADED, ['s2', 's1', 's3'], 5, view, 's3') == 's1'
    view = LoadView(one_node_each('s1', 's2', 's3'), {})
    assert choose(SS.MOST_LOADED, ['s1', 's2', 's3'], 5, view, 's1') == 's3'
    assert choose(SS.MOST_LOADED_NODE, ['s3', 's2', 's1'], 5, view, 's3') == 's1'


def test_instance_ties_broken_by_node_load():
    # a1 and b1 carry 10 each, but node A also carries a2
    node_of = {'a1': 'A', 'a2': 'A', 'b1': 'B'}
    view = LoadView(node_of, {'a1': 10, 'a2': 30, 'b1': 10})
    assert choose(SS.LESS_LOADED, ['a1', 'b1'], 5, view, 'a1') == 'b1'
    assert choose(SS.MOST_LOADED, ['b1', 'a1'], 5, view, 'a1') == 'a1'


def test_node_strategies_sort_by_node_first():
    node_of = {'a1': 'A', 'a2': 'A', 'b1': 'B'}
    # instance loads: a1 5 < b1 20 ; node loads: A 35 > B 20
    view = LoadView(node_of, {'a1': 5, 'a2': 30, 'b1': 20})
    candidates = ['a1', 'b1']
    assert choose(SS.LESS_LOADED, candidates, 5, view, 'a1') == 'a1'
    assert choose(SS.LESS_LOADED_NODE, candidates, 5, view, 'a1') == 'b1'
    assert choose(SS.MOST_LOADED, candidates, 5, view, 'a1') == 'b1'
    assert choose(SS.MOST_LOADED_NODE, candidates, 5, view, 'a1') == 'a1'


def test_node_strategies_break_node_ties_by_instance_load():
    node_of = {'a1': 'A', 'a2': 'A', 'b1': 'B'}
    view = LoadView(node_of, {'a1': 10, 'a2': 20, 'b1': 40})
    # node A = 30 for both a1 and a2, B = 40
    assert choose(SS.LESS_LOADED_NODE, ['a2', 'a1', 'b1'], 5, view, 'a1') == 'a1'
    assert choose(SS.MOST_LOADED_NODE, ['a2', 'a1', 'b1'], 5, view, 'a1') == 'b1'
    assert choose(SS.MOST_LOADED_NODE, ['a2', 'a1'], 5, view, 'a1') == 'a2'


def test_one_instance_per_node_node_variants_equal_plain_ones():
    view = LoadView(one_node_each('s1', 's2', 's3', 's4'), {'s1': 40, 's2': 10, 's3': 70, 's4': 10})
    for plain, node in ((SS.LESS_LOADED, SS.LESS_LOADED_NODE), (SS.MOST_LOADED, SS.MOST_LOADED_NODE)):
        for load in (0, 25, 35, 65):
            assert choose(plain, ALL, load, view, 's1') == choose(node, ALL, load, view, 's1')


def test_pending_loads_count_in_the_choice():
    view = LoadView(one_node_each('s1', 's2'), {'s1': 10, 's2': 20})
    assert choose(SS.LESS_LOADED, ['s1', 's2'], 5, view, 's1') == 's1'
    view.add_pending('s1', 15)
    assert choose(SS.LESS_LOADED, ['s1', 's2'], 5, view, 's1') == 's2'
    assert choose(SS.MOST_LOADED, ['s1', 's2'], 5, view, 's1') == 's1'
    # and in the admission
    view.add_pending('s2', 70)
    assert choose(SS.LESS_LOADED, ['s1', 's2'], 20, view, 's1') == 's1'
    assert choose(SS.CONFIG, ['s2', 's1'], 20, view, 's1') == 's1'


def test_pending_node_load_counts_in_node_strategies():
    node_of = {'a1': 'A', 'a2': 'A', 'b1': 'B'}
    view = LoadView(node_of, {'b1': 10}, {'a2': 15})
    assert choose(SS.LESS_LOADED, ['a1', 'b1'], 5, view, 'a1') == 'a1'
    assert choose(SS.LESS_LOADED_NODE, ['a1', 'b1'], 5, view, 'a1') == 'b1'


def test_zero_load_always_fits_a_full_node():
    view = LoadView(one_node_each('s1'), {'s1': 100})
    assert choose(SS.CONFIG, ['s1'], 0, view, 's1') == 's1'
    assert choose(SS.CONFIG, ['s1'], 1, view, 's1') is None


@pytest.mark.parametrize('strategy', list(SS))
def test_only_valid_candidates_are_considered(strategy):
    view = LoadView(one_node_each('s1', 's2', 's3'), {'s1': 95, 's2': 20, 's3': 96})
    assert choose(strategy, ['s1', 's2', 's3'], 10, view, 's2') == 's2'
