"""Tests of the statistics images of the web dashboard (interfaces 3.11, derived figures 4.4)."""

import math
import struct
import subprocess
import sys
from unittest.mock import MagicMock, patch

import pytest

from supvisors.web import plots
from supvisors.web.plots import IMAGE_NAMES, ImageBuffers, mean, regression, render_plot, stddev, y_range

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def png_size(image: bytes):
    """ Width and height read from the IHDR chunk, which always comes first. """
    assert image[:8] == PNG_SIGNATURE
    assert image[12:16] == b'IHDR'
    return struct.unpack('>II', image[16:24])


@pytest.fixture
def logger():
    return MagicMock()


def test_image_names():
    assert IMAGE_NAMES == ('process_cpu.png', 'process_mem.png', 'host_cpu.png', 'host_mem.png', 'host_io.png')


def test_import_is_lazy():
    """ Importing the module must not import matplotlib. """
    code = 'import sys, supvisors.web.plots; print("matplotlib" in sys.modules)'
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == 'False'


def test_derived_figures():
    values = [1.0, 2.0, 4.0, 5.0]
    assert mean(values) == 3.0
    assert stddev(values) == pytest.approx(math.sqrt(2.5))
    slope, intercept = regression(values)
    assert slope == pytest.approx(1.4)
    assert intercept == pytest.approx(0.9)
    # undefined for a single value
    assert stddev([3.0]) is None
    assert regression([3.0]) is None


@pytest.mark.parametrize('series, expected', [
    # [max(0, floor(min) - 0.1 R), ceil(max) + 0.35 R] with R = max(1, ceil(max) - floor(min))
    ([('a', [2.0, 30.0])], (0.0, 39.8)),
    ([('a', [10.5, 20.2])], (8.9, 24.85)),
    ([('a', [5.0, 5.0])], (4.9, 5.35)),
    ([('a', [0.0, 0.0])], (0.0, 0.35)),
    ([('a', [1.0, 2.0]), ('b', [50.0, 60.0])], (0.0, 80.65)),
    ([], (0.0, 0.35)),
])
def test_y_range(series, expected):
    low, high = y_range(series)
    assert low == pytest.approx(expected[0])
    assert high == pytest.approx(expected[1])


def check_png(image: bytes) -> None:
    """ A valid PNG no larger than the 6x3 in figure at 90 dpi (540x270) and not cropped to nothing. """
    width, height = png_size(image)
    assert 300 < width <= 6 * 90 + 10
    assert 150 < height <= 3 * 90 + 10
    assert image.endswith(b'IEND\xaeB`\x82')


def test_one_series(logger):
    image = render_plot([('CPU', [10.0, 20.0, 15.0, 30.0])], '%', logger)
    check_png(image)
    assert not logger.error.called


def test_several_series(logger):
    image = render_plot([('eth0 recv', [100.0, 200.0, 150.0]), ('eth0 sent', [10.0, 20.0, 5.0])], 'kbits/s', logger)
    check_png(image)
    assert not logger.error.called


def test_more_series_than_legend_positions(logger):
    series = [(f'CPU #{idx}', [float(idx), float(idx + 1)]) for idx in range(len(plots.LEGEND_LOCATIONS) + 2)]
    check_png(render_plot(series, '%', logger))


def test_constant_series(logger):
    """ A null deviation and a flat regression must not break the y range (R = max(1, ...)). """
    check_png(render_plot([('MEM', [12.0] * 10)], '%', logger))
    check_png(render_plot([('MEM', [0.0] * 10)], '%', logger))
    assert not logger.error.called


def test_single_value(logger):
    check_png(render_plot([('CPU', [42.0])], '%', logger))
    assert not logger.error.called


def test_single_value_artists(logger):
    """ No regression line nor deviation band for a single value (undefined): only data and mean lines. """
    from matplotlib.axes import Axes
    with patch.object(Axes, 'fill_between', autospec=True, side_effect=Axes.fill_between) as band, \
            patch.object(Axes, 'plot', autospec=True, side_effect=Axes.plot) as line:
        render_plot([('CPU', [42.0])], '%', logger)
        assert line.call_count == 1
        assert not band.called
        render_plot([('CPU', [42.0, 43.0])], '%', logger)
        assert line.call_count == 3
        assert band.call_count == 1


def test_mean_legend(logger):
    from matplotlib.axes import Axes
    labels, locations = [], []
    original = Axes.legend

    def record(axes, *args, **kwargs):
        labels.append([handle.get_label() for handle in kwargs['handles']])
        locations.append(kwargs['loc'])
        return original(axes, *args, **kwargs)

    with patch.object(Axes, 'legend', autospec=True, side_effect=record):
        render_plot([('eth0 recv', [1.0, 2.0]), ('eth0 sent', [3.0, 3.5])], 'kbits/s', logger)
    assert labels == [['eth0 recv', 'Mean: 1.50kbits/s'], ['eth0 sent', 'Mean: 3.25kbits/s']]
    # one legend per series at successive positions
    assert locations == list(plots.LEGEND_LOCATIONS[:2])


