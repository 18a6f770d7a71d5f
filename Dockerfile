# wiflab's images, one target per app, each shipping only the packages it runs (from the
# repository root; BASE_IMAGE defaults to python:3.12-slim):
#
#   docker build --target=idp           -t wiflab-idp-server .      the fake OIDC IdP
#   docker build --target=protected-app -t wiflab-protected-app .   the protected "dump" service
#   docker build --target=google        -t wiflab-google-side .     Google's side (compose.yaml)
#
# Cloud Run's contract for the first two: listen on $PORT, log to stdout/stderr, stop on
# SIGTERM within 10 s (gunicorn's master forwards SIGTERM; idle workers exit at once).
# deploy/source_tag.py reads the COPY lines below: an image's tag changes exactly when
# what it ships does.
ARG BASE_IMAGE=python:3.12-slim

# Python, a venv (Debian's python3 refuses pip installs outside one), the user, and the
# dependencies every target needs: the requirements its extras in pyproject.toml
# (project.optional-dependencies) have in common. This layer is shared by every image and
# rebuilt only when pyproject.toml changes; each target adds the rest of its extra. pip is
# removed in the layer that installs it, so it lands in no image.
FROM ${BASE_IMAGE} AS base
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app
WORKDIR /app
COPY pyproject.toml /opt/wiflab/pyproject.toml
RUN python3 -c "import pathlib, tomllib; extras = tomllib.load(open('/opt/wiflab/pyproject.toml', 'rb'))['project']['optional-dependencies']; targets = ('idp', 'protected-app', 'google'); [pathlib.Path(f'/opt/wiflab/{t}.txt').write_text('\n'.join(extras[t])) for t in targets]; pathlib.Path('/opt/wiflab/common.txt').write_text('\n'.join(r for r in extras['idp'] if all(r in extras[t] for t in targets)))" \
 && python3 -m venv /opt/venv \
 && pip install --requirement /opt/wiflab/common.txt \
 && pip uninstall --yes pip setuptools \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin wiflab
ENV PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8080'), timeout=2)"]

# The fake OIDC IdP. Listening beyond loopback it refuses to start without IDP_TOKEN_SECRET
# (or IDP_ALLOW_PUBLIC_MINTING=1) and an issuer (IDP_ISSUER, or IDP_ISSUER_FROM_HOST=1); see
# idp_server/settings.py for every IDP_*.
FROM base AS idp
RUN python -m ensurepip --default-pip >/dev/null \
 && pip install --requirement /opt/wiflab/idp.txt \
 && pip uninstall --yes pip setuptools
COPY wiflab_core/ wiflab_core/
COPY idp_server/ idp_server/
RUN python -m compileall -q /app
USER 10001:10001
ENV IDP_BIND_HOST=0.0.0.0
# exec: gunicorn's master becomes PID 1 and receives SIGTERM itself.
CMD exec python -m idp_server --host "$IDP_BIND_HOST" --port "$PORT"

# The protected "dump" service. gunicorn listens on 0.0.0.0:$PORT (its default when PORT is
# set; GUNICORN_CMD_ARGS=--bind=127.0.0.1:$PORT keeps it on loopback). On Cloud Run K_SERVICE
# is set, so the app trusts the platform's token check; see protected_app/settings.py.
FROM base AS protected-app
RUN python -m ensurepip --default-pip >/dev/null \
 && pip install --requirement /opt/wiflab/protected-app.txt \
 && pip uninstall --yes pip setuptools
COPY wiflab_core/ wiflab_core/
COPY protected_app/ protected_app/
RUN python -m compileall -q /app
USER 10001:10001
# One worker with threads, as Cloud Run suggests; no request timeout (Cloud Run has its own);
# a graceful stop shorter than Cloud Run's 10 s.
CMD ["gunicorn", "--workers=1", "--threads=8", "--timeout=0", "--graceful-timeout=8", "--access-logfile=-", "protected_app.app:create_app()"]

# Google's side for an IdP and apps in other containers (deploy/google_side.py): the
# stand-in and a Cloud Run front end per service, in threads. Not for Cloud Run: it is what
# Cloud Run replaces. Its flags come from the command (compose.yaml's `google`). On Cloud Run
# as one shared stand-in (`wiflab deploy shared-google`) the service's command is
# `python -m deploy.shared_google` instead: the stand-in alone, under gunicorn on $PORT.
FROM base AS google
RUN python -m ensurepip --default-pip >/dev/null \
 && pip install --requirement /opt/wiflab/google.txt \
 && pip uninstall --yes pip setuptools
COPY wiflab_core/ wiflab_core/
COPY idp_server/ idp_server/
COPY protected_app/ protected_app/
COPY mock_gcp/ mock_gcp/
# The local AWS side (parts.py runs it when the topology has local.aws identities).
COPY aws_side/ aws_side/
COPY wiflab_lab/__init__.py wiflab_lab/credential_set.py wiflab_lab/launchers.py wiflab_lab/parts.py wiflab_lab/stack.py wiflab_lab/up.py wiflab_lab/
# The stack's intercept mode (run.app URLs in parts.py, the proxy in stack.py): stdlib and
# cryptography only.
COPY wiflab_lab/intercept/ wiflab_lab/intercept/
COPY wiflab_lab/explorer/__init__.py wiflab_lab/explorer/settings.py wiflab_lab/explorer/
COPY deploy/__init__.py deploy/errors.py deploy/google_side.py deploy/shared_google.py deploy/
RUN python -m compileall -q /app
USER 10001:10001
CMD ["python", "-m", "deploy.google_side", "--help"]
