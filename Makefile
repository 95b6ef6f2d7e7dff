.PHONY: demo test install bench check up down

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

up:              ## the whole stack in Docker: Kafka, simulator, paypulse run, status page, Prometheus, Grafana
	docker compose up --build --detach
	@echo "status page http://localhost:8080/  Grafana http://localhost:3000/  Prometheus http://localhost:9090/"
	@echo "logs: docker compose logs -f paypulse; stop: make down"

down:            ## stop the stack (its volumes stay; docker compose down --volumes drops them too)
	docker compose down
