"""The book of record: PostgreSQL tables, migrations, and the single batching writer.

The OMS hands ``BookRecord`` values to :class:`book.writer.BookWriter`; the REST API and the
start-up recovery (:func:`book.writer.load_state`) read them back.
"""
