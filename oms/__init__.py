"""Order management: the order and its lifecycle, the order manager (id maps, the lock, the hand-off), operators' controls, routing. Never imports quickfix, risk or book (``oms.ports``)."""
