# The image every lgsp-sim service runs from (docker-compose.yml): hubs, fleets, `lgsp-sim init`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# DejaVu Sans: the font the document PDFs embed (edoc/_pdf.py looks for the Debian path).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY edoc ./edoc
COPY keys ./keys
COPY simtime ./simtime
COPY lgsp ./lgsp
COPY ndxp_mock ./ndxp_mock
COPY agencies ./agencies
COPY sim ./sim
RUN pip install . && useradd --create-home --uid 1000 lgsp && mkdir /data && chown lgsp /data

USER lgsp
VOLUME ["/data"]
EXPOSE 8000
CMD ["lgsp-sim", "--help"]
