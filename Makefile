.PHONY: demo test install bench check

demo:            ## install and run the demo: simulator, SQLite, local alert log
	scripts/install
	.venv/bin/paypulse demo

test:            ## install everything (Python packages, Prometheus, Chromium, Kafka) and run every test
	scripts/install-system
	scripts/install dev
	scripts/install-kafka
	scripts/test

check:
	scripts/check

bench:
	scripts/bench
