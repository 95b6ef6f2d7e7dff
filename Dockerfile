# PayPulse in a container: the `paypulse` command, as docker-compose.yml runs it (`run`,
# `statuspage`, `simulate`, `dashboards export`). Build alone with: docker build -t paypulse:0.1.0 .
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY kernel/ kernel/
COPY engine/ engine/
COPY paypulse/ paypulse/
COPY dataflows/ dataflows/
COPY detectors/ detectors/
COPY alerting/ alerting/
COPY statuspage/ statuspage/
COPY dashboards/ dashboards/
COPY scenarios/ scenarios/

# State (alert log, outbox, banner store) goes to /var/lib/paypulse, a volume in the stack; the
# exported Grafana boards to /var/lib/paypulse-boards. Both belong to an unprivileged user, and a
# new named volume mounted there takes that ownership.
RUN pip install . \
 && useradd --system --uid 10001 --no-create-home paypulse \
 && mkdir -p /var/lib/paypulse /var/lib/paypulse-boards \
 && chown paypulse /var/lib/paypulse /var/lib/paypulse-boards

USER paypulse
WORKDIR /var/lib/paypulse
EXPOSE 8080 9464
ENTRYPOINT ["paypulse"]
CMD ["--help"]
