"""The environment a cluster's processes share: where the broker, the results and the outputs are.

Apart from `cluster.definitions` so that starting or stopping a cluster (`memwise cluster`)
never imports the whole asset graph.
"""

BROKER_ENV = "MEMWISE_BROKER_URL"
BACKEND_ENV = "MEMWISE_RESULT_BACKEND"
DATA_DIR_ENV = "MEMWISE_DATA_DIR"
