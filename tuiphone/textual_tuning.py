"""Two costs Textual pays on every frame and every callback, taken off (bench/frontend_cpu.py: a ringing call's
UI CPU on an attached front-end).

1. A widget's lines are painted again from its StylesCache on every frame that covers it, and each time
   `StylesCache.render_widget` works out again what it passes down: the background through every ancestor,
   the opacity, the content region, the ANSI theme (~0.15 ms a widget; the idle screen has ~15, and a ringing
   call paints it whole when the prompt closes). The lines themselves come from the cache unless dirty. Here
   the strips a widget gave for a crop and size are kept until its cache is cleared or set dirty, which is
   exactly when Textual's own line cache would render them again (a refresh, a restyle, a resize, a theme);
   while a link in it is hovered it is rendered as Textual does.
2. `invoke` counts a callback's parameters with `inspect.signature` unless the callable remembers the count,
   and the partials Textual wraps every `call_next` and every Signal publish in are new each time, so each
   publish paid ~40 us for the signature of the same subscriber. Here a partial's count comes from its
   function's, remembered here per function (less one when bound); a partial of anything else is counted as before.

Both rely on private parts of Textual (`textual._styles_cache.StylesCache.render_widget`, `clear`,
`set_dirty`, `_dirty_lines`; `textual._callback.count_parameters`); tests/tui/test_textual_tuning.py fails
if they change.
"""

from __future__ import annotations

import inspect
import types
from functools import partial
from typing import Any
from weakref import WeakKeyDictionary

import textual._callback as _callback
from textual._styles_cache import StylesCache

_RENDER_WIDGET = StylesCache.render_widget
_CLEAR = StylesCache.clear
_SET_DIRTY = StylesCache.set_dirty
_COUNT_PARAMETERS = _callback.count_parameters
MEMO = "_tuiphone_drawn"        # on a StylesCache: (crop, size) -> the strips it gave
MEMO_CROPS = 4                  # crops kept per widget (whole, and the rows of partial frames)
_COUNTS: WeakKeyDictionary = WeakKeyDictionary()      # a function -> its parameters (self included)


def _render_widget(self: StylesCache, widget: Any, crop: Any) -> list:
    memo = self.__dict__.get(MEMO)
    key = (crop, widget._size)
    if memo is not None and not self._dirty_lines and not widget.hover_style._link_id:
        drawn = memo.get(key)
        if drawn is not None:
            return list(drawn)
    strips = _RENDER_WIDGET(self, widget, crop)
    if memo is None or len(memo) >= MEMO_CROPS:
        memo = self.__dict__[MEMO] = {}
    memo[key] = strips
    return list(strips)


def _clear(self: StylesCache) -> None:
    self.__dict__.pop(MEMO, None)
    _CLEAR(self)


def _set_dirty(self: StylesCache, *regions: Any) -> None:
    self.__dict__.pop(MEMO, None)
    _SET_DIRTY(self, *regions)


def _count_parameters(func: Any) -> int:
    if isinstance(func, partial):
        target: Any = func.func
        bound = inspect.ismethod(target)
        function = target.__func__ if bound else target
        if isinstance(function, types.FunctionType):
            # counted here, not in Textual's `_param_count` on the function: Textual keeps a bound method's count
            # there, and a bound method reads its function's, so a count kept for the plain function would be
            # one too many for the bound one
            count = _COUNTS.get(function)
            if count is None:
                count = _COUNTS[function] = _callback._count_parameters(function)
            return count - bound - len(func.args) - len(func.keywords)
    return _COUNT_PARAMETERS(func)


def tune_textual() -> None:
    """From now on every widget of this process repaints from what it drew and callbacks are counted once
    (idempotent)."""
    if StylesCache.render_widget is _RENDER_WIDGET:
        StylesCache.render_widget = _render_widget      # type: ignore[method-assign]
        StylesCache.clear = _clear                      # type: ignore[method-assign]
        StylesCache.set_dirty = _set_dirty              # type: ignore[method-assign]
    if _callback.count_parameters is _COUNT_PARAMETERS:
        _callback.count_parameters = _count_parameters
