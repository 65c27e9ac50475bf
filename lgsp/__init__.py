"""The document-axis engine: one hub (a provincial LGSP or the national NDXP) per process.

Run it with ``python -m lgsp serve --hub-id lgsp-h56 --data DIR`` (the NDXP with
``python -m ndxp_mock serve``); build it with :func:`lgsp.app.create_app`. One folder per
concern, each with its own errors:

- ``api/``      the native REST API: one router per resource, dependencies, error envelope
- ``auth/``     DMS systems, bearer tokens, hub-to-hub request signatures
- ``intake/``   accepting packages from DMS systems (entry) and from hubs (transit)
- ``routing/``  the directory: local recipients, next hops, peer addresses
- ``delivery/`` forwarding to the next hub (outbox callback) and handing packages to DMSs
- ``store/``, ``outbox/``  persistence and the transactional outbox
- ``stats/``    counters, the rejection log, traces
- ``events.py`` the in-process event bus; ``settings.py`` the configuration

Layering: ``lgsp`` imports ``edoc``, ``keys`` and ``simtime`` — and, as one deliberate
exception, ``sim.topology``, which is pure data (who exists, which hub each agency is
attached to) and is the directory every hub routes by. Nothing else of ``sim`` is imported:
the orchestrator talks to hubs over HTTP only.
"""
