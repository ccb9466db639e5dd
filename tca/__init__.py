"""Transaction cost analysis: what every fill and order cost against the market, and a score per venue.

``tca.measures`` holds the formulas (pure, Decimal), ``tca.engine`` the state that turns the gateway's
events into those measures (pure, no I/O), ``tca.store`` and ``tca.service`` the process that reads the
event stream and keeps the results in PostgreSQL, ``tca.report`` the HTML report.
"""
