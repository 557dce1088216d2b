"""What tests in more than one folder share: builders of test data, fakes and test servers.

Tests import them from here, never from another test module or a conftest (test_layers
checks it). Helpers that only one folder's tests use stay beside them (`e2e/helpers.py`,
`cluster/client.py`, `reliability/toy_jobs.py`).

- `bars`: daily bar frames (ragged multi-symbol histories, one symbol on given dates);
- `compare`: computed columns against their references;
- `modules`: the package's modules by dotted name, read from the source tree;
- `clock`: a manual clock for pacing and retries; `company_replay`: recorded yfinance
  company responses replayed; `edgar_server`: a recorded EDGAR on 127.0.0.1;
- `hostile`: hostile filings made on the fly, and child-process targets that misbehave;
- `processes`: run a snippet fresh, wait for a file, see a process gone;
- `workers`: child-process targets for the memory tests, and a check for leftover children.
"""
