"""The shared vocabulary every other package builds on, importing nothing else of ours.

Events and their contract (:mod:`kernel.events`), scopes and alerts (:mod:`kernel.alerts`), one
closed window of one scope (:mod:`kernel.observation`), a detector's judgement
(:mod:`kernel.verdict`), settings (:mod:`kernel.settings`), durations, the clock and the error
hierarchy. Detectors, alerting, reconciliation and the banner build on it; the engine wires them;
Bytewax, the web apps, Prometheus and the CLI are adapters above.
"""
