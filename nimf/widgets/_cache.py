"""Shared by the viewers: a bounded cache of rendered PNGs (keyed by the full state that
drew them) and the layout of the image widgets."""

from collections import OrderedDict

__all__ = ["PNGCache"]


def _image_layout():
    """Layout of a PNG widget: natural size (a VBox would stretch it to its width), never wider
    than the page."""
    import ipywidgets

    return ipywidgets.Layout(align_self="flex-start", max_width="100%", height="auto")


class PNGCache:
    """Least-recently-used mapping of state -> PNG bytes.

    Parameters
    ----------
    max_items : int, default=256
        About 25 kB per map at the viewers' size: 256 maps hold ~6 MB.
    """

    def __init__(self, max_items=256):
        self.max_items = max_items
        self._items = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key, render):
        """The PNG of ``key``, drawn by ``render()`` on the first request."""
        if key in self._items:
            self.hits += 1
            self._items.move_to_end(key)
            return self._items[key]
        self.misses += 1
        png = render()
        self._items[key] = png
        if len(self._items) > self.max_items:
            self._items.popitem(last=False)
        return png

    def __len__(self):
        return len(self._items)

    def __contains__(self, key):
        return key in self._items

    def clear(self):
        self._items.clear()
