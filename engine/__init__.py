"""The engine: events in, windows, joins, tests and alert changes out, in event time.

Parsing and dedup, the stream-time guard, event-time windows, the payment/callback join (stuck
orders), heavy-hitter merchants and bounded channel names feed the detectors and the alert
lifecycle (:mod:`engine.core`); :mod:`engine.outputs` writes the results where they go and
:mod:`engine.sources` reads lines. It knows nothing of Bytewax, the web or the CLI, which wire it.
"""
