"""Benchmarks of the whole server (issue #7): ``custodywatch bench ingest|latency|scale|sweep``.

Each bench starts what it needs on this machine — a broker on a free port (Mosquitto when
installed, else the embedded amqtt broker), the real server as a subprocess with a
synthetic site (site.py), and load generators in their own processes (loadgen.py) — and
reads the server from the outside only: its Prometheus ``/metrics``, its WebSocket and
psutil.  Numbers are reported, never asserted (docs/benchmarks.md).
"""
