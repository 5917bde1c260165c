"""A bounded cache of rendered PNGs, keyed by the full state that drew them."""

from collections import OrderedDict

__all__ = ["PNGCache"]


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
