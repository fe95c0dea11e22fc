"""Statistics images of the web dashboard (interfaces 3.11, derived figures 4.4).

Rendering uses a standalone ``Figure`` attached to an Agg canvas, never pyplot: pyplot keeps global state and
may select an interactive backend, which is neither thread-safe nor usable inside supervisord.
matplotlib is imported only when an image is rendered, so that importing this module is free and works without it.
"""

import importlib.util
import math
import threading
from io import BytesIO
from typing import Any, Dict, List, Sequence, Tuple

from ..stats.figures import get_linear_regression, get_mean, get_stddev

Series = Tuple[str, List[float]]

# figure layout and colour code of 3.11
FIGURE_SIZE = (6, 3)
FIGURE_DPI = 90
BACKGROUND_COLOUR = '#052525'
TEXT_COLOUR = '#a0d5dd'
LEGEND_FRAME_COLOUR = '#203535'
BAND_ALPHA = 0.3
# successive legend positions (matplotlib location codes), one legend per series
LEGEND_LOCATIONS = ('upper right', 'upper left', 'lower left', 'lower right', 'center right', 'center left')

# names of the images served by the dashboard
PROCESS_CPU_IMAGE = 'process_cpu.png'
PROCESS_MEM_IMAGE = 'process_mem.png'
HOST_CPU_IMAGE = 'host_cpu.png'
HOST_MEM_IMAGE = 'host_mem.png'
HOST_IO_IMAGE = 'host_io.png'
IMAGE_NAMES = (PROCESS_CPU_IMAGE, PROCESS_MEM_IMAGE, HOST_CPU_IMAGE, HOST_MEM_IMAGE, HOST_IO_IMAGE)

# the missing matplotlib is reported once, not at every page render
_missing_logged = False


def matplotlib_available() -> bool:
    """ Tell whether images can be rendered, without paying the matplotlib import. """
    return importlib.util.find_spec('matplotlib') is not None


# the figures of 4.4 are shared with the statistics tables
mean = get_mean
stddev = get_stddev
regression = get_linear_regression


def y_range(series: Sequence[Series]) -> Tuple[float, float]:
    """ Y limits over all values: [max(0, floor(min) − 0.1·R), ceil(max) + 0.35·R].

    R = max(1, ceil(max) − floor(min)) so that a constant series still gets a visible range; the upper margin is
    larger to leave room for the legends; an empty plot behaves as a series of zeros.
    """
    values = [x for _, data in series for x in data]
    low, high = (math.floor(min(values)), math.ceil(max(values))) if values else (0, 0)
    span = max(1, high - low)
    return max(0.0, low - 0.1 * span), high + 0.35 * span


def render_plot(series: List[Series], unit: str, logger: Any) -> bytes:
    """ Return the PNG image of the series (title, values) with their mean, regression and deviation band.

    Errors give empty bytes and are logged, so that a page render never fails because of an image.
    """
    global _missing_logged
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        if not _missing_logged:
            _missing_logged = True
            logger.warn(f'render_plot: statistics images disabled as matplotlib cannot be imported: {exc}')
        return b''
    figure = Figure(figsize=FIGURE_SIZE, dpi=FIGURE_DPI, facecolor=BACKGROUND_COLOUR)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    _style_axes(axes)
    legends = []
    for idx, (title, values) in enumerate(series):
        if not values:
            continue
        # 'Cn' is the n-th colour of the default cycle, so one series keeps one colour for all its lines
        colour = f'C{idx % 10}'
        legends.append(_plot_series(axes, title, values, unit, colour, LEGEND_LOCATIONS[idx % len(LEGEND_LOCATIONS)]))
    # a new legend replaces the previous one unless the previous ones are kept as artists
    for legend in legends[:-1]:
        axes.add_artist(legend)
    axes.set_ylim(*y_range(series))
    buffer = BytesIO()
    try:
        figure.savefig(buffer, format='png', dpi=FIGURE_DPI, bbox_inches='tight',
                       facecolor=BACKGROUND_COLOUR, metadata={'Software': None})
    except RuntimeError as exc:
        logger.error(f'render_plot: cannot save the {unit} image: {exc}')
        return b''
    return buffer.getvalue()


def _style_axes(axes: Any) -> None:
    """ Apply the dashboard colour code locally, as changing rcParams would affect every other matplotlib user. """
    axes.set_facecolor(BACKGROUND_COLOUR)
    axes.tick_params(colors=TEXT_COLOUR, which='both')
    for spine in axes.spines.values():
        spine.set_color(TEXT_COLOUR)
    axes.xaxis.label.set_color(TEXT_COLOUR)
    axes.yaxis.label.set_color(TEXT_COLOUR)


def _plot_series(axes: Any, title: str, values: List[float], unit: str, colour: str, location: str) -> Any:
    """ Draw one series with its derived figures and return its legend (data line and mean line). """
    count = len(values)
    indexes = list(range(count))
    data_line, = axes.plot(indexes, values, color=colour, linestyle='-', label=title)
    avg = mean(values)
    mean_line = axes.axhline(avg, color=colour, linestyle='--', label=f'Mean: {avg:.2f}{unit}')
    line = regression(values)
    if line is not None:
        slope, intercept = line
        last = count - 1
        axes.plot([0, last], [intercept, slope * last + intercept], color=colour, linestyle=':')
        deviation = stddev(values)
        axes.fill_between([0, last], avg - deviation, avg + deviation, color=colour, alpha=BAND_ALPHA)
    return axes.legend(handles=[data_line, mean_line], loc=location, fontsize='small',
                       facecolor=LEGEND_FRAME_COLOUR, edgecolor=LEGEND_FRAME_COLOUR, labelcolor=TEXT_COLOUR)


class ImageBuffers:
    """ Last image generated for each dashboard image, shared by all browsers (3.11).

    Images are produced by page renders and read by the image endpoints, possibly from different threads,
    hence the lock; an image never generated is empty.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._images: Dict[str, bytes] = {name: b'' for name in IMAGE_NAMES}
        # what each image was drawn from: a page rendered again with the same figures reuses the image, which
        # spares supervisord's thread a matplotlib rendering at every live update
        self._sources: Dict[str, Any] = {}

    def get(self, name: str) -> bytes:
        """ Return the last image generated under this name (KeyError for an unknown name). """
        with self._lock:
            return self._images[name]

    def set(self, name: str, image: bytes) -> None:
        """ Store the image under a known name, an unknown name being a programming error. """
        if name not in self._images:
            raise KeyError(name)
        with self._lock:
            self._images[name] = image
            self._sources.pop(name, None)

    def render(self, name: str, series: List[Series], unit: str, logger: Any) -> bytes:
        """ Render the series and keep the result as the last image of this name (unless drawn already). """
        source = (unit, tuple((title, tuple(values)) for title, values in series))
        with self._lock:
            if self._sources.get(name) == source and self._images[name]:
                return self._images[name]
        image = render_plot(series, unit, logger)
        self.set(name, image)
        with self._lock:
            self._sources[name] = source
        return image