def test_y_limits_applied(logger):
    """ The y range of the saved figure is the one of the formula, not the automatic one. """
    from matplotlib.figure import Figure
    original = Figure.savefig
    limits = []

    def save(figure, *args, **kwargs):
        limits.append(tuple(float(limit) for limit in figure.axes[0].get_ylim()))
        return original(figure, *args, **kwargs)

    with patch.object(Figure, 'savefig', autospec=True, side_effect=save):
        check_png(render_plot([('CPU', [2.0, 30.0])], '%', logger))
    assert limits == [pytest.approx(y_range([('CPU', [2.0, 30.0])]))]


@pytest.mark.parametrize('series', [[], [('CPU', [])], [('recv', []), ('sent', [1.0, 2.0])]])
def test_empty_series(logger, series):
    check_png(render_plot(series, '%', logger))
    assert not logger.error.called


def test_save_error(logger):
    from matplotlib.figure import Figure
    with patch.object(Figure, 'savefig', side_effect=RuntimeError('cannot save')):
        assert render_plot([('CPU', [1.0, 2.0])], '%', logger) == b''
    assert logger.error.call_count == 1
    assert 'cannot save' in logger.error.call_args[0][0]


def test_missing_matplotlib(logger):
    """ Without matplotlib, rendering gives empty bytes and the problem is logged only once. """
    with patch.dict(sys.modules, {'matplotlib.figure': None, 'matplotlib.backends.backend_agg': None}), \
            patch.object(plots, '_missing_logged', False):
        assert render_plot([('CPU', [1.0])], '%', logger) == b''
        assert render_plot([('CPU', [1.0])], '%', logger) == b''
    assert logger.warn.call_count == 1


def test_matplotlib_available():
    assert plots.matplotlib_available()
    with patch('importlib.util.find_spec', return_value=None):
        assert not plots.matplotlib_available()


def test_deterministic(logger):
    series = [('eth0 recv', [10.0, 12.0, 15.0, 11.0, 30.0]), ('eth0 sent', [2.0, 3.0, 3.5, 4.0, 6.0])]
    assert render_plot(series, 'kbits/s', logger) == render_plot(series, 'kbits/s', logger)


def test_example_image(logger):
    """ Keep an example for visual check of colours and legends. """
    series = [('eth0 recv', [10.0, 12.0, 15.0, 11.0, 30.0, 25.0, 20.0, 22.0]),
              ('eth0 sent', [2.0, 3.0, 3.5, 4.0, 6.0, 5.0, 7.0, 9.0])]
    image = render_plot(series, 'kbits/s', logger)
    check_png(image)
    with open('/tmp/supvisors_plot_example.png', 'wb') as stream:
        stream.write(image)


def test_image_buffers(logger):
    buffers = ImageBuffers()
    assert all(buffers.get(name) == b'' for name in IMAGE_NAMES)
    buffers.set('host_cpu.png', b'data')
    assert buffers.get('host_cpu.png') == b'data'
    with pytest.raises(KeyError):
        buffers.get('unknown.png')
    with pytest.raises(KeyError):
        buffers.set('unknown.png', b'data')
    image = buffers.render('process_mem.png', [('MEM', [1.0, 2.0])], '%', logger)
    check_png(image)
    assert buffers.get('process_mem.png') == image
    # the last image generated is kept, even an empty one after an error
    from matplotlib.figure import Figure
    with patch.object(Figure, 'savefig', side_effect=RuntimeError('failure')):
        assert buffers.render('process_mem.png', [('MEM', [1.0, 2.0, 3.0])], '%', logger) == b''
    assert buffers.get('process_mem.png') == b''


def test_buffers_reuse_an_image_drawn_from_the_same_figures(monkeypatch):
    from supvisors.web import plots
    calls = []

    def fake_render(series, unit, logger):
        calls.append(series)
        return b'\x89PNG%d' % len(calls)
    monkeypatch.setattr(plots, 'render_plot', fake_render)
    buffers = plots.ImageBuffers()
    first = buffers.render(plots.HOST_MEM_IMAGE, [('MEM', [1.0, 2.0])], '%', None)
    assert buffers.render(plots.HOST_MEM_IMAGE, [('MEM', [1.0, 2.0])], '%', None) == first
    assert len(calls) == 1
    # new figures, or the same figures under another name, are drawn
    assert buffers.render(plots.HOST_MEM_IMAGE, [('MEM', [1.0, 2.0, 3.0])], '%', None) != first
    buffers.render(plots.PROCESS_MEM_IMAGE, [('MEM', [1.0, 2.0])], '%', None)
    assert len(calls) == 3
