# The demo app plus a Docker HEALTHCHECK (used by the hc-unhealthy tag): the check passes for
# HC_FAIL_AFTER seconds (default 4) after start, then fails; HTTP GET /health keeps answering 200.
ARG BASE
FROM ${BASE}
COPY app.sh hc.sh /app/
ARG VERSION
ARG MODE=healthy
ENV DEMO_VERSION=${VERSION} DEMO_MODE=${MODE} PORT=8080
EXPOSE 8080
LABEL org.opencontainers.image.title="rollgate demo" rollgate.demo.mode="${MODE}" rollgate.demo.version="${VERSION}"
HEALTHCHECK --interval=1s --timeout=1s --retries=1 CMD ["/bin/sh", "/app/hc.sh"]
ENTRYPOINT ["/bin/sh", "/app/app.sh"]
