"""Entry point of a SPARQL worker process: ``python -m kg.server._child FD`` (started by kg.server.worker)."""
import sys
from multiprocessing.connection import Connection

from kg.server.worker import _worker_main

if __name__ == "__main__":
    _worker_main(Connection(int(sys.argv[1])))
