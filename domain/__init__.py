"""The domain of fixgate: commands, events, records and positions, as plain values.

Every other package depends on this one and it on none of them: ``oms`` and ``risk`` own the rules,
``gateway`` translates FIX to and from these values, ``book`` stores them. Never imports quickfix.
"""
