"""Order management: the order lifecycle, id maps, positions. Never imports quickfix."""
