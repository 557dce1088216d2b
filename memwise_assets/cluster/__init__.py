"""memwise on a Celery cluster: routing by size class, a watched executor, a local cluster."""
