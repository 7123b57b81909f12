"""``custodywatch bench sweep``: throughput and alarm latency against offered load, and the
figure docs/img/ingest.png (run.py measures, plot.py draws)."""
